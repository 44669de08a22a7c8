package arm

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// Authorizer gives each request its caller's permissions, the way Azure
// RBAC decides: every request maps to an action string at a scope.
type Authorizer interface {
	// Permissions returns what c may do, as of every commit made before
	// the call. An error fails the request (never a pass).
	Permissions(ctx context.Context, c Caller) (Permissions, error)
}

// Permissions answer for one caller at one moment; a request asks them
// as often as it needs (a filtered list, once per item) at no further cost.
type Permissions interface {
	// Allows reports whether the caller may perform a.
	Allows(a Access) bool
	// HoldsBelow reports whether the caller holds any role assignment
	// strictly below scope. A list the caller may not read as a whole is
	// then filtered item by item instead of refused.
	HoldsBelow(scope string) bool
	// MayEver reports whether some role assignment of the caller at
	// a.Scope or above it (or, with within, anywhere beneath a.Scope too)
	// has a role whose actions include a.Action, whatever the conditions
	// of the role or the assignment would decide. Kinds that decide their
	// own access only with the body (BodyAuthorizer) need it before the
	// body is read.
	MayEver(a Access, within bool) bool
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
	// Linked marks an access on another resource the request links to
	// (a subnet an account's network rules join), which ARM checks after
	// the request's own action: refused, it is 403
	// LinkedAuthorizationFailed rather than AuthorizationFailed.
	Linked bool
}

// AccessChecker is implemented by kinds whose writes and deletes need more
// than the operation's own action at the resource: a role assignment's
// conditions read the role it names (so the check waits for the body), an
// account whose network rules name a subnet needs joinViaServiceEndpoint
// on that subnet. Accesses returns every access the write (op "write",
// after the kind's Preparer: new is final) or delete (op "delete", new
// nil) needs, its own action included; all must be allowed.
//
// The request's own action is checked before the body is read, as ARM
// checks it before it calls the provider, so a caller who may not write
// learns nothing from validation errors; a kind whose own action cannot be
// decided without the body also implements BodyAuthorizer.
type AccessChecker interface {
	Accesses(ctx context.Context, op string, req *Request, old, new *Resource) ([]Access, error)
}

// BodyAuthorizer is implemented by AccessCheckers whose write's or
// delete's own action needs the body to be decided: a role assignment's
// conditions read the role it names; a custom role's action applies at
// the scopes it lists. Accesses decides for them; before the body is read
// the caller must only be one who might ever be allowed (Permissions.MayEver),
// so that a caller who never could learns nothing from validation (whether
// a role, a principal or a scope exists) and is refused as any other
// request is.
type BodyAuthorizer interface {
	OwnAccess() BodyAccess
}

// BodyAccess says how a BodyAuthorizer's own action is decided.
type BodyAccess struct {
	// BelowScope: the action applies at scopes at or beneath the one the
	// resource is created under (a custom role's assignable scopes), not
	// at the resource, so the check before the body counts the caller's
	// grants there too.
	BelowScope bool
}

// EarlyAccessChecker is implemented by AccessCheckers some of whose
// accesses a write's body tells as sent, before the kind's Preparer reads
// other resources to validate it: the subnets an account joins, the scopes
// a custom role lists. EarlyAccesses returns those; they are checked (as
// checkAccesses does) before Prepare, and Accesses decides again after it,
// so validation that says whether a subnet, an identity or a role's
// assignments exist answers only callers allowed everything it names.
type EarlyAccessChecker interface {
	EarlyAccesses(ctx context.Context, req *Request, old, new *Resource) ([]Access, error)
}

// bodyAccess returns how the kind's writes and deletes have their own
// action decided; false when the request's action decides as usual.
func bodyAccess(k Kind) (BodyAccess, bool) {
	b, ok := k.(BodyAuthorizer)
	if !ok {
		return BodyAccess{}, false
	}
	return b.OwnAccess(), true
}

// Authorization failures, as ARM words them.
const (
	CodeAuthorizationFailed       = "AuthorizationFailed"
	CodeLinkedAuthorizationFailed = "LinkedAuthorizationFailed"
)

// denied is the 403 ARM answers when no role assignment allows an action.
func denied(c Caller, a Access) *Error {
	return Errorf(http.StatusForbidden, CodeAuthorizationFailed,
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		c.Name(), c.ObjectID, a.Action, a.Scope)
}

// linkedDenied is the 403 ARM answers when the request's own action is
// allowed and an access on a resource it links to is not.
func linkedDenied(c Caller, own Access, linked []Access) *Error {
	var actions, scopes []string
	for _, a := range linked {
		if !slices.Contains(actions, a.Action) {
			actions = append(actions, a.Action)
		}
		scopes = append(scopes, a.Scope)
	}
	return Errorf(http.StatusForbidden, CodeLinkedAuthorizationFailed,
		"The client '%s' with object id '%s' has permission to perform action '%s' on scope '%s'; however, it does not have permission to perform action '%s' on the linked scope(s) '%s' or the linked scope(s) are invalid.",
		c.Name(), c.ObjectID, own.Action, own.Scope, strings.Join(actions, ","), strings.Join(scopes, ","))
}

// operationType is the prefix of a type's Azure operation names.
func (sp *Spec) operationType() string {
	if sp.Operation != "" {
		return sp.Operation
	}
	return sp.Type
}

// accessFor maps a resolved request to its action and scope. The second
// result is false for operation polls, which mayFollow decides once the
// operation is loaded (its caller and resource).
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
	case t.action != "" && spec.ActionOperations[t.action] != "":
		return Access{Action: spec.ActionOperations[t.action], Scope: id}, true
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

// authorize fetches the caller's permissions (once per request) and
// checks the request's own action. It returns filter=true when a list is
// allowed only item by item.
func (s *Server) authorize(ctx context.Context, req *Request, t target) (filter bool, err error) {
	if s.cfg.Authorizer == nil {
		return false, nil
	}
	if req.perms, err = s.cfg.Authorizer.Permissions(ctx, req.Caller); err != nil {
		return false, err
	}
	a, needed := s.accessFor(req.HTTP.Method, t)
	if !needed {
		return false, nil
	}
	if ba, ok := bodyAccess(t.kind.kind); ok && t.action == "" && !t.list &&
		(req.HTTP.Method == http.MethodPut || req.HTTP.Method == http.MethodPatch || req.HTTP.Method == http.MethodDelete) {
		// checkAccesses decides, with the body in hand; until then the
		// caller must be one who might ever be allowed.
		early := a
		if ba.BelowScope {
			early.Scope = orSlash(FormatID(t.elems[:len(t.elems)-1]))
		}
		if req.perms.MayEver(early, ba.BelowScope) {
			return false, nil
		}
		return false, denied(req.Caller, a)
	}
	switch {
	case req.perms.Allows(a):
		return false, nil
	case t.list && req.HTTP.Method == http.MethodGet && (a.Scope == "/" || req.perms.HoldsBelow(a.Scope)) && filterable(t.kind.kind):
		// At the root every caller gets the list of what it may see,
		// empty if nothing (GET /subscriptions, as Azure answers it).
		return true, nil
	}
	return false, denied(req.Caller, a)
}

// filterable reports whether a list of kind k can be shown item by item.
// Stored documents are filtered by the generic handler; a view computed
// on request (Reader) only if it says it applies Request.MayRead, since
// otherwise it would answer the whole scope to a caller who may read a
// part of it.
func filterable(k Kind) bool {
	if _, ok := k.(Reader); ok {
		return k.Spec().HonoursMayRead
	}
	return true
}

// mayRead reports whether a filtered list shows the resource id of type
// typ to the request's caller.
func (s *Server) mayRead(req *Request, id, typ string) bool {
	if req.perms == nil {
		return true
	}
	if req.perms.Allows(s.readAccess(id, typ)) {
		return true
	}
	// A subscription or group holding something the caller may use is
	// listed too, as Azure shows it. A resource is not: its document
	// (network rules, identity) is what a GET of it refuses, whatever the
	// caller holds on its children.
	return isContainer(typ) && req.perms.HoldsBelow(id)
}

// readAccess is the access a GET of resource id, of type typ, needs: the
// read action of the type its kind authorizes as, the type itself for a
// kind not served.
func (s *Server) readAccess(id, typ string) Access {
	if k := s.kind(typ); k != nil {
		typ = k.spec.operationType()
	}
	return Access{Action: typ + "/read", Scope: id}
}

// isContainer reports whether typ is a subscription or a resource group,
// the scopes that lists show to whoever holds something inside them.
func isContainer(typ string) bool {
	return strings.EqualFold(typ, TypeSubscription) || strings.EqualFold(typ, TypeResourceGroup)
}

// checkAccesses runs a kind's AccessChecker for a write or delete: its
// own accesses first, in order, then every linked one, all refused linked
// accesses named in one error as ARM names them.
func (s *Server) checkAccesses(ctx context.Context, op string, req *Request, old, new *Resource) error {
	ac, ok := s.kind(req.Spec.Type).kind.(AccessChecker)
	if req.perms == nil || !ok {
		return nil
	}
	all, err := ac.Accesses(ctx, op, req, old, new)
	if err != nil {
		return err
	}
	return allowAll(req, op, all)
}

// checkEarlyAccesses runs a kind's EarlyAccessChecker for a write, before
// its Preparer.
func (s *Server) checkEarlyAccesses(ctx context.Context, req *Request, old, new *Resource) error {
	ec, ok := s.kind(req.Spec.Type).kind.(EarlyAccessChecker)
	if req.perms == nil || !ok {
		return nil
	}
	all, err := ec.EarlyAccesses(ctx, req, old, new)
	if err != nil {
		return err
	}
	return allowAll(req, "write", all)
}

// allowAll checks accesses of an op: its own first, in order, then every
// linked one, all refused linked accesses named in one error.
func allowAll(req *Request, op string, all []Access) error {
	var own *Access
	var refused []Access
	for i, a := range all {
		switch {
		case a.Linked:
			if !req.perms.Allows(a) {
				refused = append(refused, a)
			}
		case !req.perms.Allows(a):
			return denied(req.Caller, a)
		case own == nil:
			own = &all[i]
		}
	}
	if len(refused) == 0 {
		return nil
	}
	if own == nil {
		own = &Access{Action: req.Spec.operationType() + "/" + op, Scope: req.ID}
	}
	return linkedDenied(req.Caller, *own, refused)
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
