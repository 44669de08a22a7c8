package network

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// virtualNetworks is Microsoft.Network/virtualNetworks. A PUT defines the
// whole network, subnets included: properties.subnets is the complete set,
// and the subnets' own documents are created, updated and deleted in the
// same atomic write as the network (omitting a subnet deletes it, as in
// Azure).
type virtualNetworks struct{ srv *arm.Server }

func (*virtualNetworks) Spec() arm.Spec {
	return arm.Spec{
		Type:        TypeVirtualNetworks,
		APIVersions: APIVersions(),
		ParentType:  arm.TypeResourceGroup,
		ListUnder:   []string{arm.TypeSubscription},
		Location:    arm.LocationRequired,
		Tracked:     true,
		BodyETag:    true,
		// As in Azure, a network whose subnet is in use reports the subnet.
		InUseCode: InUseSubnetCode,
		Name: arm.NameRule(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}[A-Za-z0-9_]$`,
			"Virtual network names are 2 to 64 characters: letters, digits, underscores, periods and hyphens, starting with a letter or digit and ending with a letter, digit or underscore."),
	}
}

// subnetNameRule checks subnet names, in a path or in properties.subnets.
func subnetNameRule() func(string) error {
	return arm.NameRule(`^[A-Za-z0-9]([A-Za-z0-9_.\-]{0,78}[A-Za-z0-9_])?$`,
		"Subnet names are 1 to 80 characters: letters, digits, underscores, periods and hyphens, starting with a letter or digit and ending with a letter, digit or underscore.")
}

func (k *virtualNetworks) Prepare(ctx context.Context, w *arm.Write) error {
	res := w.New
	var in vnetInput
	if err := arm.DecodeProperties(res.Properties, &in); err != nil {
		return err
	}
	if err := unsupportedVnetFeatures(&in); err != nil {
		return err
	}
	space, err := parseAddressSpace(in.AddressSpace, res.ID)
	if err != nil {
		return err
	}
	dhcp, err := parseDhcpOptions(in.DhcpOptions)
	if err != nil {
		return err
	}
	var old vnetProperties
	stored := map[string]childSubnet{} // by lower-cased name
	if w.Old != nil {
		if err := json.Unmarshal(w.Old.Properties, &old); err != nil {
			return fmt.Errorf("properties of stored %s: %w", w.Old.ID, err)
		}
		children, err := listSubnets(ctx, k.srv.Store(), res.ID)
		if err != nil {
			return err
		}
		for _, c := range children {
			stored[strings.ToLower(c.res.Name)] = c
		}
	}
	subnets, err := k.parseSubnets(in.Subnets, res, stored)
	if err != nil {
		return err
	}
	if err := checkShrink(res.Name, space, in.AddressSpace.AddressPrefixes, subnets, stored); err != nil {
		return err
	}
	if err := checkLayout(res.Name, space, in.AddressSpace.AddressPrefixes, subnets); err != nil {
		return err
	}
	ops, err := k.subnetOps(ctx, w, subnets, stored)
	if err != nil {
		return err
	}
	props := vnetProperties{
		ProvisioningState:      "Succeeded",
		ResourceGUID:           old.ResourceGUID,
		AddressSpace:           addressSpace{AddressPrefixes: in.AddressSpace.AddressPrefixes},
		DhcpOptions:            dhcp,
		Subnets:                make([]inlineSubnet, 0, len(subnets)),
		VirtualNetworkPeerings: []json.RawMessage{},
	}
	if props.ResourceGUID == "" {
		props.ResourceGUID = uuid.NewString()
	}
	for _, s := range subnets {
		props.Subnets = append(props.Subnets, inlineSubnet{ID: s.id, Name: s.name, Type: TypeSubnets, Properties: s.props})
	}
	if res.Properties, err = json.Marshal(props); err != nil {
		return err
	}
	w.Ops = append(w.Ops, ops...)
	return nil
}

// parseSubnets checks properties.subnets of a request: names, ids and each
// subnet's own properties. Subnets that exist keep their stored name.
func (k *virtualNetworks) parseSubnets(in []subnetInput, vnet *arm.Resource, stored map[string]childSubnet) ([]parsedSubnet, error) {
	sc := subnetContext{vnetLocation: vnet.Location, locations: k.srv.Locations()}
	checkName := subnetNameRule()
	out := make([]parsedSubnet, 0, len(in))
	seen := make(map[string]int, len(in)) // index by lower-cased name
	for i, s := range in {
		at := fmt.Sprintf("properties.subnets[%d]", i)
		if s.Name == "" {
			return nil, arm.InvalidProperty(arm.CodeInvalidResourceName, at+".name",
				"Subnet %d of virtual network %s has no name. Set '%s.name'.", i, vnet.ID, at)
		}
		if err := checkName(s.Name); err != nil {
			if ae, ok := err.(*arm.Error); ok {
				ae.Target = at + ".name"
			}
			return nil, err
		}
		if j, dup := seen[strings.ToLower(s.Name)]; dup {
			return nil, arm.InvalidProperty(codeDuplicateName, at+".name",
				"Virtual network %s has two subnets named '%s' (properties.subnets[%d] and [%d]). Give each subnet a unique name.", vnet.ID, s.Name, j, i)
		}
		seen[strings.ToLower(s.Name)] = i
		name := s.Name
		if c, ok := stored[strings.ToLower(name)]; ok {
			name = c.res.Name
		}
		id := vnet.ID + "/subnets/" + name
		if s.ID != "" && !strings.EqualFold(s.ID, id) {
			return nil, arm.InvalidProperty(codeInvalidSubnetID, at+".id",
				"The id '%s' of subnet '%s' does not match its place; a subnet listed in %s has the id %s. Remove 'id' or correct it.", s.ID, s.Name, vnet.ID, id)
		}
		p, err := parseSubnet(s.Properties, at+".properties", name, id, sc)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// checkShrink refuses an address space that no longer contains a subnet
// the request keeps unchanged: the address space is what must change (or
// the subnet first), so the error points there.
func checkShrink(vnetName string, space []netip.Prefix, spaceTexts []string, subnets []parsedSubnet, stored map[string]childSubnet) error {
	for _, s := range subnets {
		c, ok := stored[strings.ToLower(s.name)]
		if !ok || !slices.Equal(c.props.prefixTexts(), s.props.prefixTexts()) {
			continue
		}
		for _, p := range s.prefixes {
			if !containedInAny(space, p) {
				return arm.InvalidProperty(codeSubnetOutsideVnet, "properties.addressSpace.addressPrefixes",
					"The new address space of virtual network '%s' (%s) no longer contains subnet '%s' (%s). Keep an address prefix that contains the subnet, or change or delete the subnet first.",
					vnetName, strings.Join(spaceTexts, ", "), s.name, p)
			}
		}
	}
	return nil
}

// subnetOps are the writes that make the stored subnets equal the
// request's: create new ones, rewrite changed ones, delete omitted ones —
// each delete guarded at commit against a concurrent reference.
func (k *virtualNetworks) subnetOps(ctx context.Context, w *arm.Write, subnets []parsedSubnet, stored map[string]childSubnet) ([]store.Op, error) {
	var ops []store.Op
	kept := make(map[string]bool, len(subnets))
	for _, s := range subnets {
		body, err := json.Marshal(s.props)
		if err != nil {
			return nil, err
		}
		sd := *w.New.SystemData
		pre := store.Precondition{IfNoneMatch: "*"}
		if c, ok := stored[strings.ToLower(s.name)]; ok {
			kept[strings.ToLower(s.name)] = true
			if old, err := json.Marshal(c.props); err == nil && bytes.Equal(old, body) {
				continue // unchanged: keep the document (and its ETag)
			}
			pre = store.Precondition{IfMatch: c.etag}
			if c.res.SystemData != nil {
				sd.CreatedBy, sd.CreatedByType, sd.CreatedAt = c.res.SystemData.CreatedBy, c.res.SystemData.CreatedByType, c.res.SystemData.CreatedAt
			}
		}
		op, err := putOp(&arm.Resource{ID: s.id, Name: s.name, Type: TypeSubnets, Properties: body, SystemData: &sd}, TypeSubnets, w.New.ID, pre)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	for _, name := range slices.Sorted(maps.Keys(stored)) {
		c := stored[name]
		if kept[name] {
			continue
		}
		if err := checkUnreferenced(ctx, k.srv, c.res.ID); err != nil {
			return nil, err
		}
		ops = append(ops, store.Op{Delete: c.res.ID, If: store.Precondition{IfMatch: c.etag}}, arm.UnreferencedCheck(c.res.ID))
	}
	return ops, nil
}
