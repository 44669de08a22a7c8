package identity

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// maxFormBytes bounds a token request body; real ones are a few hundred
// bytes.
const maxFormBytes = 64 << 10

// routes lays out the Entra-shaped endpoints. Paths are those of
// login.microsoftonline.com, so that MSAL finds them from an authority of
// "{base}/{tenant}".
func (i *Issuer) routes() *http.ServeMux {
	mux := http.NewServeMux()
	// No method in the pattern: a GET gets Entra's "POST only" error, not
	// the mux's plain-text 405.
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", i.serve(i.serveToken))
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", i.serve(i.serveAuthorize))
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", i.serve(i.serveOpenIDConfiguration))
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", i.serve(i.serveOpenIDConfiguration))
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", i.serve(i.serveTenantKeys))
	mux.HandleFunc("GET /common/discovery/keys", i.serve(i.serveCommonKeys))
	mux.HandleFunc("GET /common/discovery/v2.0/keys", i.serve(i.serveCommonKeys))
	mux.HandleFunc("GET /common/discovery/instance", i.serve(i.serveInstanceDiscovery))
	return mux
}

// Handler serves the token endpoint, OpenID Connect metadata, the JWKS and
// instance discovery:
//
//	POST /{tenant}/oauth2/v2.0/token
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	GET  /{tenant}/.well-known/openid-configuration
//	GET  /{tenant}/discovery/v2.0/keys
//	GET  /{tenant}/oauth2/v2.0/authorize   (advertised; refuses: app tokens only)
//	GET  /common/discovery/keys, /common/discovery/v2.0/keys
//	GET  /common/discovery/instance
//
// Other paths get a 404. Mount it where the control-plane router sends the
// requests for which Serves reports true.
func (i *Issuer) Handler() http.Handler { return i.mux }

// Serves reports whether r is addressed to one of Handler's endpoints, so a
// router in front of several handlers can dispatch without knowing the
// paths.
func (i *Issuer) Serves(r *http.Request) bool {
	_, pattern := i.mux.Handler(r)
	return pattern != ""
}

// tenantFromPath resolves the {tenant} segment to a known tenant id.
func (i *Issuer) tenantFromPath(r *http.Request) (string, error) {
	raw := r.PathValue("tenant")
	t, err := i.dir.Tenant(r.Context(), raw)
	if errors.Is(err, ErrTenantNotFound) {
		return "", unknownTenantError(raw)
	}
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// tokenResponse is Entra's successful token response.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// serveToken is the OAuth 2.0 client credentials grant (RFC 6749 §4.4) as
// Entra's v2.0 endpoint implements it.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return newSTSError(http.StatusMethodNotAllowed, "invalid_request", 900561,
			"The endpoint only accepts POST requests. Received a %s request.", r.Method)
	}
	if _, err := i.base(); err != nil {
		return err
	}
	tenantID, err := i.tenantFromPath(r)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return newSTSError(http.StatusBadRequest, "invalid_request", 900144,
			"The request body must be application/x-www-form-urlencoded and contain the following parameter: 'grant_type'.")
	}
	// Only the body counts: credentials in a URL end up in logs.
	form := r.PostForm

	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return missingParameterError("grant_type")
	default:
		return newSTSError(http.StatusBadRequest, "unsupported_grant_type", 70003,
			"The app requested an unsupported grant type '%s'. Perimeter supports 'client_credentials' only.", clip(gt))
	}

	clientID, secret, usedBasic, err := clientCredentials(r, form)
	if err != nil {
		return err
	}
	resource, err := resourceFromScope(form.Get("scope"))
	if err != nil {
		return err
	}

	app, err := i.dir.VerifyClientSecret(r.Context(), tenantID, clientID, secret)
	switch {
	case errors.Is(err, ErrInvalidClientSecret):
		// Unknown client and wrong secret answer alike.
		se := invalidClientSecretError(clientID)
		se.basic = usedBasic
		return se
	case errors.Is(err, ErrClientSecretExpired):
		se := newSTSError(http.StatusUnauthorized, "invalid_client", 7000222,
			"The provided client secret keys for app '%s' are expired. Add a new password to the application.", clip(clientID))
		se.basic = usedBasic
		return se
	case err != nil:
		return err
	}

	audience, ok := audienceForResource(resource)
	if !ok {
		return newSTSError(http.StatusBadRequest, "invalid_resource", 500011,
			"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
			clip(resource), tenantID)
	}
	tok, err := i.IssueAppToken(app, audience)
	if err != nil {
		return err
	}
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("client-request-id", correlationID(r))
	secs := int64(i.lifetime.Seconds())
	writeJSON(w, http.StatusOK, tokenResponse{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: tok.Token})
	return nil
}

// clientCredentials reads the client id and secret from the form
// (client_secret_post) or from HTTP Basic authentication
// (client_secret_basic, RFC 6749 §2.3.1: both parts form-urlencoded).
func clientCredentials(r *http.Request, form url.Values) (clientID, secret string, usedBasic bool, err error) {
	clientID, secret = form.Get("client_id"), form.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		if secret != "" {
			return "", "", true, newSTSError(http.StatusBadRequest, "invalid_request", 0,
				"The request authenticates the client twice (HTTP Basic and client_secret); use one method.")
		}
		id, err1 := url.QueryUnescape(user)
		pw, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			se := invalidClientSecretError(user)
			se.basic = true
			return "", "", true, se
		}
		if clientID != "" && clientID != id {
			return "", "", true, newSTSError(http.StatusBadRequest, "invalid_request", 0,
				"The client_id in the body does not match the client authenticated with HTTP Basic.")
		}
		clientID, secret, usedBasic = id, pw, true
	}
	if clientID == "" {
		return "", "", usedBasic, missingParameterError("client_id")
	}
	if secret == "" {
		msg := "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
		if form.Get("client_assertion") != "" {
			msg += " Perimeter accepts client secrets only (client_secret_post or client_secret_basic)."
		}
		return "", "", usedBasic, newSTSError(http.StatusUnauthorized, "invalid_client", 7000218, "%s", msg)
	}
	return clientID, secret, usedBasic, nil
}

// resourceFromScope checks the scope of a client credentials request and
// returns the resource it names. Entra wants exactly one "{resource}/.default"
// scope; the OpenID Connect scopes MSAL always adds (openid, profile,
// offline_access) are ignored.
func resourceFromScope(scope string) (string, error) {
	fields := strings.Fields(scope)
	if len(fields) == 0 {
		return "", missingParameterError("scope")
	}
	var resources []string
	for _, f := range fields {
		switch f {
		case "openid", "profile", "offline_access", "email":
			continue
		}
		resources = append(resources, f)
	}
	if len(resources) > 1 {
		return "", newSTSError(http.StatusBadRequest, "invalid_scope", 70011,
			"The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid: a client credentials request names one resource.", clip(scope))
	}
	if len(resources) == 0 || !strings.HasSuffix(resources[0], "/.default") {
		bad := fields[0]
		if len(resources) == 1 {
			bad = resources[0]
		}
		return "", newSTSError(http.StatusBadRequest, "invalid_scope", 1002012,
			"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", clip(bad))
	}
	return strings.TrimSuffix(resources[0], "/.default"), nil
}

// serveAuthorize answers the advertised authorization endpoint: MSAL
// requires one in the metadata, but Perimeter has no interactive sign-in.
func (i *Issuer) serveAuthorize(w http.ResponseWriter, r *http.Request) error {
	if _, err := i.tenantFromPath(r); err != nil {
		return err
	}
	return newSTSError(http.StatusBadRequest, "unsupported_response_type", 0,
		"Perimeter issues app tokens with the client credentials grant only; use the token endpoint.")
}
