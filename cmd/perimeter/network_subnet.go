package main

import (
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

// subnetView is the table of subnets.
func subnetView() []field {
	return []field{
		at("Name", "name"),
		{"AddressPrefix", func(it any) any {
			if p := stringAt(it, "properties.addressPrefix"); p != "" {
				return p
			}
			return joinedAt("", "properties.addressPrefixes", "").value(it)
		}},
		joinedAt("ServiceEndpoints", "properties.serviceEndpoints", "service"),
	}
}

// newSubnetCommand is `network vnet subnet`.
func newSubnetCommand(g *globals) *cobra.Command {
	cmd := groupCommand("subnet", "Manage subnets of a virtual network")
	cmd.AddCommand(subnetCreate(g), subnetUpdate(g), subnetShow(g), subnetList(g), subnetDelete(g))
	return cmd
}

// subnetOptions are the flags that name a subnet and those that set its
// properties.
type subnetOptions struct {
	name, vnet, group  string
	prefixes           []string
	serviceEndpoints   []string
	privateEndpointPol string
	privateLinkPol     string
}

// nameFlags are -n/--name, --vnet-name and -g/--resource-group, all
// required.
func (o *subnetOptions) nameFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.name, "name", "n", "", "name of the subnet")
	f.StringVar(&o.vnet, "vnet-name", "", "name of the virtual network")
	f.StringVarP(&o.group, "resource-group", "g", "", "name of the resource group")
	required(cmd, "name", "vnet-name", "resource-group")
}

// propertyFlags are the flags of subnet create and update.
func (o *subnetOptions) propertyFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVar(&o.prefixes, "address-prefixes", nil, "space-separated address prefixes of the subnet, in CIDR notation")
	f.StringSliceVar(&o.serviceEndpoints, "service-endpoints", nil,
		`space-separated services to give service endpoints, e.g. Microsoft.CognitiveServices; "" removes them`)
	f.StringVar(&o.privateEndpointPol, "private-endpoint-network-policies", "",
		"network policies for private endpoints: Disabled, Enabled, NetworkSecurityGroupEnabled or RouteTableEnabled")
	f.StringVar(&o.privateLinkPol, "private-link-service-network-policies", "", "network policies for private link services: Enabled or Disabled")
}

// parse reads the list flags (az's space-separated values included) and
// checks the enum flags.
func (o *subnetOptions) parse(cmd *cobra.Command, args []string) error {
	if err := trailingValues(cmd, args, map[string]*[]string{"address-prefixes": &o.prefixes, "service-endpoints": &o.serviceEndpoints}); err != nil {
		return err
	}
	o.prefixes = listValues(o.prefixes)
	o.serviceEndpoints = listValues(o.serviceEndpoints)
	if cmd.Flags().Changed("address-prefixes") && len(o.prefixes) == 0 {
		return usageErrorf("argument --address-prefixes: expected at least one address prefix")
	}
	var err error
	if o.privateEndpointPol != "" {
		if o.privateEndpointPol, err = choice("--private-endpoint-network-policies", o.privateEndpointPol,
			"Disabled", "Enabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled"); err != nil {
			return err
		}
	}
	if o.privateLinkPol != "" {
		if o.privateLinkPol, err = choice("--private-link-service-network-policies", o.privateLinkPol, "Enabled", "Disabled"); err != nil {
			return err
		}
	}
	return nil
}

// apply sets the properties the flags give. Service endpoints that stay
// keep their locations.
func (o *subnetOptions) apply(cmd *cobra.Command, props map[string]any) {
	if len(o.prefixes) > 0 {
		subnetPrefixProperties(props, o.prefixes)
	}
	if cmd.Flags().Changed("service-endpoints") {
		old, _ := props["serviceEndpoints"].([]any)
		endpoints := make([]any, 0, len(o.serviceEndpoints))
		for _, service := range o.serviceEndpoints {
			se := map[string]any{"service": service}
			for _, e := range old {
				if strings.EqualFold(stringAt(e, "service"), service) {
					if locs, ok := lookup(e, "locations").([]any); ok {
						se["locations"] = locs
					}
				}
			}
			endpoints = append(endpoints, se)
		}
		props["serviceEndpoints"] = endpoints
	}
	if o.privateEndpointPol != "" {
		props["privateEndpointNetworkPolicies"] = o.privateEndpointPol
	}
	if o.privateLinkPol != "" {
		props["privateLinkServiceNetworkPolicies"] = o.privateLinkPol
	}
}

func (o *subnetOptions) what() string { return "subnet '" + o.name + "'" }

func subnetCreate(g *globals) *cobra.Command {
	var o subnetOptions
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a subnet in a virtual network",
		Long: `Create a subnet, or replace it if it exists, as 'az network vnet subnet create'
does. Its range must lie in the network's address space and not overlap
another subnet. A subnet whose traffic is to reach an AI services account
through a virtual network rule needs the Microsoft.CognitiveServices service
endpoint.

A range that overlaps 172.17.0.0/16, the default bridge network of Docker,
is accepted with a warning.`,
		Example: `  perimeter network vnet subnet create -g demo --vnet-name vnet1 -n apps \
      --address-prefixes 10.10.1.0/24 --service-endpoints Microsoft.CognitiveServices`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.parse(cmd, args); err != nil {
				return err
			}
			props := map[string]any{}
			o.apply(cmd, props)
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			warnDockerBridge(cmd, o.what(), o.prefixes)
			resp, err := s.doJSON(cmd.Context(), http.MethodPut, s.vnetPath(o.group, o.vnet, "subnets", o.name), apiNetwork, map[string]any{"properties": props}, false)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, subnetView())
		},
	}
	o.nameFlags(cmd)
	o.propertyFlags(cmd)
	required(cmd, "address-prefixes")
	return cmd
}

func subnetUpdate(g *globals) *cobra.Command {
	var o subnetOptions
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Update a subnet's range, service endpoints or network policies",
		Long: `Update a subnet, as 'az network vnet subnet update' does: read it, change what
the flags say and write it back. The write is conditional on the subnet
being unchanged since it was read; after a concurrent change it is read and
applied again. --service-endpoints replaces the list.`,
		Example: `  perimeter network vnet subnet update -g demo --vnet-name vnet1 -n apps --service-endpoints Microsoft.CognitiveServices`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.parse(cmd, args); err != nil {
				return err
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			warnDockerBridge(cmd, o.what(), o.prefixes)
			resp, err := s.updateWithETag(cmd.Context(), http.MethodPut, s.vnetPath(o.group, o.vnet, "subnets", o.name), apiNetwork, func(res map[string]any) (any, error) {
				props, _ := res["properties"].(map[string]any)
				if props == nil {
					props = map[string]any{}
					res["properties"] = props
				}
				o.apply(cmd, props)
				return res, nil
			}, false)
			if err != nil {
				return err
			}
			return g.printViewBody(cmd, resp.body, subnetView())
		},
	}
	o.nameFlags(cmd)
	o.propertyFlags(cmd)
	return cmd
}

func subnetShow(g *globals) *cobra.Command {
	var o subnetOptions
	cmd := showCommand(g, "Show a subnet", apiNetwork,
		func(s *session) string { return s.vnetPath(o.group, o.vnet, "subnets", o.name) }, subnetView())
	o.nameFlags(cmd)
	return cmd
}

func subnetList(g *globals) *cobra.Command {
	var vnet, group string
	cmd := listCommand(g, "List the subnets of a virtual network", apiNetwork,
		func(s *session) string { return s.vnetPath(group, vnet, "subnets") }, subnetView())
	cmd.Flags().StringVar(&vnet, "vnet-name", "", "name of the virtual network")
	cmd.Flags().StringVarP(&group, "resource-group", "g", "", "name of the resource group")
	required(cmd, "vnet-name", "resource-group")
	return cmd
}

func subnetDelete(g *globals) *cobra.Command {
	var o subnetOptions
	cmd := deleteCommand(g, "Delete a subnet",
		`Delete a subnet, as 'az network vnet subnet delete' does (without asking). The
server refuses while the subnet is in use, for example by an account's
network rule.`, apiNetwork,
		offerNoWait, func(s *session) string { return s.vnetPath(o.group, o.vnet, "subnets", o.name) })
	o.nameFlags(cmd)
	return cmd
}
