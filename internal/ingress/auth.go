package ingress

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/snapshot"
)

// TokenVerifier verifies bearer tokens; *identity.Issuer is one. A refusal
// wraps identity.ErrInvalidToken; any other error means the check itself
// failed.
type TokenVerifier interface {
	VerifyContext(ctx context.Context, token string, audiences ...string) (*identity.Principal, error)
}

var _ TokenVerifier = (*identity.Issuer)(nil)

// Authorizer decides whether a verified principal may perform a data
// action (such as
// "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action")
// on an account. It is where RBAC plugs in: return an error to refuse (the
// caller gets 401 PermissionDenied, as Azure answers a missing data action).
type Authorizer interface {
	Authorize(ctx context.Context, p *identity.Principal, accountID, dataAction string) error
}

// Headers that carry client credentials. None of them reaches an upstream.
const (
	headerAPIKey       = "Api-Key"
	headerSubscription = "Ocp-Apim-Subscription-Key" // Cognitive Services' own name for the key
)

// apiKey returns the key the request presents, "" for none.
func apiKey(h http.Header) string {
	if k := h.Get(headerAPIKey); k != "" {
		return k
	}
	return h.Get(headerSubscription)
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(h http.Header) (string, bool) {
	v := h.Get("Authorization")
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// keyMatches compares the key's digest with both of the account's in
// constant time. Zero digests (keys that could not be read) match nothing.
func keyMatches(digests [2][32]byte, key string) bool {
	d := sha256.Sum256([]byte(key))
	var zero [32]byte
	ok := 0
	for _, want := range digests {
		ok |= subtle.ConstantTimeCompare(d[:], want[:]) & (1 ^ subtle.ConstantTimeCompare(want[:], zero[:]))
	}
	return ok == 1
}

// verifyToken verifies the request's bearer token once per exchange; the
// network check may have needed it already (trusted services).
func (g *Gateway) verifyToken(ctx context.Context, x *exchange, token string) (*identity.Principal, error) {
	if x.tokenChecked {
		return x.principal, x.tokenErr
	}
	x.tokenChecked = true
	if g.cfg.Tokens == nil {
		x.tokenErr = &identity.TokenError{Reason: "bearer tokens are not accepted here"}
		return nil, x.tokenErr
	}
	x.principal, x.tokenErr = g.cfg.Tokens.VerifyContext(ctx, token, identity.AudienceCognitiveServices)
	return x.principal, x.tokenErr
}

// authenticate checks the request's key or token against the account. A
// key wins over a token, as Azure's data plane reads api-key first.
func (g *Gateway) authenticate(r *http.Request, x *exchange, a *snapshot.Account) error {
	if key := apiKey(r.Header); key != "" {
		x.rec.AuthType = accesslog.AuthKey
		if a.DisableLocalAuth {
			return &refusal{Status: http.StatusForbidden, Code: "AuthenticationTypeDisabled", Message: msgLocalAuthOff,
				Layer: LayerAuthentication, Rule: "disableLocalAuth: true", LogCode: CodeAuthenticationTypeDisabled,
				Reason: "a key was presented and the account has local authentication disabled"}
		}
		if !keyMatches(a.KeyDigests, key) {
			return &refusal{Status: http.StatusUnauthorized, Code: "401", Message: msgKeyInvalid,
				Layer: LayerAuthentication, LogCode: CodeKeyInvalid, Reason: "the key matches neither of the account's keys"}
		}
		return nil
	}
	if tok, ok := bearerToken(r.Header); ok {
		x.rec.AuthType = accesslog.AuthBearer
		p, err := g.verifyToken(r.Context(), x, tok)
		if err != nil {
			if !errors.Is(err, identity.ErrInvalidToken) {
				return &refusal{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable",
					Message: "The token could not be verified right now. Please retry shortly.", Layer: LayerAuthentication,
					LogCode: CodeInternal, Reason: "token verification failed", cause: err,
					Header: http.Header{"Retry-After": {"1"}}}
			}
			reason := "invalid token"
			var te *identity.TokenError
			if errors.As(err, &te) {
				reason = "invalid token: " + te.Reason
			}
			return &refusal{Status: http.StatusUnauthorized, Code: "401", Message: msgTokenInvalid,
				Layer: LayerAuthentication, LogCode: CodeTokenInvalid, Reason: reason, cause: err,
				Header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}}
		}
		x.rec.PrincipalID = p.ObjectID
		return nil
	}
	return &refusal{Status: http.StatusUnauthorized, Code: "401", Message: msgKeyMissing,
		Layer: LayerAuthentication, LogCode: CodeKeyMissing, Reason: "neither an api-key nor a bearer token was presented"}
}

// authorize asks the Authorizer whether the token's principal may perform
// the operation. Keys carry every permission of the account, as in Azure.
// Without an Authorizer every principal the verifier accepts (any
// application of a tenant Perimeter knows) may: RBAC is not enforced yet.
func (g *Gateway) authorize(ctx context.Context, x *exchange, op *operation) error {
	if x.principal == nil || g.cfg.Authorizer == nil {
		return nil
	}
	if err := g.cfg.Authorizer.Authorize(ctx, x.principal, x.account.ID, op.DataAction); err != nil {
		return &refusal{Status: http.StatusUnauthorized, Code: "PermissionDenied",
			Message: "The principal `" + x.principal.ObjectID + "` lacks the required data action `" + op.DataAction + "` to perform this operation.",
			Layer:   LayerAuthorization, LogCode: CodePermissionDenied, Reason: err.Error()}
	}
	return nil
}
