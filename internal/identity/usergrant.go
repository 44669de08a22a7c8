package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// People sign in with their company's own identity provider: the JWT
// bearer grant (grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer,
// RFC 7523 §2.1) takes a token the provider gave the user (an ID token, or
// any JWT it signs) and answers the token of the user whose identities
// name the token's issuer and subject, exactly as the password grant
// would for that user.
//
// Which providers count is the operator's choice, not the directory's:
// only issuers configured as TrustedIssuer are accepted, with the
// audience configured for each. A directory writer can list any issuer in
// a user's identities, but that never makes the server fetch keys from
// it. As with client assertions, the checks that need no network come
// first: the token is read (not trusted yet), its issuer and audience must
// be configured, and only then are that issuer's keys fetched to verify
// the signature and validity period; the user is looked up last, so that
// an unsigned token cannot probe which users exist.

// grantTypeJWTBearer is RFC 7523's authorization grant type.
const grantTypeJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// TrustedIssuer is an external OpenID Connect issuer whose tokens users
// sign in with. Its keys come from {Issuer}/.well-known/openid-configuration.
type TrustedIssuer struct {
	// Issuer is compared exactly with the token's "iss"; an https URL.
	Issuer string
	// Audience must be among the token's "aud": the client id the
	// provider gives Perimeter, so that a token the provider issued for
	// another application cannot sign in here.
	Audience string
}

// ParseTrustedIssuer reads ISSUER=AUDIENCE, as `perimeter serve
// --trusted-issuer` takes it. The issuer has no query, so the first '='
// ends it.
func ParseTrustedIssuer(s string) (TrustedIssuer, error) {
	iss, aud, ok := strings.Cut(s, "=")
	if !ok || aud == "" {
		return TrustedIssuer{}, fmt.Errorf("trusted issuer %q: give ISSUER=AUDIENCE, such as https://idp.example.com=perimeter (the audience is the client id your identity provider gives Perimeter)", s)
	}
	t := TrustedIssuer{Issuer: iss, Audience: aud}
	if err := CheckTrustedIssuers([]TrustedIssuer{t}); err != nil {
		return TrustedIssuer{}, err
	}
	return t, nil
}

// CheckTrustedIssuers validates the trusted issuers: https URLs, exact
// values, each issuer once.
func CheckTrustedIssuers(ts []TrustedIssuer) error {
	seen := map[string]bool{}
	for _, t := range ts {
		if err := checkIssuerURL("trusted issuer", t.Issuer); err != nil {
			return fmt.Errorf("trusted issuer %q: %s", t.Issuer, refusalMessage(err))
		}
		if err := checkExactClaim("trusted issuer", "audience", t.Audience); err != nil {
			return fmt.Errorf("trusted issuer %q: %s", t.Issuer, refusalMessage(err))
		}
		if seen[t.Issuer] {
			return fmt.Errorf("trusted issuer %q is given twice: give each issuer once, with the one audience its tokens for Perimeter carry", t.Issuer)
		}
		seen[t.Issuer] = true
	}
	return nil
}

// refusalMessage is the message of a directory refusal, else the error.
func refusalMessage(err error) string {
	var re *RequestError
	if errors.As(err, &re) {
		return re.Message
	}
	return err.Error()
}

// jwtBearerGrant signs a user in with a token of a trusted identity
// provider, through a client as the password grant does.
func (i *Issuer) jwtBearerGrant(r *http.Request, tenantID string, form url.Values) (tokenResponse, error) {
	if use := form.Get("requested_token_use"); use != "" {
		return tokenResponse{}, newSTSError(http.StatusBadRequest, "invalid_request", 0,
			"The requested_token_use '%s' is not supported: Perimeter has no on-behalf-of flow. Leave requested_token_use out to sign a user in with their identity provider's token.", clip(use))
	}
	client, err := i.userClient(r, tenantID, form)
	if err != nil {
		return tokenResponse{}, err
	}
	raw := form.Get("assertion")
	if raw == "" {
		return tokenResponse{}, missingParameterError("assertion")
	}
	scope, err := userScopeOf(form.Get("scope"))
	if err != nil {
		return tokenResponse{}, err
	}
	if err := client.authenticate(i, r, tenantID); err != nil {
		return tokenResponse{}, err
	}
	user, err := i.verifyUserAssertion(r.Context(), tenantID, raw)
	if err != nil {
		return tokenResponse{}, err
	}
	return i.userTokenResponse(user, client, scope)
}

// verifyUserAssertion returns the enabled user that a valid token of a
// trusted issuer names.
func (i *Issuer) verifyUserAssertion(ctx context.Context, tenantID, raw string) (User, error) {
	a, err := readAssertion(raw, asUserGrant)
	if err != nil {
		return User{}, err
	}
	iss, sub, aud := a.claims.Issuer, a.claims.Subject, []string(a.claims.Audience)
	trusted, ok := i.trustedIssuers[iss]
	if !ok {
		return User{}, asUserGrant.refuse(700211,
			"No matching federated identity record found for presented assertion issuer '%s'. Users sign in only with tokens of the issuers the server's operator trusts (perimeter serve --trusted-issuer). %s",
			clip(iss), federationDocs)
	}
	if !slices.Contains(aud, trusted.Audience) {
		return User{}, asUserGrant.refuse(700212,
			"No matching federated identity record found for presented assertion audience '%s'. Ask your identity provider for a token for the audience the server's operator configured for issuer '%s'.",
			clip(strings.Join(aud, ",")), clip(iss))
	}
	if err := i.verifyAssertion(ctx, asUserGrant, raw, expectedToken{issuer: iss, subject: sub, audience: trusted.Audience}); err != nil {
		return User{}, err
	}
	user, err := i.dir.UserByIdentity(ctx, tenantID, iss, sub)
	if errors.Is(err, ErrObjectNotFound) || errors.Is(err, ErrTenantNotFound) {
		// Only a holder of a valid token for this subject learns this.
		return User{}, asUserGrant.refuse(50034,
			"The user account does not exist in the directory. No user of tenant %s signs in with issuer '%s' and subject '%s'; an administrator adds that identity to the user (identities).",
			tenantID, clip(iss), clip(sub))
	}
	if err != nil {
		return User{}, err
	}
	if !user.AccountEnabled {
		return User{}, userDisabledError()
	}
	return user, nil
}
