package snapshot

import (
	"fmt"
	"net/netip"
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
		identities: map[string]string{}, subnetsByID: map[string]*Subnet{},
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

// AddSubnet adds a subnet with its prefixes.
func (b *Builder) AddSubnet(sub *Subnet) {
	for i, p := range sub.Prefixes {
		sub.Prefixes[i] = p.Masked()
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
	for _, a := range b.s.accounts {
		b.attributeSubnets(a)
	}
	b.s.Built = time.Now()
	return b.s
}

// attributeSubnets fills in the prefixes of the subnets a's
// virtual-network rules name that have the Cognitive Services service
// endpoint (Account.SubnetFor). Two such subnets with the same prefix are
// both allowed, so either may answer for it.
func (b *Builder) attributeSubnets(a *Account) {
	a.vnetSubnets = nil
	for id := range a.VNetRules {
		sub := b.s.subnetsByID[id]
		if sub == nil || !sub.HasServiceEndpoint(ServiceCognitive) {
			continue
		}
		if a.vnetSubnets == nil {
			a.vnetSubnets = &bart.Table[*Subnet]{}
		}
		for _, p := range sub.Prefixes {
			a.vnetSubnets.Insert(p, sub)
		}
	}
}
