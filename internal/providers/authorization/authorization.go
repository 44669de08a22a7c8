// Package authorization provides Microsoft.Authorization: role definitions
// (the built-ins of package authz, and custom ones) and role assignments at
// any scope, and the control plane's Authorizer, which decides every ARM
// request with the policy compiled into the current snapshot.
//
// Role assignments are extension resources: they live under the scope they
// apply to ({scope}/providers/Microsoft.Authorization/roleAssignments/{guid})
// and go with it when it is deleted. A role assignment cannot be changed
// once made (Azure answers RoleAssignmentUpdateNotPermitted); the same
// principal, role and scope cannot be assigned twice (RoleAssignmentExists).
// Writing one needs Microsoft.Authorization/roleAssignments/write at its
// scope, checked with the role it names so that delegation conditions (the
// Azure AI Project Manager may assign only Azure AI User) hold.
package authorization

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/arm"
)

// Resource types of this package.
const (
	TypeRoleAssignments = "Microsoft.Authorization/roleAssignments"
	TypeRoleDefinitions = "Microsoft.Authorization/roleDefinitions"
)

// Attribute names role conditions read.
const (
	AttrRoleDefinitionID = "Microsoft.Authorization/roleAssignments:RoleDefinitionId"
	AttrPrincipalID      = "Microsoft.Authorization/roleAssignments:PrincipalId"
	AttrPrincipalType    = "Microsoft.Authorization/roleAssignments:PrincipalType"
)

// APIVersions are the Microsoft.Authorization api-versions served: those
// armauthorization/v2 sends (2022-04-01) and earlier stable ones with the
// same shape.
func APIVersions() []string {
	return []string{"2015-07-01", "2018-01-01-preview", "2020-04-01-preview", "2020-10-01", "2020-10-01-preview", "2022-04-01"}
}

// ErrPrincipalNotFound is returned by a PrincipalLookup for an object id
// the directory does not hold.
var ErrPrincipalNotFound = errors.New("authorization: principal not found")

// PrincipalLookup says what kind of principal an object id is ("User",
// "Group", "ServicePrincipal") in the tenant, or ErrPrincipalNotFound.
type PrincipalLookup func(ctx context.Context, tenantID, objectID string) (principalType string, err error)

// Config is what the kinds need.
type Config struct {
	// Principals validates role assignments' principalId. Required.
	Principals PrincipalLookup
	// TenantID is the installation's tenant.
	TenantID string
	// Groups returns a principal's transitive groups, for the
	// assignedTo() list filter. Nil means none.
	Groups func(principalID string) []string
}

// Kinds returns the kinds of this package, bound to srv.
func Kinds(srv *arm.Server, cfg Config) []arm.Kind {
	return []arm.Kind{&roleAssignments{srv: srv, cfg: cfg}, &roleDefinitions{srv: srv}}
}

// guidName checks a resource name that must be a GUID.
func guidName(code, what string) func(string) error {
	return func(name string) error {
		if _, err := uuid.Parse(name); err != nil || len(name) != 36 {
			return arm.BadRequest(code, "The %s ID '%s' is not valid. The %s ID must be a GUID, such as 00000000-0000-0000-0000-000000000000.", what, name, what)
		}
		return nil
	}
}

// trailingGUID returns the GUID a role definition id ends with (or the id
// itself when it is a bare GUID), lower-cased.
func trailingGUID(id string) (string, bool) {
	id = strings.TrimSuffix(id, "/")
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		if !strings.HasSuffix(strings.ToLower(id[:i+1]), "/roledefinitions/") {
			return "", false
		}
		id = id[i+1:]
	}
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return "", false
	}
	return u.String(), true
}

// scopeOf returns the scope an extension resource lives under (elems
// name the resource): "/" for the root.
func scopeOf(elems []arm.Elem) string { return scopeID(elems[:len(elems)-1]) }

// scopeID formats the elements of a scope: "/" for the root.
func scopeID(elems []arm.Elem) string {
	if id := arm.FormatID(elems); id != "" {
		return id
	}
	return "/"
}

// roleDefinitionIDAt renders a role definition's id as seen from a scope
// (given by its elements): under the scope's subscription, or at the root.
func roleDefinitionIDAt(scope []arm.Elem, guid string) string {
	prefix := ""
	if sub := arm.SubscriptionOf(scope); sub != "" {
		prefix = "/subscriptions/" + sub
	}
	return prefix + "/providers/" + TypeRoleDefinitions + "/" + guid
}

func badRequest(code, format string, args ...any) *arm.Error {
	return arm.Errorf(http.StatusBadRequest, code, format, args...)
}
