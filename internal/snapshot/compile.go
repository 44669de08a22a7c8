package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/providers/authorization"
	"github.com/perimeterhq/perimeter/internal/providers/cognitive"
	"github.com/perimeterhq/perimeter/internal/secrets"
	"github.com/perimeterhq/perimeter/internal/store"
)

// SourceConfig is what compiling needs.
type SourceConfig struct {
	Store store.Store
	// Secrets opens account keys (only their digests enter the snapshot).
	Secrets *secrets.Box
	// Catalog resolves deployments' models to upstreams.
	Catalog *models.Catalog
	// BaseDomain is the DNS suffix of account hosts.
	BaseDomain string
	// Logger receives compile failures. Nil means slog.Default().
	Logger *slog.Logger
	// MemberOf returns each directory object's direct groups, for role
	// assignments to groups. Nil means no groups.
	MemberOf func(ctx context.Context) (map[string][]string, error)
}

// Stored shapes, decoded here rather than through the providers' types: the
// compiler reads only what the data planes need.
type (
	storedAccount struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Kind     string `json:"kind"`
		Identity *struct {
			PrincipalID string `json:"principalId"`
		} `json:"identity"`
		Properties struct {
			ProvisioningState   string `json:"provisioningState"`
			CustomSubDomainName string `json:"customSubDomainName"`
			PublicNetworkAccess string `json:"publicNetworkAccess"`
			NetworkACLs         *struct {
				DefaultAction string `json:"defaultAction"`
				Bypass        string `json:"bypass"`
				IPRules       []struct {
					Value string `json:"value"`
				} `json:"ipRules"`
				VirtualNetworkRules []struct {
					ID string `json:"id"`
				} `json:"virtualNetworkRules"`
			} `json:"networkAcls"`
			DisableLocalAuth              bool     `json:"disableLocalAuth"`
			RestrictOutboundNetworkAccess bool     `json:"restrictOutboundNetworkAccess"`
			AllowedFqdnList               []string `json:"allowedFqdnList"`
		} `json:"properties"`
	}
	storedDeployment struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		SKU  struct {
			Name     string `json:"name"`
			Capacity int    `json:"capacity"`
		} `json:"sku"`
		Properties struct {
			ProvisioningState string `json:"provisioningState"`
			Model             struct {
				Format  string `json:"format"`
				Name    string `json:"name"`
				Version string `json:"version"`
			} `json:"model"`
		} `json:"properties"`
	}
	storedSubnet struct {
		ID         string `json:"id"`
		Properties struct {
			AddressPrefix    string   `json:"addressPrefix"`
			AddressPrefixes  []string `json:"addressPrefixes"`
			ServiceEndpoints []struct {
				Service string `json:"service"`
			} `json:"serviceEndpoints"`
		} `json:"properties"`
	}
)

// Compile builds a Snapshot from the store as it is now.
func Compile(ctx context.Context, cfg SourceConfig) (*Snapshot, error) {
	rev, err := cfg.Store.Revision(ctx)
	if err != nil {
		return nil, fmt.Errorf("read revision: %w", err)
	}
	b := NewBuilder(rev)
	if err := addSubnets(ctx, cfg, b); err != nil {
		return nil, err
	}
	if err := addAccounts(ctx, cfg, b); err != nil {
		return nil, err
	}
	if err := addDeployments(ctx, cfg, b); err != nil {
		return nil, err
	}
	if err := addProjectIdentities(ctx, cfg, b); err != nil {
		return nil, err
	}
	if err := addPolicy(ctx, cfg, b); err != nil {
		return nil, err
	}
	return b.Build(), nil
}

func list(ctx context.Context, st store.Store, typ string) ([]store.Document, error) {
	docs, err := st.List(ctx, store.ListOptions{Type: typ})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", typ, err)
	}
	return docs, nil
}

func addSubnets(ctx context.Context, cfg SourceConfig, b *Builder) error {
	docs, err := list(ctx, cfg.Store, "Microsoft.Network/virtualNetworks/subnets")
	if err != nil {
		return err
	}
	for _, d := range docs {
		var sn storedSubnet
		if err := json.Unmarshal(d.Body, &sn); err != nil {
			return fmt.Errorf("subnet %s: %w", d.ID, err)
		}
		texts := sn.Properties.AddressPrefixes
		if len(texts) == 0 && sn.Properties.AddressPrefix != "" {
			texts = []string{sn.Properties.AddressPrefix}
		}
		sub := &Subnet{ID: sn.ID}
		for _, e := range sn.Properties.ServiceEndpoints {
			sub.ServiceEndpoints = append(sub.ServiceEndpoints, e.Service)
		}
		for _, t := range texts {
			p, err := netip.ParsePrefix(t)
			if err != nil {
				return fmt.Errorf("subnet %s: prefix %q: %w", d.ID, t, err)
			}
			sub.Prefixes = append(sub.Prefixes, p)
		}
		b.AddSubnet(sub)
	}
	return nil
}

func addAccounts(ctx context.Context, cfg SourceConfig, b *Builder) error {
	docs, err := list(ctx, cfg.Store, cognitive.TypeAccounts)
	if err != nil {
		return err
	}
	for _, d := range docs {
		var sa storedAccount
		if err := json.Unmarshal(d.Body, &sa); err != nil {
			return fmt.Errorf("account %s: %w", d.ID, err)
		}
		// An account being deleted serves no more. One being created or
		// updated (Accepted while its operation runs) serves with the
		// settings stored, which were validated when written: dropping it
		// from the snapshot during every update would turn each firewall
		// change into a moment of 404s.
		if sa.Properties.ProvisioningState == "Deleting" {
			continue
		}
		a, err := compileAccount(sa, cfg.BaseDomain)
		if err != nil {
			return fmt.Errorf("account %s: %w", d.ID, err)
		}
		addKeys(ctx, cfg, a)
		b.AddAccount(a)
		if sa.Identity != nil && sa.Identity.PrincipalID != "" {
			b.AddIdentity(sa.Identity.PrincipalID, cognitive.TypeAccounts)
		}
	}
	return nil
}

// addProjectIdentities records the system-assigned identities of Foundry
// projects: Microsoft.CognitiveServices resources too, whose identities
// (the Agent Service's, for one) pass a firewall that admits trusted
// services.
func addProjectIdentities(ctx context.Context, cfg SourceConfig, b *Builder) error {
	docs, err := list(ctx, cfg.Store, cognitive.TypeProjects)
	if err != nil {
		return err
	}
	for _, d := range docs {
		var p struct {
			Identity *struct {
				PrincipalID string `json:"principalId"`
			} `json:"identity"`
			Properties struct {
				ProvisioningState string `json:"provisioningState"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(d.Body, &p); err != nil {
			return fmt.Errorf("project %s: %w", d.ID, err)
		}
		if p.Identity != nil && p.Identity.PrincipalID != "" && p.Properties.ProvisioningState != "Deleting" {
			b.AddIdentity(p.Identity.PrincipalID, cognitive.TypeProjects)
		}
	}
	return nil
}

func compileAccount(sa storedAccount, base string) (*Account, error) {
	p := sa.Properties
	elems, err := arm.ParseID(sa.ID)
	if err != nil {
		return nil, err
	}
	a := NewAccount(sa.ID, sa.Name)
	a.SubscriptionID, a.Kind = arm.SubscriptionOf(elems), sa.Kind
	a.Subdomain = strings.ToLower(p.CustomSubDomainName)
	a.PublicNetworkAccess = !strings.EqualFold(p.PublicNetworkAccess, "Disabled")
	a.DisableLocalAuth = p.DisableLocalAuth
	a.RestrictOutbound, a.AllowedFQDNs = p.RestrictOutboundNetworkAccess, p.AllowedFqdnList
	if a.Subdomain != "" {
		for _, suffix := range []string{"cognitiveservices", "openai", "services.ai"} {
			a.Hosts = append(a.Hosts, a.Subdomain+"."+suffix+"."+strings.ToLower(base))
		}
	}
	if acl := p.NetworkACLs; acl != nil {
		a.DefaultAllow = !strings.EqualFold(acl.DefaultAction, "Deny")
		a.BypassAzureServices = strings.EqualFold(acl.Bypass, "AzureServices")
		for i, r := range acl.IPRules {
			pfx, err := parseIPRule(r.Value)
			if err != nil {
				return nil, fmt.Errorf("ipRules[%d]: %w", i, err)
			}
			a.AddIPRule(r.Value, pfx)
		}
		for _, r := range acl.VirtualNetworkRules {
			a.AddVNetRule(r.ID)
		}
	}
	return a, nil
}

// parseIPRule reads an IP rule as stored: an address or a CIDR range.
func parseIPRule(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// addKeys puts the digests of an account's keys in the snapshot. An
// account whose keys cannot be read or opened (another master key) gets
// none, so no key matches it: key access fails closed.
func addKeys(ctx context.Context, cfg SourceConfig, a *Account) {
	if cfg.Secrets == nil {
		return
	}
	doc, err := cfg.Store.Get(ctx, cognitive.KeysID(a.ID))
	if err != nil {
		cfg.logger().Warn("account keys unavailable; key access to the account is refused", "account", a.ID, "err", err)
		return
	}
	keys, err := cognitive.OpenKeys(cfg.Secrets, a.ID, doc.Body)
	if err != nil {
		cfg.logger().Error("account keys cannot be opened with this master key; key access to the account is refused", "account", a.ID, "err", err)
		return
	}
	a.KeyDigests = [2][32]byte{sha256.Sum256([]byte(keys.Key1)), sha256.Sum256([]byte(keys.Key2))}
}

func (cfg SourceConfig) logger() *slog.Logger {
	if cfg.Logger == nil {
		return slog.Default()
	}
	return cfg.Logger
}

func addDeployments(ctx context.Context, cfg SourceConfig, b *Builder) error {
	docs, err := list(ctx, cfg.Store, cognitive.TypeDeployments)
	if err != nil {
		return err
	}
	for _, d := range docs {
		var sd storedDeployment
		if err := json.Unmarshal(d.Body, &sd); err != nil {
			return fmt.Errorf("deployment %s: %w", d.ID, err)
		}
		i := strings.LastIndex(strings.ToLower(sd.ID), "/deployments/")
		if i < 0 {
			continue
		}
		a := b.account(sd.ID[:i])
		if a == nil {
			continue // the account is not serving
		}
		m := sd.Properties.Model
		dep := &Deployment{Name: sd.Name, SKU: sd.SKU.Name, Capacity: sd.SKU.Capacity}
		if cfg.Catalog != nil {
			if model, ok := cfg.Catalog.Find(m.Format, m.Name, m.Version); ok {
				dep.Model = model
				// As for accounts: a deployment being updated keeps serving.
				state := sd.Properties.ProvisioningState
				dep.Ready = state != "Deleting" && state != "Failed"
			}
		}
		a.AddDeployment(dep)
	}
	return nil
}

// addPolicy compiles role definitions, role assignments and group
// memberships into the snapshot's policy.
func addPolicy(ctx context.Context, cfg SourceConfig, b *Builder) error {
	customs, err := authorization.CustomRoles(ctx, cfg.Store)
	if err != nil {
		return err
	}
	assignments, err := authorization.Assignments(ctx, cfg.Store)
	if err != nil {
		return err
	}
	var memberOf map[string][]string
	if cfg.MemberOf != nil {
		if memberOf, err = cfg.MemberOf(ctx); err != nil {
			return fmt.Errorf("group memberships: %w", err)
		}
	}
	b.SetPolicy(authz.Compile(append(authz.BuiltInRoles(), customs...), assignments, memberOf))
	return nil
}
