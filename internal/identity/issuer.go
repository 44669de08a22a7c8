package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTokenLifetime is the lifetime of an access token when
// IssuerConfig.Lifetime is zero; Entra's default for app tokens is about an
// hour too.
const DefaultTokenLifetime = time.Hour

// IssuerConfig configures an Issuer.
type IssuerConfig struct {
	// Directory holds the tenants and applications. Required.
	Directory *Directory
	// Key signs tokens. Required.
	Key *SigningKey
	// BaseURL returns the public base URL of the listener serving
	// Handler, such as "https://127.0.0.1:8443" (no trailing slash needed).
	// It is a func because the URL is known only once the listener has
	// bound; it is called on every request and verification, so it must be
	// cheap and safe for concurrent use (return a constant, or read an
	// atomic). Required. Until it returns a non-empty URL the endpoints
	// answer 503 and Verify fails.
	//
	// Tokens name their issuer from it, so clients must use this same
	// scheme and host as their authority host: MSAL refuses metadata whose
	// issuer host differs from the authority's.
	BaseURL func() string
	// Now is the clock for issuing and verifying tokens. Nil means
	// time.Now.
	Now func() time.Time
	// Lifetime of access tokens. Zero means DefaultTokenLifetime.
	Lifetime time.Duration
	// Logger receives failures that are the server's fault (the client
	// sees only a bare server_error). Nil means slog.Default().
	Logger *slog.Logger
	// FederationClient fetches the OpenID Connect discovery documents and
	// signing keys of the external issuers that applications' federated
	// identity credentials trust. Nil means a client that trusts the
	// system's root CAs. Whatever the client, only https URLs are fetched
	// (redirects included), within 10 seconds and 256 KiB per answer.
	FederationClient *http.Client
}

// Issuer issues and verifies tokens. It is safe for concurrent use.
type Issuer struct {
	dir      *Directory
	key      *SigningKey
	baseURL  func() string
	now      func() time.Time
	lifetime time.Duration
	log      *slog.Logger
	mux      *http.ServeMux
	// oidc caches the keys of external issuers (workload identity
	// federation).
	oidc *oidcKeys
}

// NewIssuer returns an Issuer. It panics if Directory, Key or BaseURL is
// nil: that is a wiring mistake, not a runtime condition.
func NewIssuer(cfg IssuerConfig) *Issuer {
	if cfg.Directory == nil || cfg.Key == nil || cfg.BaseURL == nil {
		panic("identity: NewIssuer needs Directory, Key and BaseURL")
	}
	i := &Issuer{
		dir:      cfg.Directory,
		key:      cfg.Key,
		baseURL:  cfg.BaseURL,
		now:      cfg.Now,
		lifetime: cfg.Lifetime,
		log:      cfg.Logger,
	}
	if i.log == nil {
		i.log = slog.Default()
	}
	if i.now == nil {
		i.now = time.Now
	}
	if i.lifetime <= 0 {
		i.lifetime = DefaultTokenLifetime
	}
	i.oidc = newOIDCKeys(cfg.FederationClient, i.now)
	i.mux = i.routes()
	return i
}

// errNoBaseURL is returned while the listener's URL is not yet known.
var errNoBaseURL = errors.New("identity: issuer base URL not set yet")

// base returns the configured base URL without trailing slashes.
func (i *Issuer) base() (string, error) {
	b := strings.TrimRight(i.baseURL(), "/")
	if b == "" {
		return "", errNoBaseURL
	}
	return b, nil
}

func issuerURL(base, tenantID string) string { return base + "/" + tenantID + "/v2.0" }

// tokenClaims are the claims of an access token, named and shaped as in
// Entra v2.0 app-only and user tokens ("aud" is a single string, as Entra
// sends it).
type tokenClaims struct {
	Audience  string           `json:"aud"`
	Issuer    string           `json:"iss"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	// AppID and AuthorizedParty are the client id (v1 and v2 names).
	AppID           string `json:"appid"`
	AuthorizedParty string `json:"azp"`
	// AuthorizedPartyACR "1": the client authenticated with a secret;
	// "0": a public client (user tokens from the Azure CLI's client id).
	AuthorizedPartyACR string `json:"azpacr"`
	IdentityType       string `json:"idtyp"`
	// ObjectID is the object id of the principal: for client-credentials
	// tokens the application's service principal (as in Entra), for user
	// tokens the user. Role assignments name it as principalId.
	ObjectID string `json:"oid"`
	Subject  string `json:"sub"`
	TenantID string `json:"tid"`
	TokenID  string `json:"jti"`
	Version  string `json:"ver"`
	// User tokens only: the sign-in name (v1 "upn" and "unique_name"), the
	// display name and the delegated scope.
	UPN        string `json:"upn,omitempty"`
	UniqueName string `json:"unique_name,omitempty"`
	Name       string `json:"name,omitempty"`
	Scope      string `json:"scp,omitempty"`
	// ManagedIdentityResourceID is, in a managed identity's tokens, the
	// resource the identity belongs to (Entra's "xms_mirid").
	ManagedIdentityResourceID string `json:"xms_mirid,omitempty"`
}

func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt, nil }
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore, nil }
func (c *tokenClaims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *tokenClaims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}

// "idtyp" of app-only and user tokens.
const (
	identityTypeApp  = "app"
	identityTypeUser = "user"
)

// scopeUserImpersonation is the "scp" of user tokens: the user's own
// access to the API, as the Azure services' delegated permission is named.
const scopeUserImpersonation = "user_impersonation"

// AccessToken is an issued token.
type AccessToken struct {
	Token     string
	ExpiresOn time.Time
}

// IssueAppToken signs an app-only access token for app (which must carry
// its TenantID and ServicePrincipalID, as returned by the Directory) with
// the given audience. Its "oid" is the application's service principal,
// which role assignments name; an application without one gets no token,
// as from Entra. The token endpoint uses it after authenticating the
// client; other callers are trusted code that has authenticated the
// application in another way.
func (i *Issuer) IssueAppToken(app Application, audience string) (AccessToken, error) {
	if app.TenantID == "" || app.ObjectID == "" || app.AppID == "" || app.ServicePrincipalID == "" || audience == "" {
		return AccessToken{}, errors.New("identity: IssueAppToken needs an application with tenant, object, client and service principal ids, and an audience")
	}
	oid := app.ServicePrincipalID
	return i.sign(&tokenClaims{
		Audience:           audience,
		AppID:              app.AppID,
		AuthorizedParty:    app.AppID,
		AuthorizedPartyACR: "1",
		IdentityType:       identityTypeApp,
		ObjectID:           oid,
		Subject:            oid,
		TenantID:           app.TenantID,
	})
}

// azpacrManagedIdentity is the "azpacr" of managed identity tokens: the
// identity authenticated with a credential Entra holds for it, as with a
// certificate.
const azpacrManagedIdentity = "2"

// IssueManagedIdentityToken signs an app-only access token for a managed
// identity's service principal sp (which must carry its TenantID): "oid"
// is the identity's principal id and "appid" its client id, as in Entra.
// resourceID is the resource the identity belongs to. The managed identity
// endpoint uses it after authenticating a workload binding.
func (i *Issuer) IssueManagedIdentityToken(sp ServicePrincipal, resourceID, audience string) (AccessToken, error) {
	if sp.TenantID == "" || sp.ID == "" || sp.AppID == "" || resourceID == "" || audience == "" {
		return AccessToken{}, errors.New("identity: IssueManagedIdentityToken needs a service principal with tenant, object and client ids, a resource id and an audience")
	}
	return i.sign(&tokenClaims{
		Audience:                  audience,
		AppID:                     sp.AppID,
		AuthorizedParty:           sp.AppID,
		AuthorizedPartyACR:        azpacrManagedIdentity,
		IdentityType:              identityTypeApp,
		ObjectID:                  sp.ID,
		Subject:                   sp.ID,
		TenantID:                  sp.TenantID,
		ManagedIdentityResourceID: resourceID,
	})
}

// IssueUserToken signs a user (delegated) access token for user (which
// must carry its TenantID, as returned by the Directory), obtained through
// the client clientID, with the given audience. clientAuthenticated says
// whether the client proved itself with a secret ("azpacr" 1) or is a
// public client (0). The token endpoint uses it after checking the user's
// password.
func (i *Issuer) IssueUserToken(user User, clientID, audience string, clientAuthenticated bool) (AccessToken, error) {
	if user.TenantID == "" || user.ID == "" || user.UserPrincipalName == "" || clientID == "" || audience == "" {
		return AccessToken{}, errors.New("identity: IssueUserToken needs a user with tenant, object id and userPrincipalName, a client id and an audience")
	}
	acr := "0"
	if clientAuthenticated {
		acr = "1"
	}
	return i.sign(&tokenClaims{
		Audience:           audience,
		AppID:              clientID,
		AuthorizedParty:    clientID,
		AuthorizedPartyACR: acr,
		IdentityType:       identityTypeUser,
		ObjectID:           user.ID,
		Subject:            user.ID,
		TenantID:           user.TenantID,
		UPN:                user.UserPrincipalName,
		UniqueName:         user.UserPrincipalName,
		Name:               user.DisplayName,
		Scope:              scopeUserImpersonation,
	})
}

// sign completes claims with the issuer, times, token id and version, and
// signs them.
func (i *Issuer) sign(claims *tokenClaims) (AccessToken, error) {
	base, err := i.base()
	if err != nil {
		return AccessToken{}, err
	}
	now := i.now().Truncate(time.Second)
	claims.Issuer = issuerURL(base, claims.TenantID)
	claims.IssuedAt = jwt.NewNumericDate(now)
	claims.NotBefore = jwt.NewNumericDate(now)
	claims.ExpiresAt = jwt.NewNumericDate(now.Add(i.lifetime))
	claims.TokenID = newGUID()
	claims.Version = "2.0"
	signed, err := i.signJWT(claims)
	if err != nil {
		return AccessToken{}, err
	}
	return AccessToken{Token: signed, ExpiresOn: now.Add(i.lifetime)}, nil
}

// signJWT signs any claims with the issuer's key.
func (i *Issuer) signJWT(claims jwt.Claims) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = i.key.KeyID()
	tok.Header["typ"] = "JWT"
	signed, err := tok.SignedString(i.key.private)
	if err != nil {
		return "", fmt.Errorf("identity: sign token: %w", err)
	}
	return signed, nil
}

// idTokenClaims are the claims of the OpenID Connect ID token a user
// sign-in returns when the client asks for "openid": MSAL reads the
// account (name, username, tenant) from it.
type idTokenClaims struct {
	Audience          string           `json:"aud"`
	Issuer            string           `json:"iss"`
	IssuedAt          *jwt.NumericDate `json:"iat"`
	NotBefore         *jwt.NumericDate `json:"nbf"`
	ExpiresAt         *jwt.NumericDate `json:"exp"`
	Name              string           `json:"name"`
	ObjectID          string           `json:"oid"`
	PreferredUsername string           `json:"preferred_username"`
	Subject           string           `json:"sub"`
	TenantID          string           `json:"tid"`
	Version           string           `json:"ver"`
}

func (c *idTokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c *idTokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt, nil }
func (c *idTokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore, nil }
func (c *idTokenClaims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *idTokenClaims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *idTokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}

// issueIDToken signs an ID token for user, addressed to the client.
func (i *Issuer) issueIDToken(user User, clientID string) (string, error) {
	base, err := i.base()
	if err != nil {
		return "", err
	}
	now := i.now().Truncate(time.Second)
	return i.signJWT(&idTokenClaims{
		Audience:          clientID,
		Issuer:            issuerURL(base, user.TenantID),
		IssuedAt:          jwt.NewNumericDate(now),
		NotBefore:         jwt.NewNumericDate(now),
		ExpiresAt:         jwt.NewNumericDate(now.Add(i.lifetime)),
		Name:              user.DisplayName,
		ObjectID:          user.ID,
		PreferredUsername: user.UserPrincipalName,
		Subject:           user.ID,
		TenantID:          user.TenantID,
		Version:           "2.0",
	})
}
