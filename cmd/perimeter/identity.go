package main

import (
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

// apiMSI is the Microsoft.ManagedIdentity api-version the CLI speaks (the
// one az and armmsi send).
const apiMSI = "2023-01-31"

// identityView is the table of user-assigned identities.
func identityView() []field {
	return []field{
		at("Name", "name"), resourceGroupColumn(), at("Location", "location"),
		at("ClientId", "properties.clientId"), at("PrincipalId", "properties.principalId"),
	}
}

// bindingView is the table of workload bindings.
func bindingView() []field {
	return []field{at("Id", "id"), at("CreatedAt", "createdAt"), at("CreatedBy", "createdBy")}
}

// newIdentityCommand is `perimeter identity`, as `az identity`:
// user-assigned managed identities, and the workload bindings through
// which a process gets tokens as one (token-env).
func newIdentityCommand() *cobra.Command {
	cmd := groupCommand("identity", "Manage user-assigned managed identities and their workload bindings")
	g := addGlobalFlags(cmd)
	binding := groupCommand("binding", "List and revoke the workload bindings of an identity")
	binding.AddCommand(identityBindingList(g), identityBindingRevoke(g))
	cmd.AddCommand(identityCreate(g), identityShow(g), identityList(g), identityDelete(g), identityTokenEnv(g), binding)
	return cmd
}

// identityPath is the id of a user-assigned identity, followed by rest.
func (s *session) identityPath(group, name string, rest ...string) string {
	return s.subscriptionPath(append([]string{"resourceGroups", group, "providers", "Microsoft.ManagedIdentity", "userAssignedIdentities", name}, rest...)...)
}

// identityFlags are -n/--name and -g/--resource-group, both required.
func identityFlags(cmd *cobra.Command, name, group *string) {
	cmd.Flags().StringVarP(name, "name", "n", "", "name of the identity")
	cmd.Flags().StringVarP(group, "resource-group", "g", "", "name of the resource group")
	required(cmd, "name", "resource-group")
}

func identityCreate(g *globals) *cobra.Command {
	var name, group, location string
	var tags []string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a user-assigned managed identity, or update its tags",
		Long: `Create a user-assigned managed identity, as 'az identity create' does. Its
principalId (the object id role assignments name) and clientId are made by
the server. Without --location it takes its resource group's.`,
		Example: "  perimeter identity create -g demo -n batch-jobs",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := trailingValues(cmd, args, map[string]*[]string{"tags": &tags}); err != nil {
				return err
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			if location == "" {
				resp, err := s.client.get(cmd.Context(), s.groupPath(group), apiVersion(apiResources))
				if err != nil {
					return err
				}
				location = stringAt(decodeOrNil(resp.body), "location")
			}
			body := map[string]any{"location": location}
			if cmd.Flags().Changed("tags") {
				t, err := keyValues("--tags", tags, true)
				if err != nil {
					return err
				}
				body["tags"] = t
			}
			resp, err := s.doJSON(cmd.Context(), http.MethodPut, s.identityPath(group, name), apiMSI, body, false)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, identityView())
		},
	}
	identityFlags(cmd, &name, &group)
	f := cmd.Flags()
	f.StringVarP(&location, "location", "l", "", "location, e.g. eastus (default: the resource group's)")
	f.StringArrayVar(&tags, "tags", nil, `space-separated tags: key[=value] [key[=value] ...]; "" clears them`)
	return cmd
}

// decodeOrNil decodes a JSON answer, nil when it is not JSON.
func decodeOrNil(body []byte) any {
	v, err := decodeValue(body)
	if err != nil {
		return nil
	}
	return v
}

func identityShow(g *globals) *cobra.Command {
	var name, group string
	cmd := showCommand(g, "Show a user-assigned managed identity", apiMSI,
		func(s *session) string { return s.identityPath(group, name) }, identityView())
	identityFlags(cmd, &name, &group)
	return cmd
}

func identityList(g *globals) *cobra.Command {
	var group string
	cmd := listCommand(g, "List user-assigned managed identities, of one resource group with -g", apiMSI,
		func(s *session) string {
			return s.typePath(group, "Microsoft.ManagedIdentity", "userAssignedIdentities")
		}, identityView())
	groupFilterFlag(cmd, &group)
	return cmd
}

func identityDelete(g *globals) *cobra.Command {
	var name, group string
	cmd := deleteCommand(g, "Delete a user-assigned managed identity with its principal and workload bindings",
		`Delete a user-assigned managed identity, as 'az identity delete' does (without
a prompt). Its principal and workload bindings go with it; role assignments
naming it stay, as in Azure, and so do the entries of resources that list it.`, apiMSI,
		0, func(s *session) string { return s.identityPath(group, name) })
	identityFlags(cmd, &name, &group)
	return cmd
}

// bindingTarget is the resource whose identity a binding command acts on:
// a user-assigned identity (--name), or an account's system-assigned
// identity (--account).
type bindingTarget struct{ name, account, group string }

func (b *bindingTarget) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&b.name, "name", "n", "", "name of the user-assigned identity")
	f.StringVar(&b.account, "account", "", "name of an AI services account, to bind its system-assigned identity instead")
	f.StringVarP(&b.group, "resource-group", "g", "", "name of the resource group")
	required(cmd, "resource-group")
}

// path returns the action's path and api-version.
func (b *bindingTarget) path(s *session, action string) (string, string, error) {
	switch {
	case (b.name == "") == (b.account == ""):
		return "", "", usageErrorf("name exactly one identity: --name/-n for a user-assigned identity, or --account for an account's system-assigned identity")
	case b.account != "":
		return s.accountPath(b.group, b.account, action), apiCognitive, nil
	}
	return s.identityPath(b.group, b.name, action), apiMSI, nil
}

func identityTokenEnv(g *globals) *cobra.Command {
	var target bindingTarget
	cmd := &cobra.Command{
		Use:   "token-env",
		Short: "Bind an identity to a workload and print its IDENTITY_ENDPOINT and IDENTITY_HEADER",
		Long: `Create a workload binding of a managed identity and print the two environment
variables with which a process gets tokens as that identity, the way Azure
App Service gives them to its apps: azidentity.ManagedIdentityCredential
(and DefaultAzureCredential) and the other Azure SDKs use them as they are.

IDENTITY_HEADER is a secret: it is shown only now, and gets tokens for this
identity only. 'perimeter identity binding revoke' ends it. Creating a
binding needs Microsoft.ManagedIdentity/userAssignedIdentities/assign/action
on the identity (for an account's system-assigned identity, the account's
write). The endpoint is HTTPS with Perimeter's CA: the workload must trust
it (for Go programs on Linux, SSL_CERT_FILE=<data dir>/ca.pem).

Without -o, prints the lines NAME=VALUE; with -o, the binding as that
format.`,
		Example: `  perimeter identity token-env -g demo -n batch-jobs > batch.env
  export $(perimeter identity token-env -g demo --account ai1)`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			path, api, err := target.path(s, "createWorkloadBinding")
			if err != nil {
				return err
			}
			resp, err := s.doJSON(cmd.Context(), http.MethodPost, path, api, nil, false)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("output") {
				return g.printViewBody(cmd, resp.body, bindingView())
			}
			v := decodeOrNil(resp.body)
			endpoint, header := stringAt(v, "identityEndpoint"), stringAt(v, "identityHeader")
			if endpoint == "" || header == "" {
				return fmt.Errorf("the server's answer has no identityEndpoint or identityHeader: %s", resp.body)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "IDENTITY_ENDPOINT=%s\nIDENTITY_HEADER=%s\n", endpoint, header)
			return err
		},
	}
	target.flags(cmd)
	return cmd
}

func identityBindingList(g *globals) *cobra.Command {
	var target bindingTarget
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the workload bindings of an identity (without their secrets)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			path, api, err := target.path(s, "listWorkloadBindings")
			if err != nil {
				return err
			}
			resp, err := s.doJSON(cmd.Context(), http.MethodPost, path, api, nil, false)
			if err != nil {
				return err
			}
			items, _ := lookup(decodeOrNil(resp.body), "value").([]any)
			if items == nil {
				items = []any{}
			}
			return g.printView(cmd, items, bindingView())
		},
	}
	target.flags(cmd)
	return cmd
}

func identityBindingRevoke(g *globals) *cobra.Command {
	var target bindingTarget
	var id string
	cmd := &cobra.Command{
		Use:   "revoke",
		Short: "Revoke a workload binding: its IDENTITY_HEADER stops working at once",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			path, api, err := target.path(s, "revokeWorkloadBinding")
			if err != nil {
				return err
			}
			_, err = s.doJSON(cmd.Context(), http.MethodPost, path, api, map[string]string{"id": id}, false)
			return err
		},
	}
	target.flags(cmd)
	cmd.Flags().StringVar(&id, "id", "", "id of the binding (binding list shows them)")
	required(cmd, "id")
	return cmd
}
