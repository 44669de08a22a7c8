// Package access is the one place access decisions are made: Evaluate takes
// a compiled snapshot and the facts a front door observed and returns a
// Decision naming the layer and rule that decided. It does no I/O, so the
// gateway, the egress proxy, `perimeter access check` and log replay all
// get the same answer for the same facts.
package access

import (
	"net/netip"
)

// Path is how a request arrived.
type Path string

// Arrival paths.
const (
	// PathPublic is internet traffic: a public source address.
	PathPublic Path = "public"
	// PathServiceEndpoint is traffic through the service endpoint of a
	// subnet (Facts.SubnetID).
	PathServiceEndpoint Path = "serviceEndpoint"
	// PathPrivateEndpoint is traffic through a private endpoint
	// (Facts.PrivateEndpointID).
	PathPrivateEndpoint Path = "privateEndpoint"
)

// Direction of the traffic relative to the protected resource.
type Direction string

// Directions.
const (
	Inbound  Direction = "Inbound"
	Outbound Direction = "Outbound"
)

// Facts are what a front door observed about one request. Add fields here,
// never parameters to Evaluate.
type Facts struct {
	Direction Direction
	// Source is the client's address, IPv4-mapped IPv6 already unmapped.
	Source netip.Addr
	// SourceVia says how Source was established: "tcp" (the peer),
	// "proxy-protocol" or "x-forwarded-for" (from a trusted proxy).
	SourceVia string
	// Path is the arrival path; SubnetID and PrivateEndpointID qualify it.
	Path              Path
	SubnetID          string
	PrivateEndpointID string
	// Host is the host name the client asked for (inbound: which account).
	Host string
	// CallerObjectID is the object id of the caller's verified token, ""
	// when the caller presented none (or a key). It lets a trusted
	// service's managed identity pass the firewall (bypass AzureServices).
	CallerObjectID string
}

// Layers that decide, in evaluation order.
const (
	LayerSystem              = "system"
	LayerResource            = "resource"
	LayerPrivateLink         = "privateLink"
	LayerPerimeter           = "networkSecurityPerimeter"
	LayerPublicNetworkAccess = "publicNetworkAccess"
	LayerNetworkACLs         = "networkAcls"
	LayerTrustedService      = "trustedService"
)

// Decision codes.
const (
	CodeAllowed                     = "Allowed"
	CodeNoSnapshot                  = "NoConfiguration"
	CodeUnknownHost                 = "UnknownHost"
	CodePrivateEndpointNotApproved  = "PrivateEndpointNotApproved"
	CodePublicNetworkAccessDisabled = "PublicNetworkAccessDisabled"
	CodeFirewallDenied              = "FirewallDenied"
)

// Decision is the outcome of Evaluate.
type Decision struct {
	Allow bool
	// Code is machine-readable (the Code* constants); Reason says why in
	// words for the log — the caller sees only what Azure would show.
	Code   string
	Reason string
	// Layer and Rule name what decided: Rule is the matching rule as
	// written ("ipRules[2]: 203.0.113.0/24", "defaultAction: Deny").
	Layer string
	Rule  string
	// ResourceID is the target resource, "" when the host is unknown.
	ResourceID string
	// Revision is the snapshot revision that decided.
	Revision int64
}
