package identity

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// ManagedIdentityTokenPath is the managed identity token endpoint that
// workloads reach through IDENTITY_ENDPOINT: the App Service protocol
// (api-version 2019-08-01) that azidentity.ManagedIdentityCredential and
// the other Azure SDKs speak when IDENTITY_ENDPOINT and IDENTITY_HEADER
// are set:
//
//	GET {arm}/msi/token?api-version=2019-08-01&resource=https://management.azure.com
//	X-IDENTITY-HEADER: {the workload binding's secret}
//
// and, optionally, one of client_id, principal_id (or object_id) and
// mi_res_id naming the identity, which must be the one the header is bound
// to.
const ManagedIdentityTokenPath = "/msi/token"

// managedIdentityAPIVersion is the App Service protocol version the SDKs send.
const managedIdentityAPIVersion = "2019-08-01"

// identityHeader carries the workload binding's secret.
const identityHeader = "X-IDENTITY-HEADER"

// managedIdentityTokenResponse is App Service's answer: expires_on is Unix
// seconds as a string.
type managedIdentityTokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"`
	Resource    string `json:"resource"`
	TokenType   string `json:"token_type"`
	ClientID    string `json:"client_id"`
}

// serveManagedIdentityToken issues a token for the managed identity that
// the request's X-IDENTITY-HEADER is bound to. Malformed requests are
// answered 400 before the header is checked; a header that does not
// authenticate (malformed, unknown, revoked, wrong secret, or its identity
// gone) 401, all alike; a request naming another identity than the bound
// one 400.
func (i *Issuer) serveManagedIdentityToken(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		se := newSTSError(http.StatusMethodNotAllowed, "invalid_request", 0,
			"The managed identity endpoint only accepts GET requests. Received a %s request.", r.Method)
		se.allow = http.MethodGet
		return se
	}
	if _, err := i.base(); err != nil {
		return err
	}
	q := r.URL.Query()
	header := r.Header.Get(identityHeader)
	switch v := q.Get("api-version"); {
	case header == "":
		return newSTSError(http.StatusBadRequest, "invalid_request", 0,
			"The %s header is required: send the IDENTITY_HEADER value of the workload binding (perimeter identity token-env prints it).", identityHeader)
	case v != managedIdentityAPIVersion:
		return newSTSError(http.StatusBadRequest, "invalid_request", 0,
			"The api-version '%s' is not supported by the managed identity endpoint. Use api-version=%s.", clip(v), managedIdentityAPIVersion)
	case q.Get("resource") == "":
		return newSTSError(http.StatusBadRequest, "invalid_request", 0,
			"The query parameter 'resource' is required: name the API the token is for, such as https://management.azure.com.")
	}
	resource := q.Get("resource")
	b, err := i.dir.verifyWorkloadBinding(r.Context(), header)
	if errors.Is(err, errBadIdentityHeader) {
		return badIdentityHeader()
	}
	if err != nil {
		return err
	}
	if err := checkIdentitySelector(q, b); err != nil {
		return err
	}
	sp, err := i.dir.ServicePrincipal(r.Context(), b.TenantID, b.PrincipalID)
	if errors.Is(err, ErrObjectNotFound) || errors.Is(err, ErrTenantNotFound) ||
		(err == nil && (sp.ServicePrincipalType != ServicePrincipalTypeManagedIdentity || !sp.AccountEnabled || sp.AppID != b.ClientID)) {
		// The identity was deleted or replaced after the binding was made
		// (a system-assigned identity turned off and on again).
		return badIdentityHeader()
	}
	if err != nil {
		return err
	}
	audience, err := audienceOf(strings.TrimSuffix(resource, "/.default"), b.TenantID)
	if err != nil {
		return err
	}
	tok, err := i.IssueManagedIdentityToken(sp, b.ResourceID, audience)
	if err != nil {
		return err
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, managedIdentityTokenResponse{
		AccessToken: tok.Token, ExpiresOn: strconv.FormatInt(tok.ExpiresOn.Unix(), 10),
		Resource: resource, TokenType: "Bearer", ClientID: sp.AppID,
	})
	return nil
}

func badIdentityHeader() *stsError {
	return newSTSError(http.StatusUnauthorized, "invalid_client", 0,
		"The %s value is not valid: it is malformed, revoked, or its identity no longer exists. Create a new workload binding (perimeter identity token-env) and use its IDENTITY_HEADER.", identityHeader)
}

// checkIdentitySelector checks the optional parameters naming the
// identity: at most one, and it must name the bound identity. A secret
// never gets a token for another identity; asking for one is a mistake
// worth a clear answer, not a silent substitution.
func checkIdentitySelector(q map[string][]string, b WorkloadBinding) error {
	type selector struct{ param, want string }
	var given []selector
	for _, s := range []selector{
		{"client_id", b.ClientID}, {"principal_id", b.PrincipalID}, {"object_id", b.PrincipalID}, {"mi_res_id", b.ResourceID},
	} {
		if v := firstValue(q, s.param); v != "" {
			given = append(given, selector{s.param, v})
			if !strings.EqualFold(v, s.want) {
				return newSTSError(http.StatusBadRequest, "invalid_request", 0,
					"The %s '%s' does not name the managed identity this %s is bound to (client id %s, principal id %s, resource %s). Remove the parameter or use a binding of that identity.",
					s.param, clip(v), identityHeader, b.ClientID, b.PrincipalID, b.ResourceID)
			}
		}
	}
	if len(given) > 1 {
		return newSTSError(http.StatusBadRequest, "invalid_request", 0,
			"Name the identity with at most one of client_id, principal_id, object_id and mi_res_id; this request uses %d.", len(given))
	}
	return nil
}

func firstValue(q map[string][]string, key string) string {
	if v := q[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
