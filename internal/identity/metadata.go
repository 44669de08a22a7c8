package identity

import (
	"net/http"
	"net/url"
	"strings"
)

// openIDConfiguration is the OpenID Connect discovery document. MSAL reads
// authorization_endpoint, token_endpoint and issuer (and requires the
// issuer's host to be the authority's); token validators read issuer and
// jwks_uri. Only what Perimeter implements is advertised.
type openIDConfiguration struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
}

// serveOpenIDConfiguration serves the same v2.0 document at the v2.0 and the
// unversioned path (Entra's unversioned one describes v1 tokens, which
// Perimeter does not issue).
func (i *Issuer) serveOpenIDConfiguration(w http.ResponseWriter, r *http.Request) error {
	base, err := i.base()
	if err != nil {
		return err
	}
	tenantID, err := i.tenantFromPath(r)
	if err != nil {
		return err
	}
	tenantBase := base + "/" + tenantID
	writeJSON(w, http.StatusOK, openIDConfiguration{
		Issuer:                            issuerURL(base, tenantID),
		AuthorizationEndpoint:             tenantBase + "/oauth2/v2.0/authorize",
		TokenEndpoint:                     tenantBase + "/oauth2/v2.0/token",
		JWKSURI:                           tenantBase + "/discovery/v2.0/keys",
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "client_secret_basic"},
		GrantTypesSupported:               []string{"client_credentials", "password", grantTypeJWTBearer},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"ES256"},
		ClaimsSupported: []string{"aud", "iss", "iat", "nbf", "exp", "tid", "oid", "sub",
			"appid", "azp", "azpacr", "idtyp", "ver", "jti", "upn", "unique_name", "name", "scp", "preferred_username"},
		CloudInstanceName: hostOf(base),
	})
	return nil
}

type jwks struct {
	Keys []JWK `json:"keys"`
}

func (i *Issuer) serveTenantKeys(w http.ResponseWriter, r *http.Request) error {
	base, err := i.base()
	if err != nil {
		return err
	}
	tenantID, err := i.tenantFromPath(r)
	if err != nil {
		return err
	}
	key := i.key.JWK()
	key.Issuer = issuerURL(base, tenantID)
	writeJSON(w, http.StatusOK, jwks{Keys: []JWK{key}})
	return nil
}

// serveCommonKeys serves the key set shared by all tenants; like Entra's,
// the issuer it names is a template.
func (i *Issuer) serveCommonKeys(w http.ResponseWriter, r *http.Request) error {
	base, err := i.base()
	if err != nil {
		return err
	}
	key := i.key.JWK()
	key.Issuer = issuerURL(base, "{tenantid}")
	writeJSON(w, http.StatusOK, jwks{Keys: []JWK{key}})
	return nil
}

type instanceMetadata struct {
	PreferredNetwork string   `json:"preferred_network"`
	PreferredCache   string   `json:"preferred_cache"`
	Aliases          []string `json:"aliases"`
}

type instanceDiscovery struct {
	TenantDiscoveryEndpoint string             `json:"tenant_discovery_endpoint,omitempty"`
	APIVersion              string             `json:"api-version"`
	Metadata                []instanceMetadata `json:"metadata"`
}

// serveInstanceDiscovery answers Entra's instance discovery
// (?api-version=1.1&authorization_endpoint=...). MSAL sends it to
// login.microsoftonline.com, not to the authority, whenever instance
// discovery is on and the authority host is not a Microsoft one; it reaches
// Perimeter only where that name is routed here. The answer names this
// listener as the only instance.
func (i *Issuer) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) error {
	base, err := i.base()
	if err != nil {
		return err
	}
	host := hostOf(base)
	resp := instanceDiscovery{
		APIVersion: "1.1",
		Metadata:   []instanceMetadata{{PreferredNetwork: host, PreferredCache: host, Aliases: []string{host}}},
	}
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		tenant, ok := tenantOfAuthorizationEndpoint(ae, host)
		if !ok {
			return newSTSError(http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance.")
		}
		resp.TenantDiscoveryEndpoint = base + "/" + url.PathEscape(tenant) + "/v2.0/.well-known/openid-configuration"
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// tenantOfAuthorizationEndpoint returns the tenant segment of an
// authorization endpoint URL on host.
func tenantOfAuthorizationEndpoint(endpoint, host string) (string, bool) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Host, host) {
		return "", false
	}
	tenant, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	return tenant, tenant != ""
}

// hostOf returns the host[:port] of a base URL.
func hostOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return u.Host
}
