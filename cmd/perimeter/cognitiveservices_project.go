package main

import (
	"net/http"

	"github.com/spf13/cobra"
)

// csProjectView is the table of projects.
func csProjectView() []field {
	return []field{
		at("Name", "name"), resourceGroupColumn(), at("Location", "location"),
		at("IsDefault", "properties.isDefault"), at("ProvisioningState", "properties.provisioningState"),
	}
}

// newCSProjectCommand is `cognitiveservices account project`: Foundry
// projects of an account that allows them (allowProjectManagement).
func newCSProjectCommand(g *globals) *cobra.Command {
	cmd := groupCommand("project", "Manage the projects of an AI services (Foundry) account")
	cmd.AddCommand(csProjectCreate(g), csProjectShow(g), csProjectList(g), csProjectDelete(g))
	return cmd
}

// projectFlags are the account's -n/--name and -g/--resource-group and
// --project-name, all required.
func projectFlags(cmd *cobra.Command, account, group, name *string) {
	accountFlags(cmd, account, group)
	cmd.Flags().StringVar(name, "project-name", "", "name of the project")
	required(cmd, "project-name")
}

func csProjectCreate(g *globals) *cobra.Command {
	var account, group, name, location, displayName, description string
	var assignIdentity, noWait bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a project in an account",
		Long: `Create a project in an AI services account that allows projects, or update
it if it exists, as 'az cognitiveservices account project create' does. As
in az, the project gets a system-assigned managed identity
(--assign-identity is accepted and changes nothing). A project is in its
account's location: --location defaults to it.`,
		Example: `  perimeter cognitiveservices account project create -g demo -n ai1 --project-name team-a --display-name "Team A"`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			props := map[string]any{}
			if displayName != "" {
				props["displayName"] = displayName
			}
			if description != "" {
				props["description"] = description
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			if location == "" {
				resp, err := s.client.get(cmd.Context(), s.accountPath(group, account), apiVersion(apiCognitive))
				if err != nil {
					return err
				}
				v, err := decodeValue(resp.body)
				if err != nil {
					return err
				}
				location = stringAt(v, "location")
			}
			body := map[string]any{"location": location, "identity": map[string]any{"type": "SystemAssigned"}, "properties": props}
			resp, err := s.doJSON(cmd.Context(), http.MethodPut, s.accountPath(group, account, "projects", name), apiCognitive, body, noWait)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, csProjectView())
		},
	}
	projectFlags(cmd, &account, &group, &name)
	f := cmd.Flags()
	f.StringVarP(&location, "location", "l", "", "location; defaults to the account's (the only one allowed)")
	f.StringVar(&displayName, "display-name", "", "display name of the project")
	f.StringVar(&description, "description", "", "description of the project")
	f.BoolVar(&assignIdentity, "assign-identity", false, "accepted for compatibility with az: the project always gets a system-assigned identity (also --include-system-identity)")
	f.BoolVar(&noWait, "no-wait", false, "do not wait for the project to be provisioned")
	flagAliases(cmd, map[string]string{"include-system-identity": "assign-identity"})
	return cmd
}

func csProjectShow(g *globals) *cobra.Command {
	var account, group, name string
	cmd := showCommand(g, "Show a project", apiCognitive,
		func(s *session) string { return s.accountPath(group, account, "projects", name) }, csProjectView())
	projectFlags(cmd, &account, &group, &name)
	return cmd
}

func csProjectList(g *globals) *cobra.Command {
	var account, group string
	cmd := listCommand(g, "List the projects of an account", apiCognitive,
		func(s *session) string { return s.accountPath(group, account, "projects") }, csProjectView())
	accountFlags(cmd, &account, &group)
	return cmd
}

func csProjectDelete(g *globals) *cobra.Command {
	var account, group, name string
	cmd := deleteCommand(g, "Delete a project",
		"Delete a project, as 'az cognitiveservices account project delete' does (without asking).", apiCognitive,
		offerNoWait, func(s *session) string { return s.accountPath(group, account, "projects", name) })
	projectFlags(cmd, &account, &group, &name)
	return cmd
}
