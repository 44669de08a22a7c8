// Package network provides the Microsoft.Network types: virtual networks
// and their subnets (address spaces, service endpoints).
//
// A virtual network and each of its subnets are separate stored documents:
// subnets are child resources, so other resources (account firewall rules,
// private endpoints) can reference a subnet by id and the generic reference
// bookkeeping in package arm keeps a referenced subnet from being deleted.
// Azure also shows a virtual network's subnets inline, in
// properties.subnets, and accepts them there on PUT; the virtual network
// document therefore carries a copy of its subnets, and every write that
// touches a subnet — through the virtual network or through
// .../subnets/{name} — rewrites both in one atomic store Apply, conditional
// on the virtual network's ETag. See vnet.go and subnet.go.
package network

import (
	"github.com/perimeterhq/perimeter/internal/arm"
)

// Resource types of this package.
const (
	TypeVirtualNetworks = "Microsoft.Network/virtualNetworks"
	TypeSubnets         = "Microsoft.Network/virtualNetworks/subnets"
)

// InUseSubnetCode is Azure's code for refusing to delete a subnet (or the
// virtual network holding it) that other resources still use.
const InUseSubnetCode = "InUseSubnetCannotBeDeleted"

// Kinds returns the kinds of this package, bound to srv.
func Kinds(srv *arm.Server) []arm.Kind {
	return []arm.Kind{&virtualNetworks{srv: srv}, &subnets{srv: srv}}
}

// APIVersions are the Microsoft.Network api-versions served for virtual
// networks and subnets: the stable versions the Azure SDKs, the az CLI and
// infrastructure-as-code tools send. Every version has the same shape here.
func APIVersions() []string {
	return []string{
		"2017-06-01", "2017-09-01", "2017-10-01", "2017-11-01", "2018-01-01", "2018-02-01", "2018-04-01",
		"2018-06-01", "2018-07-01", "2018-08-01", "2018-10-01", "2018-11-01", "2018-12-01", "2019-02-01",
		"2019-04-01", "2019-06-01", "2019-07-01", "2019-08-01", "2019-09-01", "2019-11-01", "2019-12-01",
		"2020-03-01", "2020-04-01", "2020-05-01", "2020-06-01", "2020-07-01", "2020-08-01", "2020-11-01",
		"2021-02-01", "2021-03-01", "2021-05-01", "2021-08-01", "2022-01-01", "2022-05-01", "2022-07-01",
		"2022-09-01", "2022-11-01", "2023-02-01", "2023-04-01", "2023-05-01", "2023-06-01", "2023-09-01",
		"2023-11-01", "2024-01-01", "2024-03-01", "2024-05-01", "2024-07-01", "2024-10-01", "2025-01-01",
		"2025-03-01", "2025-05-01", "2025-07-01", "2025-09-01",
	}
}
