package main

import (
	"maps"
	"net/http"

	"github.com/spf13/cobra"
)

// apiNetwork is the Microsoft.Network api-version the CLI speaks.
const apiNetwork = "2025-09-01"

// vnetView is the table of virtual networks.
func vnetView() []field {
	return []field{
		at("Name", "name"), resourceGroupColumn(), at("Location", "location"),
		joinedAt("AddressPrefixes", "properties.addressSpace.addressPrefixes", ""),
	}
}

// newNetworkCommand is `perimeter network`, as `az network`: virtual
// networks and their subnets.
func newNetworkCommand() *cobra.Command {
	cmd := groupCommand("network", "Manage virtual networks and subnets")
	g := addGlobalFlags(cmd)
	vnet := groupCommand("vnet", "Manage virtual networks")
	vnet.AddCommand(vnetCreate(g), vnetUpdate(g), vnetShow(g), vnetList(g), vnetDelete(g), newSubnetCommand(g))
	cmd.AddCommand(vnet)
	return cmd
}

// vnetPath is the id of a virtual network, followed by rest.
func (s *session) vnetPath(group, name string, rest ...string) string {
	return s.subscriptionPath(append([]string{"resourceGroups", group, "providers", "Microsoft.Network", "virtualNetworks", name}, rest...)...)
}

// vnetFlags are -n/--name and -g/--resource-group, both required.
func vnetFlags(cmd *cobra.Command, name, group *string) {
	cmd.Flags().StringVarP(name, "name", "n", "", "name of the virtual network")
	cmd.Flags().StringVarP(group, "resource-group", "g", "", "name of the resource group")
	required(cmd, "name", "resource-group")
}

// groupLocation is the location of a resource group: where az creates a
// resource when --location is not given.
func (s *session) groupLocation(cmd *cobra.Command, group string) (string, error) {
	resp, err := s.client.get(cmd.Context(), s.groupPath(group), apiVersion(apiResources))
	if err != nil {
		return "", err
	}
	v, err := decodeValue(resp.body)
	if err != nil {
		return "", err
	}
	return stringAt(v, "location"), nil
}

// subnetPrefixProperties sets a subnet's address range: addressPrefix for
// one prefix, addressPrefixes for several, as az does.
func subnetPrefixProperties(props map[string]any, prefixes []string) {
	delete(props, "addressPrefix")
	delete(props, "addressPrefixes")
	if len(prefixes) == 1 {
		props["addressPrefix"] = prefixes[0]
	} else {
		props["addressPrefixes"] = prefixes
	}
}

func vnetCreate(g *globals) *cobra.Command {
	var name, group, location, subnetName string
	var prefixes, subnetPrefixes, dnsServers, tags []string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a virtual network, optionally with one subnet",
		Long: `Create a virtual network, or replace it if it exists, as 'az network vnet
create' does. The location defaults to the resource group's, the address
space to 10.0.0.0/16 and, with --subnet-name, the subnet's range to
10.0.0.0/24.

A PUT defines the whole network: replacing an existing network keeps only
the subnet given here. Use 'network vnet update' to change an existing one.

A range that overlaps 172.17.0.0/16, the default bridge network of Docker,
is accepted with a warning.`,
		Example: `  perimeter network vnet create -g demo -n vnet1 --address-prefixes 10.10.0.0/16 \
      --subnet-name apps --subnet-prefixes 10.10.1.0/24`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := trailingValues(cmd, args, map[string]*[]string{
				"address-prefixes": &prefixes, "subnet-prefixes": &subnetPrefixes, "dns-servers": &dnsServers, "tags": &tags,
			}); err != nil {
				return err
			}
			prefixes = listValues(prefixes)
			if len(prefixes) == 0 {
				return usageErrorf("argument --address-prefixes: expected at least one address prefix")
			}
			subnetPrefixes = listValues(subnetPrefixes)
			if cmd.Flags().Changed("subnet-prefixes") && subnetName == "" {
				return usageErrorf("usage error: --subnet-prefixes needs --subnet-name")
			}
			if subnetName != "" && len(subnetPrefixes) == 0 {
				subnetPrefixes = []string{"10.0.0.0/24"}
			}
			props := map[string]any{"addressSpace": map[string]any{"addressPrefixes": prefixes}, "subnets": []any{}}
			if servers := listValues(dnsServers); len(servers) > 0 {
				props["dhcpOptions"] = map[string]any{"dnsServers": servers}
			}
			if subnetName != "" {
				sp := map[string]any{}
				subnetPrefixProperties(sp, subnetPrefixes)
				props["subnets"] = []any{map[string]any{"name": subnetName, "properties": sp}}
			}
			body := map[string]any{"properties": props}
			if cmd.Flags().Changed("tags") {
				t, err := keyValues("--tags", tags, true)
				if err != nil {
					return err
				}
				body["tags"] = t
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			if location == "" {
				if location, err = s.groupLocation(cmd, group); err != nil {
					return err
				}
			}
			body["location"] = location
			warnDockerBridge(cmd, "virtual network '"+name+"'", prefixes)
			if subnetName != "" {
				warnDockerBridge(cmd, "subnet '"+subnetName+"'", subnetPrefixes)
			}
			resp, err := s.doJSON(cmd.Context(), http.MethodPut, s.vnetPath(group, name), apiNetwork, body, false)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, vnetView())
		},
	}
	vnetFlags(cmd, &name, &group)
	f := cmd.Flags()
	f.StringVarP(&location, "location", "l", "", "location; defaults to the resource group's")
	f.StringSliceVar(&prefixes, "address-prefixes", []string{"10.0.0.0/16"}, "space-separated address prefixes of the address space, in CIDR notation")
	f.StringVar(&subnetName, "subnet-name", "", "name of a subnet to create with the network")
	f.StringSliceVar(&subnetPrefixes, "subnet-prefixes", nil, "space-separated address prefixes of the subnet (default 10.0.0.0/24)")
	f.StringSliceVar(&dnsServers, "dns-servers", nil, "space-separated IP addresses of DNS servers")
	f.StringArrayVar(&tags, "tags", nil, `space-separated tags: key[=value] [key[=value] ...]; "" clears them`)
	return cmd
}

func vnetUpdate(g *globals) *cobra.Command {
	var name, group string
	var prefixes, dnsServers, tags []string
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Update a virtual network's address space, DNS servers or tags",
		Long: `Update a virtual network, as 'az network vnet update' does: read it, change
what the flags say and write it back whole, with its subnets. The write is
conditional on the network being unchanged since it was read; after a
concurrent change it is read and applied again.`,
		Example: `  perimeter network vnet update -g demo -n vnet1 --address-prefixes 10.10.0.0/16 10.20.0.0/16`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := trailingValues(cmd, args, map[string]*[]string{
				"address-prefixes": &prefixes, "dns-servers": &dnsServers, "tags": &tags,
			}); err != nil {
				return err
			}
			prefixes = listValues(prefixes)
			if cmd.Flags().Changed("address-prefixes") && len(prefixes) == 0 {
				return usageErrorf("argument --address-prefixes: expected at least one address prefix")
			}
			var newTags map[string]string
			if cmd.Flags().Changed("tags") {
				t, err := keyValues("--tags", tags, true)
				if err != nil {
					return err
				}
				newTags = t
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			warnDockerBridge(cmd, "virtual network '"+name+"'", prefixes)
			resp, err := s.updateWithETag(cmd.Context(), http.MethodPut, s.vnetPath(group, name), apiNetwork, func(res map[string]any) (any, error) {
				props, _ := res["properties"].(map[string]any)
				if props == nil {
					props = map[string]any{}
					res["properties"] = props
				}
				if len(prefixes) > 0 {
					props["addressSpace"] = map[string]any{"addressPrefixes": prefixes}
				}
				if cmd.Flags().Changed("dns-servers") {
					if servers := listValues(dnsServers); len(servers) > 0 {
						props["dhcpOptions"] = map[string]any{"dnsServers": servers}
					} else {
						delete(props, "dhcpOptions")
					}
				}
				if newTags != nil {
					res["tags"] = maps.Clone(newTags)
				}
				return res, nil
			}, false)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, vnetView())
		},
	}
	vnetFlags(cmd, &name, &group)
	f := cmd.Flags()
	f.StringSliceVar(&prefixes, "address-prefixes", nil, "space-separated address prefixes of the address space, replacing the current ones")
	f.StringSliceVar(&dnsServers, "dns-servers", nil, `space-separated IP addresses of DNS servers; "" removes them`)
	f.StringArrayVar(&tags, "tags", nil, `space-separated tags: key[=value] [key[=value] ...]; "" clears them`)
	return cmd
}

func vnetShow(g *globals) *cobra.Command {
	var name, group string
	cmd := showCommand(g, "Show a virtual network", apiNetwork,
		func(s *session) string { return s.vnetPath(group, name) }, vnetView())
	vnetFlags(cmd, &name, &group)
	return cmd
}

func vnetList(g *globals) *cobra.Command {
	var group string
	cmd := listCommand(g, "List virtual networks, of one resource group with -g", apiNetwork,
		func(s *session) string { return s.typePath(group, "Microsoft.Network", "virtualNetworks") }, vnetView())
	groupFilterFlag(cmd, &group)
	return cmd
}

func vnetDelete(g *globals) *cobra.Command {
	var name, group string
	cmd := deleteCommand(g, "Delete a virtual network and its subnets",
		`Delete a virtual network and its subnets, as 'az network vnet delete' does
(without asking). The server refuses while a subnet is in use, for example
by an account's network rule.`, apiNetwork,
		offerNoWait, func(s *session) string { return s.vnetPath(group, name) })
	vnetFlags(cmd, &name, &group)
	return cmd
}
