package main

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/spf13/cobra"
)

// groupView is the table of resource groups, as az shows them.
func groupView() []field {
	return []field{at("Name", "name"), at("Location", "location"), at("Status", "properties.provisioningState")}
}

func newGroupCommand() *cobra.Command {
	cmd := groupCommand("group", "Manage resource groups")
	g := addGlobalFlags(cmd)
	cmd.AddCommand(groupCreate(g), groupList(g), groupShow(g), groupExists(g), groupDelete(g))
	return cmd
}

func (s *session) groupPath(name string) string { return s.subscriptionPath("resourceGroups", name) }

func groupCreate(g *globals) *cobra.Command {
	var name, location string
	var tags []string
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create a resource group, or update it if it exists",
		Example: "  perimeter group create -n demo -l eastus --tags env=dev team=ai",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := trailingValues(cmd, args, map[string]*[]string{"tags": &tags}); err != nil {
				return err
			}
			body := map[string]any{"location": location}
			if cmd.Flags().Changed("tags") {
				t, err := keyValues("--tags", tags, true)
				if err != nil {
					return err
				}
				body["tags"] = t
			}
			raw, err := json.Marshal(body)
			if err != nil {
				return err
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			resp, err := s.client.do(cmd.Context(), &request{method: http.MethodPut, url: s.groupPath(name), query: apiVersion(apiResources), body: raw}, false)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, groupView())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&name, "name", "n", "", "name of the resource group")
	f.StringVarP(&location, "location", "l", "", "location, e.g. eastus")
	f.StringArrayVar(&tags, "tags", nil, `space-separated tags: key[=value] [key[=value] ...]; "" clears them`)
	required(cmd, "name", "location")
	return cmd
}

func groupList(g *globals) *cobra.Command {
	var top int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the resource groups of the subscription (all pages)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := apiVersion(apiResources)
			if cmd.Flags().Changed("query-top") {
				if top < 1 {
					return usageErrorf("argument --query-top: must be a positive integer")
				}
				q.Set("$top", strconv.Itoa(top))
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			items, err := s.client.list(cmd.Context(), s.subscriptionPath("resourceGroups"), q)
			if err != nil {
				return err
			}
			return g.printView(cmd, items, groupView())
		},
	}
	cmd.Flags().IntVar(&top, "query-top", 0, "page size ($top) to ask the server for; every page is still listed")
	return cmd
}

func groupShow(g *globals) *cobra.Command {
	var name string
	cmd := showCommand(g, "Show a resource group", apiResources,
		func(s *session) string { return s.groupPath(name) }, groupView())
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the resource group")
	required(cmd, "name")
	return cmd
}

func groupExists(g *globals) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "exists",
		Short: "Print true if the resource group exists, false if not",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			resp, err := s.client.send(cmd.Context(), &request{method: http.MethodHead, url: s.groupPath(name), query: apiVersion(apiResources)})
			if err != nil {
				return err
			}
			if resp.status == http.StatusNotFound {
				return g.print(cmd, false, nil)
			}
			if ae := errorOf(resp); ae != nil {
				return ae
			}
			return g.print(cmd, true, nil)
		},
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the resource group")
	required(cmd, "name")
	return cmd
}

func groupDelete(g *globals) *cobra.Command {
	var name string
	cmd := deleteCommand(g, "Delete a resource group and everything in it", "", apiResources,
		askFirst|offerNoWait, func(s *session) string { return s.groupPath(name) })
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the resource group")
	required(cmd, "name")
	return cmd
}
