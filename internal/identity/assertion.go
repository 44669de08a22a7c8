package identity

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Workload identity federation at the token endpoint: an application
// authenticates with a token from an external OpenID Connect issuer
// (client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer,
// RFC 7523 §2.2) that one of its federated identity credentials trusts, as
// azidentity.ClientAssertionCredential sends it. The answer is the
// application's token, exactly as with its secret.
//
// The order of the checks is Entra's, and it is also what keeps the
// endpoint from being a fetcher of arbitrary URLs: the assertion is read
// (not trusted yet), a credential of the application must name its issuer,
// subject and audience, and only then are that configured issuer's keys
// fetched to verify the signature and the validity period.

// clientAssertionTypeJWT is the only client assertion type accepted.
const clientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionAlgs are the signature algorithms accepted: asymmetric ones
// only, so neither "none" nor an HMAC keyed with a public key can pass.
var assertionAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// maxAssertionLifetime is Entra's limit on an external token's lifetime
// (exp - iat, AADSTS70023): a long-lived token would be a secret by
// another name.
const maxAssertionLifetime = 25 * time.Hour

// federationDocs is where Entra's refusals point.
const federationDocs = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"

// assertionUse says how refusals of an external token read: as a client
// assertion, where the client fails to authenticate (401 invalid_client),
// or as a user's authorization grant (400 invalid_grant, RFC 7523 §3.1).
type assertionUse struct {
	param  string // the form parameter that carried it
	noun   string // how Entra's messages name it
	status int
	code   string
	// timeCode is Entra's code for a token outside its validity period.
	timeCode int
}

var (
	asClientAssertion = assertionUse{param: "client_assertion", noun: "Client assertion", status: http.StatusUnauthorized, code: "invalid_client", timeCode: 700024}
	asUserGrant       = assertionUse{param: "assertion", noun: "Assertion", status: http.StatusBadRequest, code: "invalid_grant", timeCode: 500133}
)

func (u assertionUse) refuse(aadsts int, format string, args ...any) *stsError {
	return newSTSError(u.status, u.code, aadsts, format, args...)
}

// assertion is an external token as read, not yet trusted.
type assertion struct {
	alg    string
	claims jwt.RegisteredClaims
}

// readAssertion reads a client assertion without verifying it, and refuses
// one that could never pass: malformed, signed with an algorithm that is
// not asymmetric, or lacking the claims the checks need.
func readAssertion(raw string, use assertionUse) (*assertion, error) {
	var claims jwt.RegisteredClaims
	tok, _, err := jwt.NewParser(jwt.WithStrictDecoding()).ParseUnverified(raw, &claims)
	if err != nil {
		if alg, ok := headerAlg(tok); ok && errors.Is(err, jwt.ErrTokenUnverifiable) {
			return nil, unsupportedAlgError(use, alg)
		}
		return nil, invalidAssertionError(use, "The "+use.param+" must be a JWT: three base64url segments, header.payload.signature.")
	}
	alg := tok.Method.Alg()
	if !slices.Contains(assertionAlgs, alg) {
		return nil, unsupportedAlgError(use, alg)
	}
	if claims.Issuer == "" || claims.Subject == "" || len(claims.Audience) == 0 || slices.Contains(claims.Audience, "") ||
		claims.ExpiresAt == nil || claims.IssuedAt == nil {
		return nil, invalidAssertionError(use, "The "+use.param+" must carry the claims 'iss', 'sub', 'aud', 'iat' and 'exp'.")
	}
	if life := claims.ExpiresAt.Sub(claims.IssuedAt.Time); life > maxAssertionLifetime {
		return nil, use.refuse(70023,
			"External OIDC Provider token must have a lifetime of less than or equal to 1.01:00:00. Token issued at %d. Token expires on %d.",
			claims.IssuedAt.Unix(), claims.ExpiresAt.Unix())
	}
	return &assertion{alg: alg, claims: claims}, nil
}

func headerAlg(tok *jwt.Token) (string, bool) {
	if tok == nil {
		return "", false
	}
	alg, ok := tok.Header["alg"].(string)
	return alg, ok
}

func invalidAssertionError(use assertionUse, detail string) *stsError {
	return use.refuse(50027, "JWT token is invalid or malformed. %s", detail)
}

func unsupportedAlgError(use assertionUse, alg string) *stsError {
	return use.refuse(50027,
		"Invalid JWT token. The signing algorithm '%s' is not supported for the %s: use RS256, PS256 or ES256 (or their 384 and 512 variants).", clip(alg), use.param)
}

// clientAssertionGrant is the client credentials grant authenticated with
// a federated client assertion.
func (i *Issuer) clientAssertionGrant(r *http.Request, tenantID string, form url.Values) (tokenResponse, error) {
	clientID, raw, err := clientAssertionOf(r, form)
	if err != nil {
		return tokenResponse{}, err
	}
	resource, err := resourceFromScope(form.Get("scope"))
	if err != nil {
		return tokenResponse{}, err
	}
	app, err := i.verifyClientAssertion(r.Context(), tenantID, clientID, raw)
	if err != nil {
		return tokenResponse{}, err
	}
	return i.appTokenResponse(app, tenantID, resource)
}

// clientAssertionOf reads the client id and the assertion, refusing a
// request that also sends a secret.
func clientAssertionOf(r *http.Request, form url.Values) (clientID, raw string, err error) {
	if _, _, basic := r.BasicAuth(); basic || form.Get("client_secret") != "" {
		return "", "", newSTSError(http.StatusBadRequest, "invalid_request", 0,
			"The request authenticates the client twice (client_assertion and a client secret); use one method.")
	}
	switch typ := form.Get("client_assertion_type"); typ {
	case clientAssertionTypeJWT:
	case "":
		return "", "", missingParameterError("client_assertion_type")
	default:
		return "", "", newSTSError(http.StatusBadRequest, "invalid_request", 0,
			"The client_assertion_type '%s' is not supported: use %s.", clip(typ), clientAssertionTypeJWT)
	}
	raw = form.Get("client_assertion")
	if raw == "" {
		return "", "", missingParameterError("client_assertion")
	}
	clientID = form.Get("client_id")
	if clientID == "" {
		return "", "", missingParameterError("client_id")
	}
	return clientID, raw, nil
}

// verifyClientAssertion returns the application with client id clientID
// if raw is a valid token that one of its federated identity credentials
// trusts.
func (i *Issuer) verifyClientAssertion(ctx context.Context, tenantID, clientID, raw string) (Application, error) {
	a, err := readAssertion(raw, asClientAssertion)
	if err != nil {
		return Application{}, err
	}
	app, err := i.dir.Application(ctx, tenantID, clientID)
	if errors.Is(err, ErrApplicationNotFound) {
		return Application{}, newSTSError(http.StatusBadRequest, "unauthorized_client", 700016,
			"Application with identifier '%s' was not found in the directory '%s'.", clip(clientID), tenantID)
	}
	if err != nil {
		return Application{}, err
	}
	fic, err := matchFederated(app, a)
	if err != nil {
		return Application{}, err
	}
	want := expectedToken{issuer: fic.Issuer, subject: fic.Subject, audience: fic.Audiences[0]}
	if err := i.verifyAssertion(ctx, asClientAssertion, raw, want); err != nil {
		return Application{}, err
	}
	return app, nil
}

// matchFederated finds the credential the assertion is for, answering a
// mismatch as Entra does: by the first of issuer, subject and audience
// that no credential matches, echoing only the assertion's own values.
func matchFederated(app Application, a *assertion) (FederatedIdentityCredential, error) {
	iss, sub, aud := a.claims.Issuer, a.claims.Subject, []string(a.claims.Audience)
	creds := app.FederatedIdentityCredentials
	if len(creds) == 0 {
		return FederatedIdentityCredential{}, newSTSError(http.StatusUnauthorized, "invalid_client", 70021,
			"No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'. %s",
			clip(iss), clip(sub), clip(strings.Join(aud, ",")), federationDocs)
	}
	creds = slices.DeleteFunc(slices.Clone(creds), func(c FederatedIdentityCredential) bool { return c.Issuer != iss })
	if len(creds) == 0 {
		return FederatedIdentityCredential{}, noFederatedMatch(700211, "issuer", iss)
	}
	creds = slices.DeleteFunc(creds, func(c FederatedIdentityCredential) bool { return c.Subject != sub })
	if len(creds) == 0 {
		return FederatedIdentityCredential{}, noFederatedMatch(700213, "subject", sub)
	}
	for _, c := range creds {
		if slices.Contains(aud, c.Audiences[0]) {
			return c, nil
		}
	}
	return FederatedIdentityCredential{}, noFederatedMatch(700212, "audience", strings.Join(aud, ","))
}

func noFederatedMatch(code int, claim, value string) *stsError {
	return newSTSError(http.StatusUnauthorized, "invalid_client", code,
		"No matching federated identity record found for presented assertion %s '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. %s",
		claim, clip(value), federationDocs)
}

// expectedToken is what a verified external token must say: its issuer
// (whose keys verify it), its subject and one of its audiences.
type expectedToken struct {
	issuer, subject, audience string
}

// verifyAssertion checks the assertion's signature with the keys the
// expected issuer publishes, its claims, then its validity period. A
// failure to get the keys refuses the request: nothing unverified passes.
func (i *Issuer) verifyAssertion(ctx context.Context, use assertionUse, raw string, want expectedToken) error {
	var keyErr error
	claims := &jwt.RegisteredClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods(assertionAlgs),
		jwt.WithStrictDecoding(),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(i.now),
		jwt.WithIssuer(want.issuer),
		jwt.WithSubject(want.subject),
		jwt.WithAudience(want.audience),
	)
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		var key any
		key, keyErr = i.oidc.key(ctx, want.issuer, kid, t.Method.Alg())
		return key, keyErr
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(keyErr, errOIDCFetch):
		i.log.WarnContext(ctx, "external OpenID Connect issuer unavailable", slog.String("issuer", want.issuer), slog.Any("error", keyErr))
		return newSTSError(http.StatusBadRequest, "invalid_request", 50166,
			"Request to External OIDC endpoint failed. Perimeter could not get the keys of issuer '%s' from its discovery document; the server's log has the reason.", clip(want.issuer))
	case keyErr != nil && !errors.Is(keyErr, errUnknownKey):
		return keyErr // the request's context ended: not the caller's fault to report
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return assertionTimeError(use, i.now(), claims)
	}
	return use.refuse(50027,
		"Invalid JWT token. The %s's signature does not verify with the keys issuer '%s' publishes.", use.param, clip(want.issuer))
}

// assertionTimeError is Entra's refusal of a token outside its validity
// period (AADSTS700024 for client assertions, 500133 for grants), with the
// times it shows.
func assertionTimeError(use assertionUse, now time.Time, c *jwt.RegisteredClaims) *stsError {
	const layout = "2006-01-02T15:04:05.0000000Z"
	from := time.Unix(0, 0)
	if c.NotBefore != nil {
		from = c.NotBefore.Time
	} else if c.IssuedAt != nil {
		from = c.IssuedAt.Time
	}
	var exp time.Time
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.Time
	}
	return use.refuse(use.timeCode,
		"%s is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Get a new token from your identity provider.",
		use.noun, now.UTC().Format(layout), from.UTC().Format(layout), exp.UTC().Format(layout))
}
