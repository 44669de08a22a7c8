// Package accesslog is Perimeter's one access log: every allow or deny
// decision of every data plane (ingress gateway, egress proxy, DNS) becomes
// one Record, shaped on the access log of Azure network security perimeters
// (NSPAccessLogs), and goes to the store and optionally to JSON lines.
//
// Data planes call (*Logger).Log on the request path; it never blocks. Run
// writes the queued records in batches, off the request path, to a Sink (the
// store) and to a JSON-lines writer, prunes records older than the
// retention, and flushes what is queued when it stops. A full queue drops
// the record and counts it (perimeter_accesslog_dropped_total): losing a log
// line is better than stalling traffic.
//
// The store implements Sink, which also answers queries (Query) for
// `perimeter logs query` and the Perimeter.Diagnostics/accessLogs REST
// endpoint. This package imports nothing of Perimeter's, so the store can
// import it.
package accesslog

import (
	"log/slog"
	"strings"
	"time"
)

// Data planes.
const (
	PlaneIngress = "ingress"
	PlaneEgress  = "egress"
	PlaneDNS     = "dns"
)

// Directions, as NSPAccessLogs' ResultDirection.
const (
	Inbound  = "Inbound"
	Outbound = "Outbound"
)

// How the source address was established.
const (
	ViaTCP           = "tcp"            // the TCP peer of the connection
	ViaProxyProtocol = "proxy-protocol" // a PROXY header from a trusted proxy
	ViaForwardedFor  = "x-forwarded-for"
)

// Arrival paths.
const (
	PathPublic          = "public"
	PathServiceEndpoint = "serviceEndpoint"
	PathPrivateEndpoint = "privateEndpoint"
)

// Results. NSPAccessLogs says "Approved" where Perimeter says "Allowed", as
// its decisions do.
const (
	Allowed = "Allowed"
	Denied  = "Denied"
)

// Authentication types of the caller.
const (
	AuthKey    = "key"
	AuthBearer = "bearer"
)

// Record is one decision of a data plane. The zero value of an optional
// field means "not applicable" and is left out of the JSON.
type Record struct {
	// Seq is the record's position in the store, set by the store when it
	// returns records (0 before). It is the keyset cursor of Query.Before.
	Seq int64 `json:"seq,omitempty"`
	// Time is when the decision was made (UTC).
	Time time.Time `json:"time"`
	// RequestID identifies the request (x-ms-request-id of the data plane).
	RequestID string `json:"requestId"`
	// Plane is the data plane that decided: PlaneIngress, PlaneEgress or
	// PlaneDNS.
	Plane string `json:"plane"`
	// Direction is Inbound (to a protected resource) or Outbound (from a
	// managed network or a perimeter's resource).
	Direction string `json:"direction"`
	// SourceIP is the client's address, IPv4-mapped IPv6 unmapped.
	SourceIP string `json:"sourceIp,omitempty"`
	// SourcePort is the client's port, 0 when unknown.
	SourcePort int `json:"sourcePort,omitempty"`
	// SourceVia says how SourceIP was established: ViaTCP, ViaProxyProtocol
	// or ViaForwardedFor.
	SourceVia string `json:"sourceVia,omitempty"`
	// ArrivalPath is PathPublic, PathServiceEndpoint (SubnetID says which
	// subnet) or PathPrivateEndpoint (PrivateEndpointID says which).
	ArrivalPath       string `json:"arrivalPath,omitempty"`
	SubnetID          string `json:"subnetId,omitempty"`
	PrivateEndpointID string `json:"privateEndpointId,omitempty"`
	// ResourceID is the target resource (inbound: the account; outbound:
	// the resource or managed network the traffic leaves), "" when unknown.
	ResourceID string `json:"resourceId,omitempty"`
	// SubscriptionID is the subscription of ResourceID: queries are scoped
	// to it. Logger fills it from ResourceID when empty.
	SubscriptionID string `json:"subscriptionId,omitempty"`
	// Host is the host name asked for: the account endpoint inbound, the
	// destination FQDN outbound, the question name for DNS.
	Host string `json:"host,omitempty"`
	// DestinationPort is the destination's port (outbound), 0 when unknown.
	DestinationPort int `json:"destinationPort,omitempty"`
	// Deployment is the model deployment addressed, if any.
	Deployment string `json:"deployment,omitempty"`
	// Operation is what was asked, e.g. "chat/completions", "CONNECT".
	Operation string `json:"operation,omitempty"`
	// Result is Allowed or Denied.
	Result string `json:"result"`
	// Layer and Rule name what decided (the Decision of internal/access):
	// Layer is e.g. "networkAcls", Rule the matching rule as written.
	Layer string `json:"layer,omitempty"`
	Rule  string `json:"rule,omitempty"`
	// Code is the machine-readable decision code, Reason the detail in
	// words (the log says why; the caller sees only what it may know).
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Category is the NSPAccessLogs category where one applies (see
	// CategoryOf); Logger fills it when empty.
	Category string `json:"category,omitempty"`
	// SnapshotRevision is the revision of the snapshot that decided.
	SnapshotRevision int64 `json:"snapshotRevision,omitempty"`
	// PrincipalID is the caller's object id when a token was verified.
	PrincipalID string `json:"principalId,omitempty"`
	// AuthType is AuthKey, AuthBearer or "" (none presented).
	AuthType string `json:"authType,omitempty"`
	// Status is the HTTP status answered, 0 when not HTTP.
	Status int `json:"status,omitempty"`
	// LatencyMs is the time from the request's arrival to the end of the
	// response, in milliseconds.
	LatencyMs float64 `json:"latencyMs,omitempty"`
	// PromptTokens and CompletionTokens are the model usage, when known.
	PromptTokens     int `json:"promptTokens,omitempty"`
	CompletionTokens int `json:"completionTokens,omitempty"`
}

// Field names of Record in JSON, for slog lines that describe a decision
// with the same names in every data plane (see Attrs).
const (
	FieldSeq               = "seq"
	FieldTime              = "time"
	FieldRequestID         = "requestId"
	FieldPlane             = "plane"
	FieldDirection         = "direction"
	FieldSourceIP          = "sourceIp"
	FieldSourcePort        = "sourcePort"
	FieldSourceVia         = "sourceVia"
	FieldArrivalPath       = "arrivalPath"
	FieldSubnetID          = "subnetId"
	FieldPrivateEndpointID = "privateEndpointId"
	FieldResourceID        = "resourceId"
	FieldSubscriptionID    = "subscriptionId"
	FieldHost              = "host"
	FieldDestinationPort   = "destinationPort"
	FieldDeployment        = "deployment"
	FieldOperation         = "operation"
	FieldResult            = "result"
	FieldLayer             = "layer"
	FieldRule              = "rule"
	FieldCode              = "code"
	FieldReason            = "reason"
	FieldCategory          = "category"
	FieldSnapshotRevision  = "snapshotRevision"
	FieldPrincipalID       = "principalId"
	FieldAuthType          = "authType"
	FieldStatus            = "status"
	FieldLatencyMs         = "latencyMs"
	FieldPromptTokens      = "promptTokens"
	FieldCompletionTokens  = "completionTokens"
)

// Attrs returns the record's non-empty fields as slog attributes named as
// in JSON, for a data plane's own log line:
//
//	log.LogAttrs(ctx, slog.LevelInfo, "access", r.Attrs()...)
//
// Time is left out: the slog record has its own.
func (r Record) Attrs() []slog.Attr {
	out := make([]slog.Attr, 0, 24)
	str := func(k, v string) {
		if v != "" {
			out = append(out, slog.String(k, v))
		}
	}
	num := func(k string, v int64) {
		if v != 0 {
			out = append(out, slog.Int64(k, v))
		}
	}
	if r.Seq != 0 {
		num(FieldSeq, r.Seq)
	}
	str(FieldRequestID, r.RequestID)
	str(FieldPlane, r.Plane)
	str(FieldDirection, r.Direction)
	str(FieldSourceIP, r.SourceIP)
	num(FieldSourcePort, int64(r.SourcePort))
	str(FieldSourceVia, r.SourceVia)
	str(FieldArrivalPath, r.ArrivalPath)
	str(FieldSubnetID, r.SubnetID)
	str(FieldPrivateEndpointID, r.PrivateEndpointID)
	str(FieldResourceID, r.ResourceID)
	str(FieldSubscriptionID, r.SubscriptionID)
	str(FieldHost, r.Host)
	num(FieldDestinationPort, int64(r.DestinationPort))
	str(FieldDeployment, r.Deployment)
	str(FieldOperation, r.Operation)
	str(FieldResult, r.Result)
	str(FieldLayer, r.Layer)
	str(FieldRule, r.Rule)
	str(FieldCode, r.Code)
	str(FieldReason, r.Reason)
	str(FieldCategory, r.Category)
	num(FieldSnapshotRevision, r.SnapshotRevision)
	str(FieldPrincipalID, r.PrincipalID)
	str(FieldAuthType, r.AuthType)
	num(FieldStatus, int64(r.Status))
	if r.LatencyMs != 0 {
		out = append(out, slog.Float64(FieldLatencyMs, r.LatencyMs))
	}
	num(FieldPromptTokens, int64(r.PromptTokens))
	num(FieldCompletionTokens, int64(r.CompletionTokens))
	return out
}

// SubscriptionOf returns the subscription id of an ARM resource id
// ("/subscriptions/{s}/..."), lower-cased, or "".
func SubscriptionOf(resourceID string) string {
	rest, ok := cutPrefixFold(resourceID, "/subscriptions/")
	if !ok {
		return ""
	}
	sub, _, _ := strings.Cut(rest, "/")
	return strings.ToLower(sub)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// Layers of internal/access that CategoryOf knows. They are the names the
// evaluator gives its layers; the data planes copy Decision.Layer into
// Record.Layer.
const (
	LayerPrivateLink         = "privateLink"
	LayerPerimeter           = "networkSecurityPerimeter"
	LayerPublicNetworkAccess = "publicNetworkAccess"
	LayerNetworkACLs         = "networkAcls"
	LayerTrustedService      = "trustedService"
	// LayerSystem (no configuration yet) and LayerResource (unknown host)
	// decide before any network rule applies.
	LayerSystem   = "system"
	LayerResource = "resource"
)

// NSPAccessLogs categories that Perimeter produces.
const (
	CategoryPrivateInboundAllowed               = "NspPrivateInboundAllowed"
	CategoryPublicInboundPerimeterRulesAllowed  = "NspPublicInboundPerimeterRulesAllowed"
	CategoryPublicInboundPerimeterRulesDenied   = "NspPublicInboundPerimeterRulesDenied"
	CategoryPublicInboundResourceRulesAllowed   = "NspPublicInboundResourceRulesAllowed"
	CategoryPublicInboundResourceRulesDenied    = "NspPublicInboundResourceRulesDenied"
	CategoryPublicOutboundPerimeterRulesAllowed = "NspPublicOutboundPerimeterRulesAllowed"
	CategoryPublicOutboundPerimeterRulesDenied  = "NspPublicOutboundPerimeterRulesDenied"
	CategoryPublicOutboundResourceRulesAllowed  = "NspPublicOutboundResourceRulesAllowed"
	CategoryPublicOutboundResourceRulesDenied   = "NspPublicOutboundResourceRulesDenied"
)

// CategoryOf maps a decision to the NSPAccessLogs category Azure would file
// it under, or "" when none applies. The mapping, by direction:
//
// Inbound (ingress gateway):
//
//	layer privateLink, Allowed          -> NspPrivateInboundAllowed
//	layer privateLink, Denied           -> "" (NSP logs no denied private traffic)
//	layer networkSecurityPerimeter      -> NspPublicInboundPerimeterRules{Allowed,Denied}
//	layer publicNetworkAccess,
//	      networkAcls, trustedService   -> NspPublicInboundResourceRules{Allowed,Denied}
//	any other layer                     -> ""
//
// Outbound (egress proxy):
//
//	layer networkSecurityPerimeter      -> NspPublicOutboundPerimeterRules{Allowed,Denied}
//	layer system or resource, or ""     -> ""
//	any other layer (managed-network
//	      outbound rules, allowedFqdnList) -> NspPublicOutboundResourceRules{Allowed,Denied}
//
// DNS answers and layers that decide before (system: no configuration;
// resource: unknown host) or after the network (authentication, RBAC,
// token limits) have no category.
//
// Azure files resource-rule decisions under the ResourceRules categories
// only while a perimeter in Transition (Learning) mode would have denied
// the traffic; Perimeter uses them for every decision of a resource's own
// network rules, perimeter or not, so one filter on the category finds all
// of them.
func CategoryOf(r Record) string {
	if r.Result != Allowed && r.Result != Denied {
		return ""
	}
	allowed := r.Result == Allowed
	pick := func(a, d string) string {
		if allowed {
			return a
		}
		return d
	}
	switch r.Direction {
	case Inbound:
		if r.Plane == PlaneDNS {
			return ""
		}
		switch r.Layer {
		case LayerPrivateLink:
			return pick(CategoryPrivateInboundAllowed, "")
		case LayerPerimeter:
			return pick(CategoryPublicInboundPerimeterRulesAllowed, CategoryPublicInboundPerimeterRulesDenied)
		case LayerPublicNetworkAccess, LayerNetworkACLs, LayerTrustedService:
			return pick(CategoryPublicInboundResourceRulesAllowed, CategoryPublicInboundResourceRulesDenied)
		}
	case Outbound:
		if r.Plane == PlaneDNS {
			return ""
		}
		switch r.Layer {
		case LayerPerimeter:
			return pick(CategoryPublicOutboundPerimeterRulesAllowed, CategoryPublicOutboundPerimeterRulesDenied)
		case LayerSystem, LayerResource, "":
			return ""
		}
		return pick(CategoryPublicOutboundResourceRulesAllowed, CategoryPublicOutboundResourceRulesDenied)
	}
	return ""
}
