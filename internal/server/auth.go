package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/identity"
)

// bearerAuth authenticates control-plane requests with tokens from the
// built-in issuer for the management audience.
type bearerAuth struct {
	issuer   *identity.Issuer
	tenantID string
	baseURL  string
}

var _ arm.Authenticator = (*bearerAuth)(nil)

func (a *bearerAuth) Authenticate(r *http.Request) (arm.Caller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return arm.Caller{}, a.refuse(arm.CodeAuthenticationFailed,
			"Authentication failed. The 'Authorization' header is missing. Send 'Authorization: Bearer <token>' with a token from POST /{tenantId}/oauth2/v2.0/token.",
			"missing Authorization header")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return arm.Caller{}, a.refuse(arm.CodeAuthenticationFailed,
			"Authentication failed. The 'Authorization' header must be 'Bearer <token>'.", "not a Bearer token")
	}
	p, err := a.issuer.VerifyContext(r.Context(), strings.TrimSpace(token), identity.AudienceManagement)
	if err != nil {
		if !errors.Is(err, identity.ErrInvalidToken) {
			// The token could not be checked (the store failed): a server
			// fault, not the caller's, and never a pass.
			return arm.Caller{}, fmt.Errorf("verify token: %w", err)
		}
		reason := "invalid token"
		var te *identity.TokenError
		if errors.As(err, &te) {
			reason = te.Reason
		}
		code := arm.CodeInvalidAuthenticationTok
		if errors.Is(err, identity.ErrTokenExpired) {
			code = "ExpiredAuthenticationToken"
		}
		return arm.Caller{}, a.refuse(code, fmt.Sprintf("The access token is invalid: %s. Get a new token for the scope https://management.azure.com/.default.", reason), reason)
	}
	typ := "Application"
	switch {
	case p.Type == identity.PrincipalTypeUser:
		typ = "User"
	case p.ManagedIdentityResourceID != "":
		typ = "ManagedIdentity"
	}
	return arm.Caller{TenantID: p.TenantID, ObjectID: p.ObjectID, AppID: p.AppID, Type: typ}, nil
}

func (a *bearerAuth) refuse(code, message, description string) *arm.Error {
	e := arm.Errorf(http.StatusUnauthorized, code, "%s", message)
	e.Header = http.Header{"Www-Authenticate": {fmt.Sprintf(
		`Bearer authorization_uri="%s/%s", error="invalid_token", error_description="%s"`,
		a.baseURL, a.tenantID, strings.ReplaceAll(description, `"`, `'`))}}
	return e
}

// controlPlaneHandler routes the control-plane listener: the issuer's paths
// (token endpoint, OpenID metadata, keys) to the issuer, Graph's (/v1.0/...)
// to the directory, the rest to ARM.
func controlPlaneHandler(issuer *identity.Issuer, graph *identity.Graph, control http.Handler) http.Handler {
	tokens, directory := issuer.Handler(), graph.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case issuer.Serves(r):
			tokens.ServeHTTP(w, r)
		case graph.Serves(r):
			directory.ServeHTTP(w, r)
		default:
			control.ServeHTTP(w, r)
		}
	})
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
