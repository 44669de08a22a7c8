package main

import (
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

// apiCognitive is the Microsoft.CognitiveServices api-version the CLI
// speaks.
const apiCognitive = "2025-06-01"

// csAccountView is the table of AI services accounts.
func csAccountView() []field {
	return []field{
		at("Name", "name"), resourceGroupColumn(), at("Location", "location"),
		at("Kind", "kind"), at("ProvisioningState", "properties.provisioningState"),
	}
}

// newCognitiveServicesCommand is `perimeter cognitiveservices`, as
// `az cognitiveservices`: AI services accounts with their keys, network
// rules, model deployments and projects.
func newCognitiveServicesCommand() *cobra.Command {
	cmd := groupCommand("cognitiveservices", "Manage AI services (Cognitive Services) accounts")
	g := addGlobalFlags(cmd)
	account := groupCommand("account", "Manage AI services accounts")
	account.AddCommand(csAccountCreate(g), csAccountUpdate(g), csAccountShow(g), csAccountList(g), csAccountDelete(g),
		newCSKeysCommand(g), newCSNetworkRuleCommand(g), newCSDeploymentCommand(g), newCSProjectCommand(g))
	cmd.AddCommand(account)
	return cmd
}

// accountPath is the id of an account, followed by rest.
func (s *session) accountPath(group, name string, rest ...string) string {
	return s.subscriptionPath(append([]string{"resourceGroups", group, "providers", "Microsoft.CognitiveServices", "accounts", name}, rest...)...)
}

// accountFlags are -n/--name and -g/--resource-group, both required.
func accountFlags(cmd *cobra.Command, name, group *string) {
	cmd.Flags().StringVarP(name, "name", "n", "", "name of the AI services account")
	cmd.Flags().StringVarP(group, "resource-group", "g", "", "name of the resource group")
	required(cmd, "name", "resource-group")
}

// csAccountSettings are the flags that create and update share.
type csAccountSettings struct {
	sku, customDomain, publicNetworkAccess string
	defaultAction, bypass                  string
	disableLocalAuth, allowProjects        bool
	tags                                   []string
}

func (o *csAccountSettings) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.sku, "sku", "", "SKU name, e.g. S0 (also --sku-name)")
	f.StringVar(&o.customDomain, "custom-domain", "", "custom subdomain: the account's endpoint is https://SUBDOMAIN.cognitiveservices.<base domain>/")
	f.StringArrayVar(&o.tags, "tags", nil, `space-separated tags: key[=value] [key[=value] ...]; "" clears them`)
	f.StringVar(&o.publicNetworkAccess, "public-network-access", "", "Enabled or Disabled: whether the account is reachable other than through private endpoints")
	f.BoolVar(&o.disableLocalAuth, "disable-local-auth", false, "refuse the account's keys: only Microsoft Entra tokens authenticate (--disable-local-auth=false allows keys again)")
	f.BoolVar(&o.allowProjects, "allow-project-management", false,
		"allow projects in the account (kind AIServices only; also --manage-projects; =false to turn off)")
	f.StringVar(&o.defaultAction, "default-action", "", "network rules' default action: Deny allows only the listed networks, Allow every network")
	f.StringVar(&o.bypass, "bypass", "", "network rules' exception for trusted Azure services: AzureServices or None")
	flagAliases(cmd, map[string]string{"sku-name": "sku", "manage-projects": "allow-project-management"})
}

// parse checks the settings' values before anything is sent.
func (o *csAccountSettings) parse(cmd *cobra.Command, args []string) error {
	if err := trailingValues(cmd, args, map[string]*[]string{"tags": &o.tags}); err != nil {
		return err
	}
	var err error
	if o.publicNetworkAccess != "" {
		if o.publicNetworkAccess, err = choice("--public-network-access", o.publicNetworkAccess, "Enabled", "Disabled"); err != nil {
			return err
		}
	}
	if o.defaultAction != "" {
		if o.defaultAction, err = choice("--default-action", o.defaultAction, "Allow", "Deny"); err != nil {
			return err
		}
	}
	if o.bypass != "" {
		if o.bypass, err = choice("--bypass", o.bypass, "AzureServices", "None"); err != nil {
			return err
		}
	}
	return nil
}

// apply puts the settings given on the command line into an account body
// (PUT or PATCH).
func (o *csAccountSettings) apply(cmd *cobra.Command, body map[string]any) error {
	props, _ := body["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		body["properties"] = props
	}
	changed := cmd.Flags().Changed
	if o.sku != "" {
		body["sku"] = map[string]any{"name": o.sku}
	}
	if changed("tags") {
		t, err := keyValues("--tags", o.tags, true)
		if err != nil {
			return err
		}
		body["tags"] = t
	}
	if o.customDomain != "" {
		props["customSubDomainName"] = o.customDomain
	}
	if o.publicNetworkAccess != "" {
		props["publicNetworkAccess"] = o.publicNetworkAccess
	}
	if changed("disable-local-auth") {
		props["disableLocalAuth"] = o.disableLocalAuth
	}
	if changed("allow-project-management") {
		props["allowProjectManagement"] = o.allowProjects
	}
	if o.defaultAction != "" || o.bypass != "" {
		acls := map[string]any{}
		if o.defaultAction != "" {
			acls["defaultAction"] = o.defaultAction
		}
		if o.bypass != "" {
			acls["bypass"] = o.bypass
		}
		props["networkAcls"] = acls
	}
	return nil
}

func csAccountCreate(g *globals) *cobra.Command {
	var name, group, location, kind string
	var assignIdentity, yes bool
	var o csAccountSettings
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an AI services account",
		Long: `Create an AI services account, as 'az cognitiveservices account create' does.
Kinds AIServices (a Foundry resource) and OpenAI are served by Perimeter's
gateway and need --custom-domain; their SKU is S0. As in az, projects are
allowed by default in AIServices accounts (--allow-project-management=false
turns that off).

Beyond az's flags, --public-network-access, --disable-local-auth,
--default-action and --bypass set the account's network access at creation.
--yes is accepted for compatibility: Perimeter has no terms to confirm.`,
		Example: `  perimeter cognitiveservices account create -g demo -n ai1 -l eastus --kind AIServices --sku S0 \
      --custom-domain ai1-demo --assign-identity`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.parse(cmd, args); err != nil {
				return err
			}
			body := map[string]any{"location": location, "kind": kind}
			if assignIdentity {
				body["identity"] = map[string]any{"type": "SystemAssigned"}
			}
			if err := o.apply(cmd, body); err != nil {
				return err
			}
			if !cmd.Flags().Changed("allow-project-management") && strings.EqualFold(kind, "AIServices") {
				body["properties"].(map[string]any)["allowProjectManagement"] = true // az's default
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			resp, err := s.doJSON(cmd.Context(), http.MethodPut, s.accountPath(group, name), apiCognitive, body, false)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, csAccountView())
		},
	}
	accountFlags(cmd, &name, &group)
	f := cmd.Flags()
	f.StringVarP(&location, "location", "l", "", "location, e.g. eastus")
	f.StringVar(&kind, "kind", "", "kind of account: AIServices, OpenAI, CognitiveServices, ...")
	f.BoolVar(&assignIdentity, "assign-identity", false, "give the account a system-assigned managed identity")
	f.BoolVar(&yes, "yes", false, "accepted for compatibility with az (there are no terms to confirm)")
	o.flags(cmd)
	required(cmd, "location", "kind", "sku")
	return cmd
}

func csAccountUpdate(g *globals) *cobra.Command {
	var name, group, kind string
	var o csAccountSettings
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Update an AI services account",
		Long: `Update an AI services account with a PATCH of the settings given, as
'az cognitiveservices account update' does; the others stay as they are.
--kind AIServices upgrades an OpenAI account to a Foundry resource.
--default-action and --bypass change the network rule set's defaults and
keep its rules.`,
		Example: `  perimeter cognitiveservices account update -g demo -n ai1 --default-action Deny --public-network-access Enabled`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.parse(cmd, args); err != nil {
				return err
			}
			var err error
			if kind != "" {
				if kind, err = choice("--kind", kind, "AIServices", "OpenAI"); err != nil {
					return err
				}
			}
			body := map[string]any{}
			if kind != "" {
				body["kind"] = kind
			}
			if err := o.apply(cmd, body); err != nil {
				return err
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			resp, err := s.doJSON(cmd.Context(), http.MethodPatch, s.accountPath(group, name), apiCognitive, body, false)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, csAccountView())
		},
	}
	accountFlags(cmd, &name, &group)
	cmd.Flags().StringVar(&kind, "kind", "", "AIServices to upgrade an OpenAI account to a Foundry resource")
	o.flags(cmd)
	return cmd
}

func csAccountShow(g *globals) *cobra.Command {
	var name, group string
	cmd := showCommand(g, "Show an AI services account", apiCognitive,
		func(s *session) string { return s.accountPath(group, name) }, csAccountView())
	accountFlags(cmd, &name, &group)
	return cmd
}

func csAccountList(g *globals) *cobra.Command {
	var group string
	cmd := listCommand(g, "List AI services accounts, of one resource group with -g", apiCognitive,
		func(s *session) string { return s.typePath(group, "Microsoft.CognitiveServices", "accounts") }, csAccountView())
	groupFilterFlag(cmd, &group)
	return cmd
}

func csAccountDelete(g *globals) *cobra.Command {
	var name, group string
	cmd := deleteCommand(g, "Delete an AI services account with its keys, deployments and projects", "", apiCognitive,
		askFirst|offerNoWait, func(s *session) string { return s.accountPath(group, name) })
	accountFlags(cmd, &name, &group)
	return cmd
}
