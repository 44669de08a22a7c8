// Package snapshot compiles the stored resources into the immutable
// Snapshot the data planes decide with: accounts by host name, their network
// rules as CIDR tables (the subnets of virtual-network rules among them),
// deployments and their models,
// digests of account keys. A Source keeps the current Snapshot, recompiling
// on every change in the store and swapping it in atomically; a snapshot
// that fails to compile is never served and the last good one stays.
package snapshot

import (
	"net/netip"
	"strings"
	"time"

	"github.com/gaissmai/bart"

	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/providers/network"
)

// Snapshot is an immutable view of the data-plane configuration at one
// store revision. Its methods are safe for concurrent use.
type Snapshot struct {
	// Revision is the store revision the snapshot was compiled from.
	Revision int64
	// Built is when compilation finished.
	Built time.Time

	hosts       map[string]*Account // lower-cased host name → account
	accounts    map[string]*Account // lower-cased account id → account
	identities  map[string]string   // managed identity principal id → resource type
	subnetsByID map[string]*Subnet
	policy      *authz.Policy
}

// noGrants is the policy of a snapshot built without one: nothing is
// allowed (fail closed).
var noGrants = authz.Compile(nil, nil, nil)

// Policy returns the compiled role assignments (RBAC) of the snapshot.
func (s *Snapshot) Policy() *authz.Policy {
	if s == nil || s.policy == nil {
		return noGrants
	}
	return s.policy
}

// Account is one AI services account as the data planes see it.
type Account struct {
	ID             string // canonical ARM id
	Name           string
	SubscriptionID string
	Kind           string
	Subdomain      string
	// Hosts are the host names that reach the account (lower-cased).
	Hosts []string

	PublicNetworkAccess bool // false: publicNetworkAccess Disabled
	DefaultAllow        bool // networkAcls.defaultAction Allow
	BypassAzureServices bool // networkAcls.bypass AzureServices
	// IPRules maps each rule's prefix to its index in networkAcls.ipRules.
	IPRules *bart.Table[int]
	// IPRuleValues are the rules as written, by index, and IPRuleNames the
	// names decisions give them ("ipRules[2]: 203.0.113.0/24"), compiled
	// once so a decision allocates nothing.
	IPRuleValues []string
	IPRuleNames  []string
	// VNetRules maps lower-cased subnet ids to their index in
	// networkAcls.virtualNetworkRules; VNetRuleNames names them.
	VNetRules     map[string]int
	VNetRuleNames []string
	// vnetSubnets holds the prefixes of the subnets the virtual-network
	// rules name that have the Cognitive Services service endpoint: the
	// only subnets an address is attributed to for this account (Build
	// fills it in).
	vnetSubnets *bart.Table[*Subnet]

	DisableLocalAuth bool
	// KeyDigests are SHA-256 digests of key1 and key2: the snapshot never
	// holds a key itself. Zero when the account's keys could not be read.
	KeyDigests [2][32]byte

	RestrictOutbound bool
	AllowedFQDNs     []string

	// Deployments by lower-cased name.
	Deployments map[string]*Deployment
}

// Deployment is one model deployment of an account.
type Deployment struct {
	Name     string
	SKU      string
	Capacity int // thousands of tokens per minute for Standard SKUs
	// Model is the catalog entry serving the deployment.
	Model models.Model
	// Ready is false while the deployment is not Succeeded.
	Ready bool
}

// ServiceCognitive is the service endpoint that makes a subnet's traffic
// to accounts arrive through the subnet rather than from the internet
// (the network provider's name for it, for the data planes).
const ServiceCognitive = network.ServiceCognitiveServices

// Subnet is a subnet as the data planes see it: where traffic with a
// source address inside it comes from.
type Subnet struct {
	ID       string // canonical ARM id
	Prefixes []netip.Prefix
	// ServiceEndpoints are the services the subnet has service endpoints
	// for, such as "Microsoft.CognitiveServices".
	ServiceEndpoints []string
}

// HasServiceEndpoint reports whether the subnet has a service endpoint for
// the service (case-insensitive).
func (s *Subnet) HasServiceEndpoint(service string) bool {
	for _, e := range s.ServiceEndpoints {
		if strings.EqualFold(e, service) {
			return true
		}
	}
	return false
}

// AccountByHost returns the account served at host (a host name with or
// without a port), or nil.
func (s *Snapshot) AccountByHost(host string) *Account {
	if s == nil {
		return nil
	}
	if h, _, ok := strings.Cut(host, ":"); ok && !strings.Contains(h, "]") {
		host = h
	}
	return s.hosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}

// Account returns the account with this id, or nil.
func (s *Snapshot) Account(id string) *Account {
	if s == nil {
		return nil
	}
	return s.accounts[strings.ToLower(id)]
}

// SubnetFor returns the subnet an address arrives through at this
// account: the longest match among the subnets its virtual-network rules
// name that have the Cognitive Services service endpoint, or nil.
//
// Only those subnets count. Virtual networks anywhere in the installation
// may use any range, public ones included, so attributing an address to
// whichever subnet holds it would let anyone who may create a network
// turn another account's allowed clients into traffic from their subnet,
// which that account's rules refuse. An address outside the account's
// subnets is public traffic, matched by its IP rules.
func (a *Account) SubnetFor(addr netip.Addr) *Subnet {
	if a == nil || a.vnetSubnets == nil {
		return nil
	}
	sub, _ := a.vnetSubnets.Lookup(addr.Unmap())
	return sub
}

// Subnet returns the subnet with this id, or nil.
func (s *Snapshot) Subnet(id string) *Subnet {
	if s == nil {
		return nil
	}
	return s.subnetsByID[strings.ToLower(id)]
}

// ManagedIdentity returns the resource type whose managed identity has this
// principal id ("Microsoft.CognitiveServices/accounts"), or "".
func (s *Snapshot) ManagedIdentity(principalID string) string {
	if s == nil {
		return ""
	}
	return s.identities[strings.ToLower(principalID)]
}

// Deployment returns the account's deployment with this name, or nil.
func (a *Account) Deployment(name string) *Deployment {
	return a.Deployments[strings.ToLower(name)]
}
