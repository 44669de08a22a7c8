package authorization

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/store"
)

type roleAssignments struct {
	srv *arm.Server
	cfg Config
}

var (
	_ arm.Preparer      = (*roleAssignments)(nil)
	_ arm.AccessChecker = (*roleAssignments)(nil)
	_ arm.Lister        = (*roleAssignments)(nil)
	_ arm.Cleaner       = (*roleAssignments)(nil)
)

func (k *roleAssignments) Spec() arm.Spec {
	return arm.Spec{
		Type: TypeRoleAssignments, APIVersions: APIVersions(), Extension: true,
		Name: guidName("InvalidRoleAssignmentId", "role assignment"),
	}
}

// assignmentProps are a role assignment's properties as stored and served.
type assignmentProps struct {
	RoleDefinitionID  string     `json:"roleDefinitionId"`
	PrincipalID       string     `json:"principalId"`
	PrincipalType     string     `json:"principalType,omitempty"`
	Scope             string     `json:"scope"`
	Description       *string    `json:"description,omitempty"`
	Condition         *string    `json:"condition,omitempty"`
	ConditionVersion  *string    `json:"conditionVersion,omitempty"`
	CreatedOn         *time.Time `json:"createdOn,omitempty"`
	UpdatedOn         *time.Time `json:"updatedOn,omitempty"`
	CreatedBy         string     `json:"createdBy,omitempty"`
	UpdatedBy         string     `json:"updatedBy,omitempty"`
	ProvisioningState string     `json:"provisioningState,omitempty"`
}

func decodeAssignment(res *arm.Resource) (assignmentProps, error) {
	var p assignmentProps
	if len(res.Properties) == 0 {
		return p, badRequest("InvalidRequestContent", "The request body must have 'properties' with 'roleDefinitionId' and 'principalId'.")
	}
	if err := json.Unmarshal(res.Properties, &p); err != nil {
		return p, badRequest("InvalidRequestContent", "The role assignment properties are not valid: %v.", err)
	}
	return p, nil
}

// uniqueID is the document that makes (scope, principal, role) unique: it
// is created with the assignment, conditionally on not existing.
const uniqueType = "Perimeter/roleAssignmentKey"

func uniqueID(scope, principalID, roleGUID string) string {
	if scope == "/" {
		scope = ""
	}
	return scope + "/%roleAssignments/" + strings.ToLower(principalID) + "/" + roleGUID
}

func (k *roleAssignments) Prepare(ctx context.Context, w *arm.Write) error {
	scope := scopeOf(w.Elems)
	p, err := decodeAssignment(w.New)
	if err != nil {
		return err
	}
	if p.RoleDefinitionID == "" || p.PrincipalID == "" {
		return badRequest("InvalidRequestContent", "The role assignment needs properties.roleDefinitionId (the role) and properties.principalId (the object id of a user, group or service principal).")
	}
	guid, ok := trailingGUID(p.RoleDefinitionID)
	if !ok {
		return badRequest("InvalidRoleDefinitionId", "The role definition ID '%s' is not valid. Use '/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/{roleGuid}' or the role's GUID.", p.RoleDefinitionID)
	}
	def, custom, err := findRole(ctx, k.srv.Store(), guid)
	if err != nil {
		return err
	}
	if !authz.AssignableAt(def, scope) {
		return badRequest("InvalidRoleAssignmentScope", "The role definition '%s' is not assignable at scope '%s': its assignableScopes are %s.", def.RoleName, scope, strings.Join(def.AssignableScopes, ", "))
	}
	pid, err := uuid.Parse(p.PrincipalID)
	if err != nil || len(p.PrincipalID) != 36 {
		return badRequest("InvalidPrincipalId", "The principal ID '%s' is not valid. It must be the object id (a GUID) of a user, group or service principal.", p.PrincipalID)
	}
	p.PrincipalID = pid.String()
	actual, err := k.cfg.Principals(ctx, k.cfg.TenantID, p.PrincipalID)
	if errors.Is(err, ErrPrincipalNotFound) {
		return badRequest("PrincipalNotFound", "Principal %s does not exist in the directory %s. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, retry after the principal is created.", p.PrincipalID, k.cfg.TenantID)
	}
	if err != nil {
		return fmt.Errorf("look up principal %s: %w", p.PrincipalID, err)
	}
	if p.PrincipalType != "" && !strings.EqualFold(p.PrincipalType, actual) {
		return badRequest("UnmatchedPrincipalType", "The PrincipalId '%s' has type '%s', which is different from specified PrincipalType '%s'.", p.PrincipalID, actual, p.PrincipalType)
	}
	p.PrincipalType = actual
	if p.Condition != nil && *p.Condition != "" {
		if _, err := authz.ParseCondition(*p.Condition); err != nil {
			return badRequest("InvalidCondition", "The role assignment condition is not valid: %v.", err)
		}
		if p.ConditionVersion == nil || *p.ConditionVersion == "" {
			v := "2.0"
			p.ConditionVersion = &v
		} else if *p.ConditionVersion != "2.0" {
			return badRequest("InvalidConditionVersion", "The condition version '%s' is not supported. Use '2.0'.", *p.ConditionVersion)
		}
	}
	p.RoleDefinitionID = roleDefinitionIDAt(w.Elems[:len(w.Elems)-1], guid)
	p.Scope = scope
	now := k.srv.Now().UTC().Truncate(time.Millisecond)
	p.UpdatedOn, p.UpdatedBy = &now, w.Caller.ObjectID
	if w.Old != nil {
		old, err := decodeAssignment(w.Old)
		if err != nil {
			return err
		}
		if !strings.EqualFold(old.PrincipalID, p.PrincipalID) || !strings.EqualFold(roleGUIDOf(old), guid) {
			return arm.Errorf(http.StatusConflict, "RoleAssignmentUpdateNotPermitted",
				"Tenant ID, application ID, principal ID, and scope are not allowed to be updated. Delete role assignment '%s' and create a new one.", w.Old.Name)
		}
		p.CreatedOn, p.CreatedBy = old.CreatedOn, old.CreatedBy
	} else {
		p.CreatedOn, p.CreatedBy = &now, w.Caller.ObjectID
		if err := k.checkUnique(ctx, w, scope, p.PrincipalID, guid); err != nil {
			return err
		}
		if custom != nil {
			if err := pinRole(ctx, k.srv.Store(), w, custom); err != nil {
				return err
			}
		}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	w.New.Properties = body
	return nil
}

// checkUnique refuses a second assignment of the same role to the same
// principal at the same scope, and adds the document that keeps a
// concurrent one from committing.
func (k *roleAssignments) checkUnique(ctx context.Context, w *arm.Write, scope, principalID, guid string) error {
	uid := uniqueID(scope, principalID, guid)
	_, err := k.srv.Store().Get(ctx, uid)
	switch {
	case err == nil:
		return arm.Errorf(http.StatusConflict, "RoleAssignmentExists", "The role assignment already exists: the principal %s already has the role %s at scope '%s'.", principalID, guid, scope)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	body, err := json.Marshal(map[string]string{"roleAssignment": w.New.ID})
	if err != nil {
		return err
	}
	w.Ops = append(w.Ops, store.Op{Put: &store.Document{ID: uid, Type: uniqueType, Body: body}, If: store.Precondition{IfNoneMatch: "*"}})
	return nil
}

// Cleanup removes the uniqueness document with the assignment.
func (k *roleAssignments) Cleanup(ctx context.Context, r *arm.Resource, root string) ([]store.Op, error) {
	p, err := decodeAssignment(r)
	if err != nil {
		return nil, nil // nothing of ours to clean from a malformed document
	}
	uid := uniqueID(p.Scope, p.PrincipalID, roleGUIDOf(p))
	if root != "" && strings.HasPrefix(strings.ToLower(uid), strings.ToLower(root)+"/") {
		return nil, nil // goes with the tree being deleted
	}
	if _, err := k.srv.Store().Get(ctx, uid); errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return []store.Op{{Delete: uid}}, nil
}

func roleGUIDOf(p assignmentProps) string {
	g, _ := trailingGUID(p.RoleDefinitionID)
	return g
}

// OwnAccess: delegation conditions read the role the assignment names
// and the principal, which Prepare normalises; the action applies at the
// assignment's scope.
func (*roleAssignments) OwnAccess() arm.BodyAccess { return arm.BodyAccess{} }

var _ arm.BodyAuthorizer = (*roleAssignments)(nil)

// Accesses: writing or deleting an assignment needs the Authorization
// action at its scope, with the role it names for delegation conditions.
func (k *roleAssignments) Accesses(_ context.Context, op string, req *arm.Request, old, new *arm.Resource) ([]arm.Access, error) {
	scope := scopeOf(req.Elems)
	if op == "delete" {
		p, err := decodeAssignment(old)
		if err != nil {
			return nil, err
		}
		return []arm.Access{{Action: TypeRoleAssignments + "/delete", Scope: scope, ResourceAttrs: attrs(p)}}, nil
	}
	p, err := decodeAssignment(new)
	if err != nil {
		return nil, err
	}
	return []arm.Access{{Action: TypeRoleAssignments + "/write", Scope: scope, RequestAttrs: attrs(p)}}, nil
}

func attrs(p assignmentProps) map[string][]string {
	return map[string][]string{
		AttrRoleDefinitionID: {roleGUIDOf(p)},
		AttrPrincipalID:      {p.PrincipalID},
		AttrPrincipalType:    {p.PrincipalType},
	}
}

// assignmentFilter is a parsed $filter of a role assignment list.
type assignmentFilter struct {
	atScope    bool
	principal  string // principalId eq '...'
	assignedTo string // assignedTo('...'): the principal or its groups
}

var filterTerm = regexp.MustCompile(`(?i)^\s*(?:(atScope\(\))|principalId\s+eq\s+'([0-9a-f-]{36})'|assignedTo\('([0-9a-f-]{36})'\))\s*$`)

func parseAssignmentFilter(s string) (assignmentFilter, error) {
	var f assignmentFilter
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	for _, term := range regexp.MustCompile(`(?i)\s+and\s+`).Split(s, -1) {
		m := filterTerm.FindStringSubmatch(term)
		if m == nil {
			return f, badRequest("InvalidFilterInQueryString", "The $filter '%s' is not supported. Use atScope(), principalId eq '{objectId}', assignedTo('{objectId}'), joined with 'and'.", s)
		}
		switch {
		case m[1] != "":
			f.atScope = true
		case m[2] != "":
			f.principal = strings.ToLower(m[2])
		default:
			f.assignedTo = strings.ToLower(m[3])
		}
	}
	return f, nil
}

// ListAll lists the assignments that apply at the scope (at or above it)
// and, without atScope(), those below it too, as Azure does.
func (k *roleAssignments) ListAll(ctx context.Context, r *arm.Request) ([]any, error) {
	f, err := parseAssignmentFilter(r.HTTP.URL.Query().Get("$filter"))
	if err != nil {
		return nil, err
	}
	scope := scopeID(r.Elems)
	principals := map[string]bool{}
	if f.assignedTo != "" {
		principals[f.assignedTo] = true
		if k.cfg.Groups != nil {
			for _, g := range k.cfg.Groups(f.assignedTo) {
				principals[strings.ToLower(g)] = true
			}
		}
	}
	all, err := storedAssignments(ctx, k.srv.Store())
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, a := range all {
		p := a.props
		above := authz.ScopeCovers(p.Scope, scope)
		if !above && (f.atScope || !authz.ScopeCovers(scope, p.Scope)) {
			continue
		}
		pid := strings.ToLower(p.PrincipalID)
		if (f.principal != "" && pid != f.principal) || (f.assignedTo != "" && !principals[pid]) {
			continue
		}
		if r.MayRead != nil && !r.MayRead(a.res.ID, TypeRoleAssignments) {
			continue
		}
		out = append(out, a.res)
	}
	return out, nil
}

// storedAssignment is a role assignment read from the store.
type storedAssignment struct {
	res   *arm.Resource // with its ETag
	props assignmentProps
}

// storedAssignments reads every role assignment in the store.
func storedAssignments(ctx context.Context, st store.Store) ([]storedAssignment, error) {
	docs, err := st.List(ctx, store.ListOptions{Type: TypeRoleAssignments})
	if err != nil {
		return nil, err
	}
	out := make([]storedAssignment, 0, len(docs))
	for _, d := range docs {
		var res arm.Resource
		if err := json.Unmarshal(d.Body, &res); err != nil {
			return nil, fmt.Errorf("role assignment %s: %w", d.ID, err)
		}
		p, err := decodeAssignment(&res)
		if err != nil {
			return nil, fmt.Errorf("role assignment %s: %w", d.ID, err)
		}
		res.ETag = d.ETag
		out = append(out, storedAssignment{res: &res, props: p})
	}
	return out, nil
}

// Assignments reads every role assignment in the store, for the policy
// compiler.
func Assignments(ctx context.Context, st store.Store) ([]authz.Assignment, error) {
	all, err := storedAssignments(ctx, st)
	if err != nil {
		return nil, err
	}
	out := make([]authz.Assignment, len(all))
	for i, a := range all {
		p := a.props
		cond, version := "", ""
		if p.Condition != nil {
			cond = *p.Condition
		}
		if p.ConditionVersion != nil {
			version = *p.ConditionVersion
		}
		out[i] = authz.Assignment{
			ID: a.res.ID, Scope: p.Scope, RoleDefinitionID: roleGUIDOf(p),
			PrincipalID: strings.ToLower(p.PrincipalID), PrincipalType: p.PrincipalType,
			Condition: cond, ConditionVersion: version,
		}
	}
	return out, nil
}

// AssignOps returns the store ops that make a role assignment without an
// ARM request (the installation's bootstrap): the assignment and its
// uniqueness record, each conditional on not existing yet.
func AssignOps(scope, name, roleGUID, principalID, principalType string, now time.Time) ([]store.Op, error) {
	var parts []arm.Elem
	if scope != "/" {
		p, err := arm.ParsePath(scope)
		if err != nil {
			return nil, err
		}
		parts = p.Elems
	}
	p := assignmentProps{
		RoleDefinitionID: roleDefinitionIDAt(parts, roleGUID), PrincipalID: strings.ToLower(principalID),
		PrincipalType: principalType, Scope: scope, CreatedOn: &now, UpdatedOn: &now,
	}
	id := strings.TrimSuffix(scope, "/") + "/providers/" + TypeRoleAssignments + "/" + name
	return assignmentOps(id, name, scope, p, "")
}

// MoveOps returns the store ops that give every role assignment at scope
// held by from to the principal to instead (the bootstrap admin's
// assignments moving from its application to its service principal),
// uniqueness records included.
func MoveOps(ctx context.Context, st store.Store, scope, from, to string) ([]store.Op, error) {
	all, err := storedAssignments(ctx, st)
	if err != nil {
		return nil, err
	}
	var ops []store.Op
	for _, a := range all {
		p := a.props
		if !strings.EqualFold(p.Scope, scope) || !strings.EqualFold(p.PrincipalID, from) {
			continue
		}
		if _, err := st.Get(ctx, uniqueID(p.Scope, p.PrincipalID, roleGUIDOf(p))); err == nil {
			ops = append(ops, store.Op{Delete: uniqueID(p.Scope, p.PrincipalID, roleGUIDOf(p))})
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		p.PrincipalID = strings.ToLower(to)
		more, err := assignmentOps(a.res.ID, a.res.Name, scope, p, a.res.ETag)
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	return ops, nil
}

// assignmentOps writes an assignment document (new when etag is "", else
// replacing that version) and creates its uniqueness record.
func assignmentOps(id, name, scope string, p assignmentProps, etag string) ([]store.Op, error) {
	props, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(arm.Resource{ID: id, Name: name, Type: TypeRoleAssignments, Properties: props})
	if err != nil {
		return nil, err
	}
	key, err := json.Marshal(map[string]string{"roleAssignment": id})
	if err != nil {
		return nil, err
	}
	parent := scope
	if parent == "/" {
		parent = ""
	}
	cond := store.Precondition{IfNoneMatch: "*"}
	if etag != "" {
		cond = store.Precondition{IfMatch: etag}
	}
	return []store.Op{
		{Put: &store.Document{ID: id, Type: TypeRoleAssignments, Parent: parent, Body: body}, If: cond},
		{Put: &store.Document{ID: uniqueID(scope, p.PrincipalID, roleGUIDOf(p)), Type: uniqueType, Body: key}, If: store.Precondition{IfNoneMatch: "*"}},
	}, nil
}
