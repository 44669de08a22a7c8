package armtest

import (
	"net/http"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
)

// The caller every test request is made as, and the subscription New
// creates.
const (
	TenantID       = "11111111-1111-1111-1111-111111111111"
	SubscriptionID = "22222222-2222-2222-2222-222222222222"
	ObjectID       = "admin-oid"
	AppID          = "admin-app"
	// Token is the only bearer token the harness accepts.
	Token = "good"
	// ResourcesAPI is the api-version query of Microsoft.Resources
	// requests: resource groups and provider registration.
	ResourcesAPI = "?api-version=2025-04-01"
)

// asPrefix starts the tokens As makes: "as:{objectId}".
const asPrefix = "as:"

// As returns the token that makes requests as the principal objectID:
// set Env.Token to it (and back to Token after).
func As(objectID string) string { return asPrefix + objectID }

// tokenAuth accepts "Bearer good" as the test administrator, and answers
// anything else 401 with a WWW-Authenticate challenge.
type tokenAuth struct{}

func (tokenAuth) Authenticate(r *http.Request) (arm.Caller, error) {
	if oid, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "+asPrefix); ok && oid != "" {
		return arm.Caller{TenantID: TenantID, ObjectID: oid, AppID: oid, Type: "Application"}, nil
	}
	if r.Header.Get("Authorization") != "Bearer "+Token {
		e := arm.Errorf(http.StatusUnauthorized, arm.CodeAuthenticationFailed, "no valid token")
		e.Header = http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}
		return arm.Caller{}, e
	}
	return arm.Caller{TenantID: TenantID, ObjectID: ObjectID, AppID: AppID, Type: "Application"}, nil
}
