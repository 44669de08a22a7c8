package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clockSkew is how far the clocks of the issuer and a verifier may disagree
// (or how late a token may arrive); five minutes, as Entra-protected APIs
// allow, and never more.
const clockSkew = 5 * time.Minute

// ErrInvalidToken is wrapped by every refusal of a token by Verify. Errors
// that do not wrap it (a store outage, say) are the server's problem, not
// the caller's.
var ErrInvalidToken = errors.New("invalid token")

// ErrTokenExpired is also wrapped by the refusal of an expired token, for
// callers that answer it differently (ARM's ExpiredAuthenticationToken).
var ErrTokenExpired = errors.New("token expired")

// TokenError is a refusal of a token. Reason is short, fixed text that is
// safe to show the caller (for example in WWW-Authenticate
// error_description); the underlying cause, for logs, is available through
// errors.Unwrap.
type TokenError struct {
	Reason string
	cause  error
}

func (e *TokenError) Error() string { return "invalid token: " + e.Reason }

// Unwrap returns ErrInvalidToken and the cause, if any.
func (e *TokenError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrInvalidToken}
	}
	return []error{ErrInvalidToken, e.cause}
}

func refuse(reason string, cause error) error { return &TokenError{Reason: reason, cause: cause} }

// Refusal reasons. They name what is wrong without echoing token content.
const (
	reasonMalformed    = "malformed token"
	reasonAlgorithm    = "unsupported signing algorithm"
	reasonUnknownKey   = "unknown signing key"
	reasonSignature    = "invalid signature"
	reasonExpired      = "token expired"
	reasonNotYetValid  = "token not yet valid"
	reasonIssuedLater  = "token issued in the future"
	reasonMissingClaim = "missing required claim"
	reasonIssuer       = "invalid issuer"
	reasonAudience     = "invalid audience"
	reasonClaims       = "invalid claims"
	reasonTenant       = "unknown tenant"
)

// PrincipalType is the kind of identity a token was issued to.
type PrincipalType string

// Kinds of principal (Entra's "idtyp").
const (
	// PrincipalTypeApp is an application signed in with its own
	// credentials; ObjectID is its service principal.
	PrincipalTypeApp PrincipalType = "app"
	// PrincipalTypeUser is a user signed in with their password through a
	// client (AppID); ObjectID is the user.
	PrincipalTypeUser PrincipalType = "user"
)

// Principal is the identity a verified token speaks for.
type Principal struct {
	TenantID string
	// ObjectID is the principal's object id ("oid"): the service
	// principal's for an application, the user's for a user; the id role
	// assignments name.
	ObjectID string
	// AppID is the client id the token was issued to (for a user token,
	// the client the user signed in through).
	AppID string
	// Audience is the entry of Verify's audiences that the token matched,
	// as the caller spelled it.
	Audience string
	Type     PrincipalType
	// UPN is a user's userPrincipalName; "" for applications.
	UPN string
	// ManagedIdentityResourceID is, for a managed identity, the resource
	// it belongs to; "" for other principals.
	ManagedIdentityResourceID string
	ExpiresAt                 time.Time
}

// errUnknownKey marks a kid that is not ours, to tell it from a bad
// signature.
var errUnknownKey = errors.New("identity: no signing key with that kid")

// Verify checks a bearer token issued by this Issuer for one of audiences
// (trailing slashes do not matter) and returns its principal. A refusal
// wraps ErrInvalidToken and is a *TokenError; other errors mean the check
// itself failed. Verify uses a background context for its directory
// look-up; VerifyContext takes the request's.
func (i *Issuer) Verify(token string, audiences ...string) (*Principal, error) {
	return i.VerifyContext(context.Background(), token, audiences...)
}

// VerifyContext is Verify with a context for the directory look-up.
func (i *Issuer) VerifyContext(ctx context.Context, token string, audiences ...string) (*Principal, error) {
	base, err := i.base()
	if err != nil {
		return nil, err
	}
	claims := &tokenClaims{}
	parser := jwt.NewParser(
		// Only ES256, whatever the header says: no "none", and no HS256
		// with our public key as the HMAC secret.
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithStrictDecoding(),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(i.now),
	)
	parsed, err := parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != i.key.KeyID() {
			return nil, errUnknownKey
		}
		return i.key.PublicKey(), nil
	})
	if err != nil {
		if parsed != nil && parsed.Method != nil && parsed.Method != jwt.SigningMethodES256 {
			return nil, refuse(reasonAlgorithm, err)
		}
		return nil, parseRefusal(err)
	}

	if claims.NotBefore == nil || claims.IssuedAt == nil {
		return nil, refuse(reasonMissingClaim, nil)
	}
	tenantID, ok := canonicalGUID(claims.TenantID)
	if !ok || claims.Issuer != issuerURL(base, tenantID) {
		return nil, refuse(reasonIssuer, fmt.Errorf("iss %q, tid %q", claims.Issuer, claims.TenantID))
	}
	matched := ""
	for _, want := range audiences {
		if sameAudience(claims.Audience, want) {
			matched = want
			break
		}
	}
	if matched == "" {
		return nil, refuse(reasonAudience, fmt.Errorf("aud %q, want one of %q", claims.Audience, audiences))
	}
	if claims.Version != "2.0" ||
		claims.ObjectID == "" || claims.Subject != claims.ObjectID ||
		claims.AppID == "" || claims.AuthorizedParty != claims.AppID {
		return nil, refuse(reasonClaims, nil)
	}
	var typ PrincipalType
	switch claims.IdentityType {
	case identityTypeApp:
		if claims.UPN != "" || claims.Scope != "" {
			return nil, refuse(reasonClaims, errors.New("app token with user claims"))
		}
		typ = PrincipalTypeApp
	case identityTypeUser:
		if claims.UPN == "" || claims.Scope != scopeUserImpersonation || claims.ManagedIdentityResourceID != "" {
			return nil, refuse(reasonClaims, errors.New("user token without upn or scp"))
		}
		typ = PrincipalTypeUser
	default:
		return nil, refuse(reasonClaims, fmt.Errorf("idtyp %q", claims.IdentityType))
	}
	if _, err := i.dir.Tenant(ctx, tenantID); err != nil {
		if errors.Is(err, ErrTenantNotFound) {
			return nil, refuse(reasonTenant, err)
		}
		return nil, fmt.Errorf("identity: verify token: %w", err)
	}
	return &Principal{
		TenantID:  tenantID,
		ObjectID:  claims.ObjectID,
		AppID:     claims.AppID,
		Audience:  matched,
		Type:      typ,
		UPN:       claims.UPN,
		ExpiresAt: claims.ExpiresAt.UTC(),

		ManagedIdentityResourceID: claims.ManagedIdentityResourceID,
	}, nil
}

// parseRefusal turns a jwt parse error into a refusal with a safe reason.
func parseRefusal(err error) error {
	switch {
	case errors.Is(err, errUnknownKey):
		return refuse(reasonUnknownKey, err)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(reasonMalformed, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse(reasonSignature, err)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// An "alg" the library does not know at all.
		return refuse(reasonAlgorithm, err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return refuse(reasonExpired, errors.Join(ErrTokenExpired, err))
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return refuse(reasonNotYetValid, err)
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return refuse(reasonIssuedLater, err)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return refuse(reasonMissingClaim, err)
	}
	return refuse(reasonMalformed, err)
}
