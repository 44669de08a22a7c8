package cognitive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// The gateway serves an account at its custom subdomain under three
// suffixes of the base domain, mirroring Azure's cognitiveservices.azure.com,
// openai.azure.com and services.ai.azure.com.
const (
	suffixCognitive = "cognitiveservices"
	suffixOpenAI    = "openai"
	suffixServices  = "services.ai"
)

// Keys of the endpoints maps, as Azure names the APIs behind each URL.
const (
	endpointOpenAI  = "OpenAI Language Model Instance API"
	endpointFoundry = "AI Foundry API"
)

// endpointURL is https://{subdomain}.{suffix}.{BaseDomain}[:{port}]/, the
// URL a client of the gateway uses. The port is left out when it is the
// HTTPS default.
func (p *provider) endpointURL(subdomain, suffix string) string {
	host := strings.ToLower(subdomain) + "." + suffix + "." + p.cfg.BaseDomain
	if port := p.cfg.GatewayPort; port != 0 && port != 443 {
		host += ":" + strconv.Itoa(port)
	}
	return "https://" + host + "/"
}

// accountEndpoints computes an account's endpoint and endpoints map.
//
// As in Azure, an OpenAI account's endpoint is its openai URL, and other
// kinds' is the cognitiveservices URL; AIServices (Foundry) accounts list
// the Foundry and OpenAI URLs in endpoints too. An account without a custom
// subdomain has no endpoint: Perimeter has no shared regional endpoint, and
// the gateway finds accounts by the host name their subdomain gives (see
// checkAccountNeedsSubdomain for which accounts must have one).
func (p *provider) accountEndpoints(kind, subdomain string) (string, map[string]string) {
	if subdomain == "" {
		return "", nil
	}
	switch kind {
	case kindOpenAI:
		u := p.endpointURL(subdomain, suffixOpenAI)
		return u, map[string]string{endpointOpenAI: u}
	case kindAIServices:
		return p.endpointURL(subdomain, suffixCognitive), map[string]string{
			endpointFoundry: p.endpointURL(subdomain, suffixServices),
			endpointOpenAI:  p.endpointURL(subdomain, suffixOpenAI),
		}
	}
	return p.endpointURL(subdomain, suffixCognitive), nil
}

// projectEndpoints are a project's URLs: the Foundry project endpoint
// (https://{subdomain}.services.ai.{base}/api/projects/{project}, what
// Foundry SDKs take as the project endpoint) and the account's OpenAI URL.
func (p *provider) projectEndpoints(subdomain, project string) map[string]string {
	return map[string]string{
		endpointFoundry: p.endpointURL(subdomain, suffixServices) + "api/projects/" + project,
		endpointOpenAI:  p.endpointURL(subdomain, suffixOpenAI),
	}
}

// RefreshEndpoints brings the stored endpoints of every account and project
// in line with cfg and returns how many it rewrote. Endpoints are computed
// when a resource is written, so a server restarted with another base
// domain or gateway port (port 0 picks a new one at every start) would
// otherwise report URLs that no longer answer. The server calls it at
// start, after its listeners are bound. Each rewrite is conditional on the
// version read; one that loses to a concurrent write is skipped, since that
// write computed its endpoints itself.
func RefreshEndpoints(ctx context.Context, st store.Store, cfg Config) (int, error) {
	if cfg.BaseDomain == "" {
		cfg.BaseDomain = DefaultBaseDomain
	}
	p := &provider{cfg: cfg}
	n := 0
	for _, typ := range []string{TypeAccounts, TypeProjects} {
		after := ""
		for {
			docs, err := st.List(ctx, store.ListOptions{Type: typ, After: after, Limit: 200})
			if err != nil {
				return n, fmt.Errorf("list %s: %w", typ, err)
			}
			for _, d := range docs {
				changed, err := p.refreshOne(ctx, st, d)
				if err != nil {
					return n, err
				}
				if changed {
					n++
				}
			}
			if len(docs) < 200 {
				break
			}
			after = docs[len(docs)-1].ID
		}
	}
	return n, nil
}

// refreshOne rewrites one account's or project's endpoints if they differ
// from the configuration's.
func (p *provider) refreshOne(ctx context.Context, st store.Store, d store.Document) (bool, error) {
	var res arm.Resource
	if err := json.Unmarshal(d.Body, &res); err != nil {
		return false, fmt.Errorf("stored %s: %w", d.ID, err)
	}
	var cur struct {
		Endpoint            string            `json:"endpoint"`
		Endpoints           map[string]string `json:"endpoints"`
		CustomSubDomainName string            `json:"customSubDomainName"`
	}
	if err := json.Unmarshal(res.Properties, &cur); err != nil {
		return false, fmt.Errorf("properties of %s: %w", d.ID, err)
	}
	var endpoint string
	var endpoints map[string]string
	if strings.EqualFold(d.Type, TypeAccounts) {
		endpoint, endpoints = p.accountEndpoints(res.Kind, cur.CustomSubDomainName)
	} else {
		acct, err := st.Get(ctx, d.Parent)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil // going with its account
		}
		if err != nil {
			return false, fmt.Errorf("account of %s: %w", d.ID, err)
		}
		var a struct {
			Properties struct {
				CustomSubDomainName string `json:"customSubDomainName"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(acct.Body, &a); err != nil {
			return false, fmt.Errorf("account of %s: %w", d.ID, err)
		}
		endpoint, endpoints = cur.Endpoint, p.projectEndpoints(a.Properties.CustomSubDomainName, res.Name)
	}
	if endpoint == cur.Endpoint && maps.Equal(endpoints, cur.Endpoints) {
		return false, nil
	}
	if err := res.SetProperty("endpoint", endpoint); err != nil {
		return false, err
	}
	if err := res.SetProperty("endpoints", endpoints); err != nil {
		return false, err
	}
	res.Properties = dropEmpty(res.Properties, "endpoint", "endpoints")
	res.ETag = ""
	body, err := json.Marshal(&res)
	if err != nil {
		return false, err
	}
	_, err = st.Apply(ctx, store.Op{Put: &store.Document{ID: d.ID, Type: d.Type, Parent: d.Parent, Body: body}, If: store.Precondition{IfMatch: d.ETag}})
	if errors.Is(err, store.ErrPreconditionFailed) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("refresh endpoints of %s: %w", d.ID, err)
	}
	return true, nil
}

// dropEmpty removes properties whose value is "" or null, as omitempty
// would have when Prepare wrote them.
func dropEmpty(props json.RawMessage, names ...string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(props, &m) != nil {
		return props
	}
	for _, n := range names {
		if v := string(m[n]); v == `""` || v == "null" {
			delete(m, n)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return props
	}
	return out
}
