package authorization

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/store"
)

// roleDefinitions serves the built-in roles at every scope (they are not
// stored) and custom roles, stored where they were created and readable by
// their GUID from any scope.
type roleDefinitions struct {
	srv *arm.Server
}

var (
	_ arm.Preparer      = (*roleDefinitions)(nil)
	_ arm.AccessChecker = (*roleDefinitions)(nil)
	_ arm.Finder        = (*roleDefinitions)(nil)
	_ arm.Lister        = (*roleDefinitions)(nil)
	_ arm.DeleteChecker = (*roleDefinitions)(nil)
	_ arm.Cleaner       = (*roleDefinitions)(nil)
)

func (k *roleDefinitions) Spec() arm.Spec {
	return arm.Spec{
		Type: TypeRoleDefinitions, APIVersions: APIVersions(), Extension: true,
		Name: guidName("InvalidRoleDefinitionId", "role definition"),
	}
}

// definitionProps are a role definition's properties as ARM shapes them
// (api-version 2022-04-01: the role type is "type").
type definitionProps struct {
	RoleName          string             `json:"roleName"`
	Description       string             `json:"description"`
	RoleType          string             `json:"type"`
	AssignableScopes  []string           `json:"assignableScopes"`
	Permissions       []authz.Permission `json:"permissions"`
	CreatedOn         *time.Time         `json:"createdOn,omitempty"`
	UpdatedOn         *time.Time         `json:"updatedOn,omitempty"`
	CreatedBy         string             `json:"createdBy,omitempty"`
	UpdatedBy         string             `json:"updatedBy,omitempty"`
	ProvisioningState string             `json:"provisioningState,omitempty"`
}

// definitionView is a role definition as served.
type definitionView struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Properties definitionProps `json:"properties"`
}

func builtInView(def authz.RoleDefinition, scope []arm.Elem) definitionView {
	return definitionView{
		ID: roleDefinitionIDAt(scope, def.Name), Name: def.Name, Type: TypeRoleDefinitions,
		Properties: definitionProps{
			RoleName: def.RoleName, Description: def.Description, RoleType: def.RoleType,
			AssignableScopes: def.AssignableScopes, Permissions: def.Permissions,
		},
	}
}

// customRole is a custom role definition read from the store.
type customRole struct {
	def authz.RoleDefinition
	res *arm.Resource // as served, with its ETag
}

// customRoles reads every custom role definition in the store.
func customRoles(ctx context.Context, st store.Store) ([]customRole, error) {
	docs, err := st.List(ctx, store.ListOptions{Type: TypeRoleDefinitions})
	if err != nil {
		return nil, err
	}
	out := make([]customRole, 0, len(docs))
	for _, d := range docs {
		var res arm.Resource
		var p definitionProps
		if err := json.Unmarshal(d.Body, &res); err != nil {
			return nil, fmt.Errorf("role definition %s: %w", d.ID, err)
		}
		if err := json.Unmarshal(res.Properties, &p); err != nil {
			return nil, fmt.Errorf("role definition %s: %w", d.ID, err)
		}
		res.ETag = d.ETag
		out = append(out, customRole{res: &res, def: authz.RoleDefinition{
			ID: res.ID, Name: strings.ToLower(res.Name), RoleName: p.RoleName, Description: p.Description,
			RoleType: authz.RoleTypeCustom, AssignableScopes: p.AssignableScopes, Permissions: p.Permissions,
		}})
	}
	return out, nil
}

// CustomRoles reads every custom role definition in the store, for the
// policy compiler.
func CustomRoles(ctx context.Context, st store.Store) ([]authz.RoleDefinition, error) {
	all, err := customRoles(ctx, st)
	if err != nil {
		return nil, err
	}
	out := make([]authz.RoleDefinition, len(all))
	for i, c := range all {
		out[i] = c.def
	}
	return out, nil
}

// findRole returns the built-in or custom role with the GUID, and the
// stored custom role (nil for a built-in), or a 400 naming the GUID.
func findRole(ctx context.Context, st store.Store, guid string) (authz.RoleDefinition, *customRole, error) {
	if def, ok := authz.BuiltInRole(guid); ok {
		return def, nil, nil
	}
	customs, err := customRoles(ctx, st)
	if err != nil {
		return authz.RoleDefinition{}, nil, err
	}
	for i, c := range customs {
		if c.def.Name == guid {
			return c.def, &customs[i], nil
		}
	}
	return authz.RoleDefinition{}, nil, badRequest("RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not exist. List the roles with GET {scope}/providers/Microsoft.Authorization/roleDefinitions.", guid)
}

func (k *roleDefinitions) Prepare(ctx context.Context, w *arm.Write) error {
	scope := scopeOf(w.Elems)
	guid := strings.ToLower(w.Elems[len(w.Elems)-1].Name)
	if _, builtIn := authz.BuiltInRole(guid); builtIn {
		return arm.Errorf(http.StatusConflict, "RoleDefinitionUpdateNotAllowed", "'%s' is a built-in role definition; built-in roles cannot be changed. Create a custom role with a new GUID.", guid)
	}
	var p definitionProps
	if len(w.New.Properties) == 0 {
		return badRequest("InvalidRoleDefinition", "The request body must have 'properties' with 'roleName', 'assignableScopes' and 'permissions'.")
	}
	if err := json.Unmarshal(w.New.Properties, &p); err != nil {
		return badRequest("InvalidRoleDefinition", "The role definition properties are not valid: %v.", err)
	}
	if p.RoleType != "" && !strings.EqualFold(p.RoleType, "CustomRole") {
		return badRequest("InvalidRoleDefinition", "A role definition created here must have type 'CustomRole', not '%s'.", p.RoleType)
	}
	p.RoleType = "CustomRole"
	def := authz.RoleDefinition{ID: w.New.ID, Name: guid, RoleName: p.RoleName, Description: p.Description, RoleType: p.RoleType, AssignableScopes: p.AssignableScopes, Permissions: p.Permissions}
	if err := authz.ValidateRoleDefinition(def); err != nil {
		code, msg := "InvalidRoleDefinition", err.Error()
		if ve, ok := err.(*authz.ValidationError); ok {
			code, msg = ve.Code, ve.Message
		}
		return badRequest(code, "%s", msg)
	}
	for _, s := range p.AssignableScopes {
		if !authz.ScopeCovers(scope, s) {
			return badRequest("InvalidAssignableScope", "The assignable scope '%s' is not at or below '%s', where the role definition is being created. Create it at a scope that contains all its assignable scopes.", s, scope)
		}
	}
	customs, err := CustomRoles(ctx, k.srv.Store())
	if err != nil {
		return err
	}
	for _, c := range customs {
		if !strings.EqualFold(c.Name, guid) && strings.EqualFold(c.RoleName, p.RoleName) {
			return arm.Errorf(http.StatusConflict, "RoleDefinitionWithSameNameExists", "A custom role named '%s' already exists (%s). Choose another roleName.", p.RoleName, c.Name)
		}
		if strings.EqualFold(c.Name, guid) && !strings.EqualFold(c.ID, w.New.ID) {
			return sameIDExists(guid, c.ID)
		}
	}
	if err := k.checkUniqueGUID(ctx, w, guid); err != nil {
		return err
	}
	if w.Old != nil {
		if err := keepsAssignmentsCovered(ctx, k.srv.Store(), def); err != nil {
			return err
		}
	}
	now := k.srv.Now().UTC().Truncate(time.Millisecond)
	p.UpdatedOn, p.UpdatedBy = &now, w.Caller.ObjectID
	p.CreatedOn, p.CreatedBy = &now, w.Caller.ObjectID
	if w.Old != nil {
		var old definitionProps
		if json.Unmarshal(w.Old.Properties, &old) == nil {
			p.CreatedOn, p.CreatedBy = old.CreatedOn, old.CreatedBy
		}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	w.New.Properties = body
	return nil
}

// OwnAccess: the action applies at the scopes the role lists, at or
// beneath the one it is created under.
func (*roleDefinitions) OwnAccess() arm.BodyAccess { return arm.BodyAccess{BelowScope: true} }

var _ arm.EarlyAccessChecker = (*roleDefinitions)(nil)

// EarlyAccesses: the scopes are in the body as sent, so the write is
// authorized before Prepare reads the role's assignments and the other
// custom roles, whose conflicts name them.
func (k *roleDefinitions) EarlyAccesses(ctx context.Context, req *arm.Request, old, new *arm.Resource) ([]arm.Access, error) {
	return k.Accesses(ctx, "write", req, old, new)
}

var _ arm.BodyAuthorizer = (*roleDefinitions)(nil)

// Accesses: a custom role needs roleDefinitions/write (or delete) at each
// of its assignable scopes, as Azure checks. An update needs write at the
// scopes the role had as well as at those it gets: the role's existing
// assignments there change meaning, so whoever may only write roles on a
// resource group cannot rewrite one assigned at the subscription.
func (k *roleDefinitions) Accesses(_ context.Context, op string, req *arm.Request, old, new *arm.Resource) ([]arm.Access, error) {
	var scopes []string
	if op == "delete" {
		p, err := decodeDefinition(old)
		if err != nil {
			return nil, fmt.Errorf("stored role definition %s: %w", old.ID, err)
		}
		scopes = p.AssignableScopes
	} else {
		p, err := decodeDefinition(new)
		if err != nil {
			return nil, err
		}
		scopes = p.AssignableScopes
		if old != nil {
			was, err := decodeDefinition(old)
			if err != nil {
				return nil, fmt.Errorf("stored role definition %s: %w", old.ID, err)
			}
			scopes = append(slices.Clone(scopes), was.AssignableScopes...)
		}
	}
	if len(scopes) == 0 {
		scopes = []string{scopeOf(req.Elems)}
	}
	out := make([]arm.Access, 0, len(scopes))
	for _, s := range scopes {
		a := arm.Access{Action: TypeRoleDefinitions + "/" + op, Scope: s}
		if !slices.ContainsFunc(out, func(b arm.Access) bool { return strings.EqualFold(b.Scope, s) }) {
			out = append(out, a)
		}
	}
	return out, nil
}

// decodeDefinition reads a role definition's properties.
func decodeDefinition(res *arm.Resource) (definitionProps, error) {
	var p definitionProps
	if err := json.Unmarshal(res.Properties, &p); err != nil {
		return p, badRequest("InvalidRoleDefinition", "The role definition properties are not valid: %v.", err)
	}
	return p, nil
}

// keepsAssignmentsCovered refuses an update that would leave an existing
// assignment of the role at a scope none of its new assignable scopes
// covers: Azure would not let such an assignment be made, and the policy
// compiler ignores it, so the update would silently revoke it.
func keepsAssignmentsCovered(ctx context.Context, st store.Store, def authz.RoleDefinition) error {
	all, err := storedAssignments(ctx, st)
	if err != nil {
		return err
	}
	for _, a := range all {
		if roleGUIDOf(a.props) == def.Name && !authz.AssignableAt(def, a.props.Scope) {
			return arm.Errorf(http.StatusConflict, "RoleDefinitionHasAssignmentsOutsideScopes",
				"The role definition '%s' is assigned at scope '%s' (%s), which none of the new assignableScopes covers. Delete that role assignment first, or keep an assignable scope that covers '%s'.",
				def.Name, a.props.Scope, a.res.ID, a.props.Scope)
		}
	}
	return nil
}

// guidKeyType is the type of the document that makes a custom role's GUID
// unique in the installation: it names the one role definition that holds
// the GUID, and is created with it, conditionally on not existing.
const guidKeyType = "Perimeter/roleDefinitionKey"

func guidKeyID(guid string) string { return "/%roleDefinitions/" + guid }

type guidKey struct {
	RoleDefinition string `json:"roleDefinition"`
}

func sameIDExists(guid, id string) *arm.Error {
	return arm.Errorf(http.StatusConflict, "RoleDefinitionWithSameIdExists",
		"A custom role with the ID '%s' already exists at '%s'. A role definition ID names one role in the installation: update that one, or choose a new GUID.", guid, id)
}

// checkUniqueGUID refuses a GUID that another role definition holds, and
// adds the document that keeps a concurrent one from committing (also for
// roles stored before the document existed, when they are next updated).
func (k *roleDefinitions) checkUniqueGUID(ctx context.Context, w *arm.Write, guid string) error {
	doc, err := k.srv.Store().Get(ctx, guidKeyID(guid))
	switch {
	case err == nil:
		var key guidKey
		if err := json.Unmarshal(doc.Body, &key); err != nil {
			return fmt.Errorf("role definition key %s: %w", doc.ID, err)
		}
		if !strings.EqualFold(key.RoleDefinition, w.New.ID) {
			return sameIDExists(guid, key.RoleDefinition)
		}
		// New assignments of the role touch the key: one made after the
		// role's assignments are read below fails this write.
		w.Ops = append(w.Ops, store.Op{Check: doc.ID, If: store.Precondition{IfMatch: doc.ETag}})
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	body, err := json.Marshal(guidKey{RoleDefinition: w.New.ID})
	if err != nil {
		return err
	}
	w.Ops = append(w.Ops, store.Op{Put: &store.Document{ID: guidKeyID(guid), Type: guidKeyType, Body: body}, If: store.Precondition{IfNoneMatch: "*"}})
	return nil
}

// pinRole makes a new assignment of a custom role depend on the role as
// it was read: the role's document must be unchanged when the assignment
// commits, and the GUID's key is rewritten so that an update or delete of
// the role that read its assignments before this one commits fails.
// Together they keep an assignment from landing outside the role's
// assignable scopes, or outliving the role, through a race.
func pinRole(ctx context.Context, st store.Store, w *arm.Write, c *customRole) error {
	w.Ops = append(w.Ops, store.Op{Check: c.res.ID, If: store.Precondition{IfMatch: c.res.ETag}})
	key, err := st.Get(ctx, guidKeyID(c.def.Name))
	if errors.Is(err, store.ErrNotFound) {
		return nil // stored before keys existed; its next update adds one
	} else if err != nil {
		return err
	}
	touched := key
	touched.ETag = ""
	w.Ops = append(w.Ops, store.Op{Put: &touched, If: store.Precondition{IfMatch: key.ETag}})
	return nil
}

// Cleanup removes the GUID's document with the role definition that holds
// it (deleted itself or with the scope it was created under).
func (k *roleDefinitions) Cleanup(ctx context.Context, r *arm.Resource, _ string) ([]store.Op, error) {
	id := guidKeyID(strings.ToLower(r.Name))
	doc, err := k.srv.Store().Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var key guidKey
	if json.Unmarshal(doc.Body, &key) != nil || !strings.EqualFold(key.RoleDefinition, r.ID) {
		return nil, nil // another definition's (stored before GUIDs were unique)
	}
	return []store.Op{{Delete: id, If: store.Precondition{IfMatch: doc.ETag}}}, nil
}

// CheckDelete refuses to delete a role that is still assigned, and keeps
// an assignment made meanwhile from being left behind.
func (k *roleDefinitions) CheckDelete(ctx context.Context, d *arm.Delete) error {
	guid := strings.ToLower(d.Old.Name)
	if key, err := k.srv.Store().Get(ctx, guidKeyID(guid)); err == nil {
		d.Ops = append(d.Ops, store.Op{Check: key.ID, If: store.Precondition{IfMatch: key.ETag}})
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	all, err := storedAssignments(ctx, k.srv.Store())
	if err != nil {
		return err
	}
	for _, a := range all {
		if roleGUIDOf(a.props) == guid {
			return arm.Errorf(http.StatusConflict, "RoleDefinitionHasAssignments", "The role definition '%s' is still assigned (%s). Delete its role assignments first.", guid, a.res.ID)
		}
	}
	return nil
}

// Find serves a built-in role at any scope, and a custom role by its GUID
// from any scope.
func (k *roleDefinitions) Find(ctx context.Context, r *arm.Request) (any, error) {
	guid := strings.ToLower(r.Elems[len(r.Elems)-1].Name)
	if def, ok := authz.BuiltInRole(guid); ok {
		return builtInView(def, r.Elems[:len(r.Elems)-1]), nil
	}
	customs, err := customRoles(ctx, k.srv.Store())
	if err != nil {
		return nil, err
	}
	for _, c := range customs {
		if c.def.Name == guid {
			return c.res, nil
		}
	}
	return nil, arm.Errorf(http.StatusNotFound, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not exist.", guid)
}

var (
	roleNameFilter = regexp.MustCompile(`(?i)^\s*roleName\s+eq\s+'((?:[^']|'')*)'\s*$`)
	roleTypeFilter = regexp.MustCompile(`(?i)^\s*type\s+eq\s+'(BuiltInRole|CustomRole)'\s*$`)
)

// ListAll lists the built-in roles and the custom roles assignable at,
// above or below the scope; $filter may name a roleName or a type.
func (k *roleDefinitions) ListAll(ctx context.Context, r *arm.Request) ([]any, error) {
	scope := scopeID(r.Elems)
	var name, typ string
	if f := r.HTTP.URL.Query().Get("$filter"); strings.TrimSpace(f) != "" {
		if m := roleNameFilter.FindStringSubmatch(f); m != nil {
			name = strings.ReplaceAll(m[1], "''", "'")
		} else if m := roleTypeFilter.FindStringSubmatch(f); m != nil {
			typ = m[1]
		} else {
			return nil, badRequest("InvalidFilterInQueryString", "The $filter '%s' is not supported. Use roleName eq '{name}' or type eq 'BuiltInRole' / 'CustomRole'.", f)
		}
	}
	out := []any{}
	if !strings.EqualFold(typ, "CustomRole") {
		for _, def := range authz.BuiltInRoles() {
			if name == "" || strings.EqualFold(def.RoleName, name) {
				out = append(out, builtInView(def, r.Elems))
			}
		}
	}
	if strings.EqualFold(typ, "BuiltInRole") {
		return out, nil
	}
	customs, err := customRoles(ctx, k.srv.Store())
	if err != nil {
		return nil, err
	}
	for _, c := range customs {
		def := c.def
		if name != "" && !strings.EqualFold(def.RoleName, name) {
			continue
		}
		related := false
		for _, s := range def.AssignableScopes {
			related = related || authz.ScopeCovers(s, scope) || authz.ScopeCovers(scope, s)
		}
		if related {
			out = append(out, c.res)
		}
	}
	return out, nil
}
