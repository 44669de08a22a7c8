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
// Entra v2.0 app-only tokens ("aud" is a single string, as Entra sends it).
type tokenClaims struct {
	Audience  string           `json:"aud"`
	Issuer    string           `json:"iss"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	// AppID and AuthorizedParty are the client id (v1 and v2 names).
	AppID           string `json:"appid"`
	AuthorizedParty string `json:"azp"`
	// AuthorizedPartyACR "1": the client authenticated with a secret.
	AuthorizedPartyACR string `json:"azpacr"`
	IdentityType       string `json:"idtyp"`
	// ObjectID is the object id of the principal. Entra puts the service
	// principal's object id here for client-credentials tokens; Perimeter
	// has no service principals yet and uses the application's object id.
	// When service principals arrive, this becomes theirs (and role
	// assignments, which name principalId, follow).
	ObjectID string `json:"oid"`
	Subject  string `json:"sub"`
	TenantID string `json:"tid"`
	TokenID  string `json:"jti"`
	Version  string `json:"ver"`
}

func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt, nil }
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore, nil }
func (c *tokenClaims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *tokenClaims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}

// identityTypeApp is the "idtyp" of app-only tokens.
const identityTypeApp = "app"

// AccessToken is an issued token.
type AccessToken struct {
	Token     string
	ExpiresOn time.Time
}

// IssueAppToken signs an app-only access token for app (which must carry
// its TenantID, as returned by the Directory) with the given audience. The
// token endpoint uses it after authenticating the client; other callers are
// trusted code that has authenticated the application in another way.
func (i *Issuer) IssueAppToken(app Application, audience string) (AccessToken, error) {
	base, err := i.base()
	if err != nil {
		return AccessToken{}, err
	}
	if app.TenantID == "" || app.ObjectID == "" || app.AppID == "" || audience == "" {
		return AccessToken{}, errors.New("identity: IssueAppToken needs an application with tenant, object and client ids, and an audience")
	}
	now := i.now().Truncate(time.Second)
	claims := &tokenClaims{
		Audience:           audience,
		Issuer:             issuerURL(base, app.TenantID),
		IssuedAt:           jwt.NewNumericDate(now),
		NotBefore:          jwt.NewNumericDate(now),
		ExpiresAt:          jwt.NewNumericDate(now.Add(i.lifetime)),
		AppID:              app.AppID,
		AuthorizedParty:    app.AppID,
		AuthorizedPartyACR: "1",
		IdentityType:       identityTypeApp,
		ObjectID:           app.ObjectID,
		Subject:            app.ObjectID,
		TenantID:           app.TenantID,
		TokenID:            newGUID(),
		Version:            "2.0",
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = i.key.KeyID()
	tok.Header["typ"] = "JWT"
	signed, err := tok.SignedString(i.key.private)
	if err != nil {
		return AccessToken{}, fmt.Errorf("identity: sign token: %w", err)
	}
	return AccessToken{Token: signed, ExpiresOn: now.Add(i.lifetime)}, nil
}
