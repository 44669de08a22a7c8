package identity

import (
	"encoding/base64"
	"encoding/json"
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
	mux.HandleFunc("GET /common/UserRealm/{username}", i.serve(i.serveUserRealm))
	mux.HandleFunc("GET /common/userrealm/{username}", i.serve(i.serveUserRealm))
	mux.HandleFunc(ManagedIdentityTokenPath, i.serve(i.serveManagedIdentityToken))
	return mux
}

// Handler serves the token endpoint, OpenID Connect metadata, the JWKS and
// instance discovery:
//
//	POST /{tenant}/oauth2/v2.0/token
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	GET  /{tenant}/.well-known/openid-configuration
//	GET  /{tenant}/discovery/v2.0/keys
//	GET  /{tenant}/oauth2/v2.0/authorize   (advertised; refuses: no interactive sign-in)
//	GET  /common/discovery/keys, /common/discovery/v2.0/keys
//	GET  /common/discovery/instance
//	GET  /common/UserRealm/{username}      (MSAL asks it before a password grant)
//	GET  /msi/token                        (managed identity tokens for workloads, msi.go)
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

// tokenResponse is Entra's successful token response. Scope, IDToken and
// ClientInfo are sent for user sign-ins only: MSAL public clients build the
// account they cache from them.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// AzureCLIClientID is the Azure CLI's public client id. The password grant
// accepts it as the client of user sign-ins (as Entra does for `az login
// --username`), besides the tenant's own applications.
const AzureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// serveToken is the token endpoint: the OAuth 2.0 client credentials grant
// (RFC 6749 §4.4) and resource owner password credentials grant (§4.3), as
// Entra's v2.0 endpoint implements them, and the JWT bearer grant (RFC
// 7523 §2.1) for users of a trusted identity provider (usergrant.go).
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

	var resp tokenResponse
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
		resp, err = i.clientCredentialsGrant(r, tenantID, form)
	case "password":
		resp, err = i.passwordGrant(r, tenantID, form)
	case grantTypeJWTBearer:
		resp, err = i.jwtBearerGrant(r, tenantID, form)
	case "":
		return missingParameterError("grant_type")
	default:
		return newSTSError(http.StatusBadRequest, "unsupported_grant_type", 70003,
			"The app requested an unsupported grant type '%s'. Perimeter supports 'client_credentials', 'password' and '%s'.", clip(gt), grantTypeJWTBearer)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("client-request-id", correlationID(r))
	secs := int64(i.lifetime.Seconds())
	resp.TokenType, resp.ExpiresIn, resp.ExtExpiresIn = "Bearer", secs, secs
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// clientCredentialsGrant authenticates an application with its secret, or
// with a federated client assertion (assertion.go), and issues an app-only
// token naming its service principal.
func (i *Issuer) clientCredentialsGrant(r *http.Request, tenantID string, form url.Values) (tokenResponse, error) {
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return i.clientAssertionGrant(r, tenantID, form)
	}
	clientID, secret, usedBasic, err := clientCredentials(r, form)
	if err != nil {
		return tokenResponse{}, err
	}
	resource, err := resourceFromScope(form.Get("scope"))
	if err != nil {
		return tokenResponse{}, err
	}
	app, err := i.verifyClientSecret(r, tenantID, clientID, secret, usedBasic)
	if err != nil {
		return tokenResponse{}, err
	}
	return i.appTokenResponse(app, tenantID, resource)
}

// appTokenResponse issues the token of an authenticated application for
// the resource.
func (i *Issuer) appTokenResponse(app Application, tenantID, resource string) (tokenResponse, error) {
	if app.ServicePrincipalID == "" {
		// Checked after the credential: only the application's holder
		// learns that it lacks a service principal.
		return tokenResponse{}, newSTSError(http.StatusUnauthorized, "invalid_client", 7000229,
			"The client application %s is missing service principal in the tenant %s. Create the service principal (POST /v1.0/servicePrincipals with {\"appId\": \"%s\"}, or 'perimeter ad sp create-for-rbac' for a new application) and request the token again.",
			app.AppID, tenantID, app.AppID)
	}
	audience, err := audienceOf(resource, tenantID)
	if err != nil {
		return tokenResponse{}, err
	}
	tok, err := i.IssueAppToken(app, audience)
	if err != nil {
		return tokenResponse{}, err
	}
	return tokenResponse{AccessToken: tok.Token}, nil
}

// verifyClientSecret authenticates a confidential client, answering
// failures as Entra does.
func (i *Issuer) verifyClientSecret(r *http.Request, tenantID, clientID, secret string, usedBasic bool) (Application, error) {
	app, err := i.dir.VerifyClientSecret(r.Context(), tenantID, clientID, secret)
	switch {
	case errors.Is(err, ErrInvalidClientSecret):
		// Unknown client and wrong secret answer alike.
		se := invalidClientSecretError(clientID)
		se.basic = usedBasic
		return Application{}, se
	case errors.Is(err, ErrClientSecretExpired):
		se := newSTSError(http.StatusUnauthorized, "invalid_client", 7000222,
			"The provided client secret keys for app '%s' are expired. Add a new password to the application.", clip(clientID))
		se.basic = usedBasic
		return Application{}, se
	case err != nil:
		return Application{}, err
	}
	return app, nil
}

// passwordGrant signs a user in with their userPrincipalName and password
// through a client: the Azure CLI's public client id, or an application of
// the tenant (public, or authenticated when it sends its secret).
func (i *Issuer) passwordGrant(r *http.Request, tenantID string, form url.Values) (tokenResponse, error) {
	client, err := i.userClient(r, tenantID, form)
	if err != nil {
		return tokenResponse{}, err
	}
	username, password := form.Get("username"), form.Get("password")
	if username == "" {
		return tokenResponse{}, missingParameterError("username")
	}
	if password == "" {
		return tokenResponse{}, missingParameterError("password")
	}
	scope, err := userScopeOf(form.Get("scope"))
	if err != nil {
		return tokenResponse{}, err
	}
	if err := client.authenticate(i, r, tenantID); err != nil {
		return tokenResponse{}, err
	}
	if i.lockout.locked(tenantID, username) {
		return tokenResponse{}, newSTSError(http.StatusBadRequest, "invalid_grant", 50053,
			"Your account is locked because you've tried to sign in too many times with an incorrect user ID or password. Try again later.")
	}
	var user User
	if werr := withHashSlot(r.Context(), func() { user, err = i.dir.VerifyUserPassword(r.Context(), tenantID, username, password) }); werr != nil {
		return tokenResponse{}, werr
	}
	switch {
	case errors.Is(err, ErrInvalidUserCredentials):
		// An unknown user and a wrong password answer alike.
		i.lockout.failed(tenantID, username)
		return tokenResponse{}, newSTSError(http.StatusBadRequest, "invalid_grant", 50126,
			"Error validating credentials due to invalid username or password.")
	case errors.Is(err, ErrUserDisabled):
		return tokenResponse{}, userDisabledError()
	case err != nil:
		return tokenResponse{}, err
	}
	i.lockout.succeeded(tenantID, username)
	return i.userTokenResponse(user, client, scope)
}

func userDisabledError() *stsError {
	return newSTSError(http.StatusBadRequest, "invalid_grant", 50057,
		"The user account is disabled. An administrator can enable it (accountEnabled).")
}

// userClient is the client a user signs in through.
type userClient struct {
	id     string
	secret string
	basic  bool
	// authenticated is set by authenticate when the client proved itself
	// with its secret.
	authenticated bool
}

// userClient reads the client of a user sign-in (password or jwt-bearer
// grant). A client assertion is refused: ignoring it would sign the user
// in through a client that did not authenticate the way it meant to.
func (i *Issuer) userClient(r *http.Request, tenantID string, form url.Values) (*userClient, error) {
	if form.Has("client_assertion") {
		return nil, newSTSError(http.StatusBadRequest, "invalid_request", 0,
			"Perimeter accepts client assertions (workload identity federation) in the client credentials grant only; a user signs in through a public client or with the client's secret.")
	}
	clientID, secret, usedBasic, err := clientAuth(r, form)
	if err != nil {
		return nil, err
	}
	if clientID == "" {
		return nil, missingParameterError("client_id")
	}
	return &userClient{id: clientID, secret: secret, basic: usedBasic}, nil
}

// authenticate checks the client: the Azure CLI's public client id, an
// application of the tenant with its secret, or an application of the
// tenant that allows public client flows (isFallbackPublicClient). It
// sets the client's canonical id.
func (c *userClient) authenticate(i *Issuer, r *http.Request, tenantID string) error {
	switch {
	case strings.EqualFold(c.id, AzureCLIClientID):
		if c.secret != "" {
			return newSTSError(http.StatusUnauthorized, "invalid_client", 700025,
				"Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
		}
		c.id = AzureCLIClientID
	case c.secret != "":
		app, err := i.verifyClientSecret(r, tenantID, c.id, c.secret, c.basic)
		if err != nil {
			return err
		}
		c.id, c.authenticated = app.AppID, true
	default:
		app, err := i.dir.Application(r.Context(), tenantID, c.id)
		if errors.Is(err, ErrApplicationNotFound) {
			return newSTSError(http.StatusBadRequest, "unauthorized_client", 700016,
				"Application with identifier '%s' was not found in the directory '%s'. Use the client id of an application in this tenant, or the Azure CLI's (%s).",
				clip(c.id), tenantID, AzureCLIClientID)
		}
		if err != nil {
			return err
		}
		if !app.IsFallbackPublicClient {
			// A confidential client proves itself; a user's credential
			// does not speak for it.
			return newSTSError(http.StatusUnauthorized, "invalid_client", 7000218,
				"The request body must contain the following parameter: 'client_assertion' or 'client_secret'. Application '%s' is not a public client: send its secret, or allow public client flows (isFallbackPublicClient).", app.AppID)
		}
		c.id = app.AppID
	}
	return nil
}

// userTokenResponse issues a signed-in user's token for the scope through
// the authenticated client, with client_info and, for "openid", an ID
// token, as MSAL public clients expect.
func (i *Issuer) userTokenResponse(user User, client *userClient, scope userScope) (tokenResponse, error) {
	audience, err := audienceOf(scope.resource, user.TenantID)
	if err != nil {
		return tokenResponse{}, err
	}
	tok, err := i.IssueUserToken(user, client.id, audience, client.authenticated)
	if err != nil {
		return tokenResponse{}, err
	}
	info, err := json.Marshal(map[string]string{"uid": user.ID, "utid": user.TenantID})
	if err != nil {
		return tokenResponse{}, err
	}
	resp := tokenResponse{AccessToken: tok.Token, Scope: scope.granted, ClientInfo: base64.RawURLEncoding.EncodeToString(info)}
	if scope.openID {
		if resp.IDToken, err = i.issueIDToken(user, client.id); err != nil {
			return tokenResponse{}, err
		}
	}
	return resp, nil
}

// audienceOf maps a requested resource to the audience of its tokens.
func audienceOf(resource, tenantID string) (string, error) {
	audience, ok := audienceForResource(resource)
	if !ok {
		return "", newSTSError(http.StatusBadRequest, "invalid_resource", 500011,
			"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
			clip(resource), tenantID)
	}
	return audience, nil
}

// clientCredentials reads the client id and secret of a confidential client
// (client credentials grant), requiring both.
func clientCredentials(r *http.Request, form url.Values) (clientID, secret string, usedBasic bool, err error) {
	clientID, secret, usedBasic, err = clientAuth(r, form)
	if err != nil {
		return "", "", usedBasic, err
	}
	if clientID == "" {
		return "", "", usedBasic, missingParameterError("client_id")
	}
	if secret == "" {
		return "", "", usedBasic, newSTSError(http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	return clientID, secret, usedBasic, nil
}

// clientAuth reads the client id and, if any, the secret from the form
// (client_secret_post) or from HTTP Basic authentication
// (client_secret_basic, RFC 6749 §2.3.1: both parts form-urlencoded).
func clientAuth(r *http.Request, form url.Values) (clientID, secret string, usedBasic bool, err error) {
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
	return clientID, secret, usedBasic, nil
}

// userScope is what a user sign-in asked for.
type userScope struct {
	resource string // the API, e.g. https://management.azure.com
	granted  string // the "scope" of the response
	openID   bool   // "openid" was asked for: answer an ID token
}

// userScopeOf checks the scope of a password grant: one API, as
// "{resource}/.default" or "{resource}/user_impersonation", plus any of the
// OpenID Connect scopes MSAL adds.
func userScopeOf(scope string) (userScope, error) {
	fields := strings.Fields(scope)
	if len(fields) == 0 {
		return userScope{}, missingParameterError("scope")
	}
	var us userScope
	var granted, resources []string
	for _, f := range fields {
		switch f {
		case "openid":
			us.openID = true
			granted = append(granted, f)
			continue
		case "profile", "email":
			granted = append(granted, f)
			continue
		case "offline_access":
			continue // no refresh tokens: sign in again
		}
		resources = append(resources, f)
		granted = append(granted, f)
	}
	if len(resources) != 1 {
		return userScope{}, newSTSError(http.StatusBadRequest, "invalid_scope", 70011,
			"The provided value for the input parameter 'scope' is not valid. The scope %s is not valid: a sign-in names one API, as '{resource}/.default' or '{resource}/user_impersonation'.", clip(scope))
	}
	res, ok := strings.CutSuffix(resources[0], "/.default")
	if !ok {
		res, ok = strings.CutSuffix(resources[0], "/"+scopeUserImpersonation)
	}
	if !ok {
		return userScope{}, newSTSError(http.StatusBadRequest, "invalid_scope", 70011,
			"The provided value for the input parameter 'scope' is not valid. The scope %s is not valid: Perimeter grants '{resource}/.default' or '{resource}/user_impersonation' (for example https://management.azure.com/.default).", clip(resources[0]))
	}
	us.resource, us.granted = res, strings.Join(granted, " ")
	return us, nil
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
		"Perimeter has no interactive sign-in: applications use the client credentials grant and users the password grant, both at the token endpoint.")
}

// userRealm is the answer of Entra's user realm discovery, which MSAL asks
// before a password grant: "Managed" means the password goes to the token
// endpoint (not to a federated identity provider).
type userRealm struct {
	Version           string `json:"ver"`
	AccountType       string `json:"account_type"`
	DomainName        string `json:"domain_name"`
	CloudInstanceName string `json:"cloud_instance_name"`
	CloudAudienceURN  string `json:"cloud_audience_urn"`
}

// serveUserRealm answers GET /common/UserRealm/{username}: every user of
// Perimeter is a managed (cloud) user. The answer is the same whether the
// user exists or not.
func (i *Issuer) serveUserRealm(w http.ResponseWriter, r *http.Request) error {
	base, err := i.base()
	if err != nil {
		return err
	}
	_, domain, _ := strings.Cut(r.PathValue("username"), "@")
	writeJSON(w, http.StatusOK, userRealm{
		Version:           "1.0",
		AccountType:       "Managed",
		DomainName:        clip(domain),
		CloudInstanceName: hostOf(base),
		CloudAudienceURN:  "urn:federation:MicrosoftOnline",
	})
	return nil
}
