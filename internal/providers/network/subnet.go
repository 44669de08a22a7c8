package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// subnets is Microsoft.Network/virtualNetworks/subnets. Every write of a
// subnet also rewrites its virtual network's inline copy, in the same
// atomic Apply and conditional on the network's ETag: two concurrent writes
// to subnets of one network cannot both commit, so the overlap checks each
// made still hold when it commits.
type subnets struct{ srv *arm.Server }

func (*subnets) Spec() arm.Spec {
	return arm.Spec{
		Type:        TypeSubnets,
		APIVersions: APIVersions(),
		ParentType:  TypeVirtualNetworks,
		BodyETag:    true,
		InUseCode:   InUseSubnetCode,
		Name:        subnetNameRule(),
	}
}

func (k *subnets) Prepare(_ context.Context, w *arm.Write) error {
	vnet := w.Parent
	var vp vnetProperties
	if err := json.Unmarshal(vnet.Properties, &vp); err != nil {
		return fmt.Errorf("properties of stored %s: %w", vnet.ID, err)
	}
	res := w.New
	s, err := parseSubnet(res.Properties, "properties", res.Name, res.ID, subnetContext{vnetLocation: vnet.Location, locations: k.srv.Locations()})
	if err != nil {
		return err
	}
	space := make([]netip.Prefix, 0, len(vp.AddressSpace.AddressPrefixes))
	for _, text := range vp.AddressSpace.AddressPrefixes {
		if p, err := netip.ParsePrefix(text); err == nil {
			space = append(space, p)
		}
	}
	layout := make([]parsedSubnet, 0, len(vp.Subnets)+1)
	for _, o := range vp.Subnets {
		if !strings.EqualFold(o.ID, res.ID) {
			layout = append(layout, storedSubnet(o.Name, o.ID, o.Properties))
		}
	}
	if err := checkLayout(vnet.Name, space, vp.AddressSpace.AddressPrefixes, append(layout, s)); err != nil {
		return err
	}
	if res.Properties, err = json.Marshal(s.props); err != nil {
		return err
	}
	entry := inlineSubnet{ID: res.ID, Name: res.Name, Type: TypeSubnets, Properties: s.props}
	if i := slices.IndexFunc(vp.Subnets, func(o inlineSubnet) bool { return strings.EqualFold(o.ID, res.ID) }); i >= 0 {
		vp.Subnets[i] = entry
	} else {
		vp.Subnets = append(vp.Subnets, entry)
	}
	op, err := vnetRewrite(vnet, vp, arm.FormatID(w.Elems[:len(w.Elems)-2]))
	if err != nil {
		return err
	}
	w.Ops = append(w.Ops, op)
	return nil
}

// vnetRewrite stores a virtual network with new properties, conditional on
// the version read.
func vnetRewrite(vnet *arm.Resource, props vnetProperties, parent string) (store.Op, error) {
	body, err := json.Marshal(props)
	if err != nil {
		return store.Op{}, err
	}
	updated := *vnet
	updated.Properties = body
	return putOp(&updated, TypeVirtualNetworks, parent, store.Precondition{IfMatch: vnet.ETag})
}

// Cleanup removes a deleted subnet from its virtual network's inline list,
// in the same atomic write as the delete. When the virtual network (or its
// resource group) is what is being deleted, there is nothing to update.
func (k *subnets) Cleanup(ctx context.Context, r *arm.Resource, root string) ([]store.Op, error) {
	if !strings.EqualFold(root, r.ID) {
		return nil, nil
	}
	vnet, err := loadDoc(ctx, k.srv.Store(), vnetOf(r.ID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var vp vnetProperties
	if err := json.Unmarshal(vnet.res.Properties, &vp); err != nil {
		return nil, fmt.Errorf("properties of stored %s: %w", vnet.res.ID, err)
	}
	vp.Subnets = slices.DeleteFunc(vp.Subnets, func(o inlineSubnet) bool { return strings.EqualFold(o.ID, r.ID) })
	rewrite, err := vnetRewrite(vnet.res, vp, vnet.parent)
	if err != nil {
		return nil, err
	}
	return []store.Op{rewrite}, nil
}
