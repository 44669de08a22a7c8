package snapshot

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gaissmai/bart"

	"github.com/perimeterhq/perimeter/internal/authz"
)

// Builder assembles a Snapshot. The compiler uses it; so can tests and
// benchmarks that need a snapshot without a store. A Builder must not be
// used after Build.
type Builder struct{ s *Snapshot }

// NewBuilder starts a snapshot of the given store revision.
func NewBuilder(revision int64) *Builder {
	return &Builder{s: &Snapshot{
		Revision: revision, hosts: map[string]*Account{}, accounts: map[string]*Account{},
		identities: map[string]string{}, subnets: &bart.Table[[]*Subnet]{}, subnetsByID: map[string]*Subnet{},
	}}
}

// NewAccount returns an account with empty rule tables, allowing all
// networks, for the builder's caller to fill in.
func NewAccount(id, name string) *Account {
	return &Account{
		ID: id, Name: name, PublicNetworkAccess: true, DefaultAllow: true,
		IPRules: &bart.Table[int]{}, VNetRules: map[string]int{}, Deployments: map[string]*Deployment{},
	}
}

// AddIPRule appends an IP rule (value as written, prefix as parsed).
func (a *Account) AddIPRule(value string, p netip.Prefix) {
	i := len(a.IPRuleValues)
	a.IPRules.Insert(p.Masked(), i)
	a.IPRuleValues = append(a.IPRuleValues, value)
	a.IPRuleNames = append(a.IPRuleNames, fmt.Sprintf("ipRules[%d]: %s", i, value))
}

// AddVNetRule appends a virtual-network rule for a subnet id.
func (a *Account) AddVNetRule(subnetID string) {
	i := len(a.VNetRuleNames)
	a.VNetRules[strings.ToLower(subnetID)] = i
	a.VNetRuleNames = append(a.VNetRuleNames, fmt.Sprintf("virtualNetworkRules[%d]: %s", i, subnetID))
}

// AddDeployment adds a deployment.
func (a *Account) AddDeployment(d *Deployment) {
	a.Deployments[strings.ToLower(d.Name)] = d
}

// AddAccount adds an account, reachable at its Hosts.
func (b *Builder) AddAccount(a *Account) {
	for i, h := range a.Hosts {
		a.Hosts[i] = strings.ToLower(h)
		b.s.hosts[a.Hosts[i]] = a
	}
	b.s.accounts[strings.ToLower(a.ID)] = a
}

// AddSubnet adds a subnet at its prefixes.
func (b *Builder) AddSubnet(sub *Subnet) {
	for i, p := range sub.Prefixes {
		p = p.Masked()
		sub.Prefixes[i] = p
		existing, _ := b.s.subnets.Get(p)
		b.s.subnets.Insert(p, append(slices.Clone(existing), sub))
	}
	b.s.subnetsByID[strings.ToLower(sub.ID)] = sub
}

// AddIdentity records that a managed identity belongs to a resource type.
func (b *Builder) AddIdentity(principalID, resourceType string) {
	b.s.identities[strings.ToLower(principalID)] = resourceType
}

// account returns an added account by id, or nil.
func (b *Builder) account(id string) *Account { return b.s.accounts[strings.ToLower(id)] }

// SetPolicy sets the snapshot's compiled role assignments.
func (b *Builder) SetPolicy(p *authz.Policy) { b.s.policy = p }

// Build returns the snapshot.
func (b *Builder) Build() *Snapshot {
	b.s.Built = time.Now()
	return b.s
}
