package arm

import (
	"context"
	"net/http"
	"strings"
)

// Authorizer decides whether a caller may perform an operation, the way
// Azure RBAC does: every request maps to an action string at a scope.
type Authorizer interface {
	// Authorize returns nil when c may perform a, an *Error (403
	// AuthorizationFailed) when it may not, and any other error when the
	// decision could not be made (which fails the request: never a pass).
	Authorize(ctx context.Context, c Caller, a Access) error
	// Within reports whether c holds any role assignment strictly below
	// scope. A list the caller may not read as a whole is then filtered
	// item by item instead of refused.
	Within(ctx context.Context, c Caller, scope string) (bool, error)
}

// Access is one operation as RBAC sees it.
type Access struct {
	// Action is the Azure operation, e.g.
	// "Microsoft.CognitiveServices/accounts/write".
	Action string
	// Scope is the id of the resource acted on, or "/" for the root.
	Scope string
	// RequestAttrs and ResourceAttrs are what role conditions may read
	// (@Request[...] and @Resource[...]), such as
	// "Microsoft.Authorization/roleAssignments:RoleDefinitionId".
	RequestAttrs, ResourceAttrs map[string][]string
}

// AccessChecker is implemented by kinds whose writes and deletes need more
// than the operation's own action at the resource: a role assignment's
// conditions read the role it names (so the check waits for the body), an
// account whose network rules name a subnet needs joinViaServiceEndpoint
// on that subnet. Accesses returns every access the write (op "write",
// after the kind's Preparer: new is final) or delete (op "delete", new
// nil) needs, its own action included; all must be allowed.
type AccessChecker interface {
	Accesses(ctx context.Context, op string, req *Request, old, new *Resource) ([]Access, error)
}

// Authorization failures, as ARM words them.
const CodeAuthorizationFailed = "AuthorizationFailed"

// Denied is the 403 ARM answers when no role assignment allows an action.
func Denied(c Caller, a Access) *Error {
	return Errorf(http.StatusForbidden, CodeAuthorizationFailed,
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		c.Name(), c.ObjectID, a.Action, a.Scope)
}

// operationType is the prefix of a type's Azure operation names.
func (sp *Spec) operationType() string {
	if sp.Operation != "" {
		return sp.Operation
	}
	return sp.Type
}

// accessFor maps a resolved request to its action and scope. The second
// result is false for requests that need no role (operation status polls,
// whose ids only the caller who started them knows).
func (s *Server) accessFor(method string, t target) (Access, bool) {
	if t.op != "" {
		return Access{}, false
	}
	spec := &t.kind.spec
	id := FormatID(t.elems)
	if id == "" {
		id = "/"
	}
	typ := spec.operationType()
	switch {
	case t.list && method == http.MethodPost:
		// A collection action (checkDomainAvailability): the provider's
		// action at the scope.
		return Access{Action: typ + "/action", Scope: id}, true
	case t.list:
		return Access{Action: typ + "/read", Scope: id}, true
	case t.action != "" && strings.EqualFold(spec.Type, TypeProvider):
		// Registering a resource provider: "{namespace}/register/action"
		// at the subscription.
		ns := t.elems[len(t.elems)-1].Name
		return Access{Action: ns + "/" + t.action + "/action", Scope: orSlash(FormatID(t.elems[:len(t.elems)-1]))}, true
	case t.action != "":
		return Access{Action: typ + "/" + t.action + "/action", Scope: id}, true
	}
	verb := "read"
	switch method {
	case http.MethodPut, http.MethodPatch:
		verb = "write"
	case http.MethodDelete:
		verb = "delete"
	}
	return Access{Action: typ + "/" + verb, Scope: id}, true
}

func orSlash(id string) string {
	if id == "" {
		return "/"
	}
	return id
}

// authorize checks the request's own action. It returns filter=true when
// a list is allowed only item by item.
func (s *Server) authorize(ctx context.Context, req *Request, t target) (filter bool, err error) {
	az := s.cfg.Authorizer
	if az == nil {
		return false, nil
	}
	a, needed := s.accessFor(req.HTTP.Method, t)
	if !needed {
		return false, nil
	}
	if _, deferred := t.kind.kind.(AccessChecker); deferred && t.action == "" && !t.list &&
		(req.HTTP.Method == http.MethodPut || req.HTTP.Method == http.MethodPatch || req.HTTP.Method == http.MethodDelete) {
		return false, nil // checkAccesses decides, with the body in hand
	}
	err = az.Authorize(ctx, req.Caller, a)
	if err == nil || !t.list || req.HTTP.Method != http.MethodGet {
		return false, err
	}
	if ae, public := asError(err); !public || ae.Status != http.StatusForbidden {
		return false, err
	}
	within, werr := az.Within(ctx, req.Caller, a.Scope)
	if werr != nil {
		return false, werr
	}
	if !within {
		return false, err
	}
	return true, nil
}

// mayRead reports whether the caller may read the resource id of type typ
// (list filtering).
func (s *Server) mayRead(ctx context.Context, c Caller, id, typ string) (bool, error) {
	op := typ
	if k := s.kind(typ); k != nil {
		op = k.spec.operationType()
	}
	err := s.cfg.Authorizer.Authorize(ctx, c, Access{Action: op + "/read", Scope: id})
	if err == nil {
		return true, nil
	}
	if ae, public := asError(err); public && ae.Status == http.StatusForbidden {
		return false, nil
	}
	return false, err
}

// checkAccesses runs a kind's AccessChecker for a write or delete.
func (s *Server) checkAccesses(ctx context.Context, op string, req *Request, old, new *Resource) error {
	az := s.cfg.Authorizer
	k := s.kind(req.Spec.Type)
	ac, ok := k.kind.(AccessChecker)
	if az == nil || !ok {
		return nil
	}
	all, err := ac.Accesses(ctx, op, req, old, new)
	if err != nil {
		return err
	}
	for _, a := range all {
		if err := az.Authorize(ctx, req.Caller, a); err != nil {
			return err
		}
	}
	return nil
}

// Finder is implemented by stored kinds whose resources may also be read
// where no document is stored: built-in role definitions exist at every
// scope without being stored, and a custom one is found by its GUID from
// any scope. Find is called when the requested document does not exist;
// it returns the resource or a 404 *Error.
type Finder interface {
	Find(ctx context.Context, r *Request) (any, error)
}

// Lister is implemented by stored kinds that answer their own lists
// (role assignments list those inherited from above the scope too).
// r.MayRead, when set, says which items the caller may see.
type Lister interface {
	ListAll(ctx context.Context, r *Request) ([]any, error)
}
