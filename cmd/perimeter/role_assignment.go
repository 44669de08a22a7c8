package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

// roleAssignmentListView is the table of role assignments, as az's.
func roleAssignmentListView() []field {
	return []field{at("Principal", "principalName"), at("Role", "roleDefinitionName"), at("Scope", "scope")}
}

// roleAssignmentView is the table of a role assignment just made (az
// names no principal or role there).
func roleAssignmentView() []field {
	return []field{at("Name", "name"), at("PrincipalId", "principalId"), at("PrincipalType", "principalType"), at("Scope", "scope")}
}

// assignment is a role assignment to make.
type assignment struct {
	scope, name, roleID string
	principal           principal
	description         string
	condition           string
	conditionVersion    string
}

// createAssignment PUTs a role assignment and returns it flattened.
func (s *session) createAssignment(ctx context.Context, a assignment) (any, error) {
	props := map[string]any{"roleDefinitionId": a.roleID, "principalId": a.principal.id}
	if a.principal.typ != "" {
		props["principalType"] = a.principal.typ
	}
	if a.description != "" {
		props["description"] = a.description
	}
	if a.condition != "" {
		props["condition"] = a.condition
		props["conditionVersion"] = a.conditionVersion
	}
	resp, err := s.doJSON(ctx, http.MethodPut, authorizationPath(a.scope, "roleAssignments", a.name), apiAuthorization, map[string]any{"properties": props}, false)
	if err != nil {
		return nil, err
	}
	v, err := decodeValue(resp.body)
	if err != nil {
		return nil, fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	return flattenRole(v), nil
}

// deleteAssignment deletes a role assignment by id.
func (s *session) deleteAssignment(ctx context.Context, id string) error {
	_, err := s.client.do(ctx, &request{method: http.MethodDelete, url: escapePath(id), query: apiVersion(apiAuthorization)}, false)
	return err
}

// assignmentCreateOptions are the flags of `role assignment create`.
type assignmentCreateOptions struct {
	assignee, objectID, principalType string
	role, scope, name, description    string
	condition, conditionVersion       string
}

// check validates the flags, as az does, before any request.
func (o *assignmentCreateOptions) check() error {
	if (o.assignee == "") == (o.objectID == "") {
		return usageErrorf("usage error: --assignee STRING | --assignee-object-id GUID")
	}
	if o.principalType != "" {
		if o.objectID == "" {
			return usageErrorf("usage error: --assignee-object-id GUID --assignee-principal-type TYPE")
		}
		t, err := choice("--assignee-principal-type", o.principalType, "User", "Group", "ServicePrincipal")
		if err != nil {
			return err
		}
		o.principalType = t
	}
	if o.objectID != "" && !isGUID(o.objectID) {
		return usageErrorf("argument --assignee-object-id: give the object id (a GUID) of a user, group or service principal")
	}
	if o.name != "" && !isGUID(o.name) {
		return usageErrorf("argument --name/-n: the name of a role assignment is a GUID")
	}
	if o.conditionVersion != "" && o.condition == "" {
		return usageErrorf("usage error: When --condition-version is set, --condition must be set as well.")
	}
	if o.condition != "" && o.conditionVersion == "" {
		o.conditionVersion = "2.0"
	}
	return checkScope("--scope", o.scope)
}

func roleAssignmentCreate(g *globals) *cobra.Command {
	var o assignmentCreateOptions
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Assign a role to a user, group or service principal at a scope",
		Long: `Assign a role at a scope. --assignee is a user principal name, a service
principal's appId, or the object id of a user, group or service principal,
looked up in the directory; --assignee-object-id skips the lookup (the server
fills in the principal type unless --assignee-principal-type gives it).
--role is a roleName, the role's GUID or its id. The same role for the same
principal at the same scope cannot be assigned twice.`,
		Example: `  perimeter role assignment create --assignee alice@contoso.com --role Reader --scope /subscriptions/{id}/resourceGroups/demo
  perimeter role assignment create --assignee-object-id GUID --assignee-principal-type Group --role 'Azure AI User' --scope ID`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			a := assignment{scope: trimScope(o.scope), name: o.name, principal: principal{id: o.objectID, typ: o.principalType},
				description: o.description, condition: o.condition, conditionVersion: o.conditionVersion}
			if a.name == "" {
				a.name = uuid.NewString()
			}
			if a.roleID, err = s.roleID(ctx, o.role, a.scope); err != nil {
				return err
			}
			if o.assignee != "" {
				gc, err := g.graph(cmd)
				if err != nil {
					return err
				}
				if a.principal, err = gc.assignee(ctx, o.assignee); err != nil {
					return err
				}
			}
			created, err := s.createAssignment(ctx, a)
			if err != nil {
				return err
			}
			return g.printView(cmd, created, roleAssignmentView())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.assignee, "assignee", "", "user principal name, service principal appId, or object id")
	f.StringVar(&o.objectID, "assignee-object-id", "", "object id of the principal (no directory lookup)")
	f.StringVar(&o.principalType, "assignee-principal-type", "", "with --assignee-object-id: User, Group or ServicePrincipal")
	f.StringVar(&o.role, "role", "", "roleName, GUID or id of the role")
	f.StringVar(&o.scope, "scope", "", "where the role applies, such as /subscriptions/{id}/resourceGroups/{name}")
	f.StringVarP(&o.name, "name", "n", "", "GUID of the new assignment (default: a new one)")
	f.StringVar(&o.description, "description", "", "why the role is assigned")
	f.StringVar(&o.condition, "condition", "", "condition the assignment applies under")
	f.StringVar(&o.conditionVersion, "condition-version", "", "version of the condition syntax (default 2.0)")
	required(cmd, "role", "scope")
	return cmd
}

// assignmentQuery selects role assignments, as az's
// _search_role_assignments.
type assignmentQuery struct {
	// scope is where to look; "" means the whole subscription (--all).
	scope string
	// inherited keeps the assignments above scope as well as at it.
	inherited bool
	// principalID keeps those of a principal; groups, those of its groups
	// as well.
	principalID string
	groups      bool
	// roleID keeps those of a role.
	roleID string
}

// searchAssignments lists the assignments a query selects, flattened.
func (s *session) searchAssignments(ctx context.Context, q assignmentQuery) ([]any, error) {
	where := q.scope
	var filters []string
	if where == "" {
		where = s.subscriptionPath()
	} else {
		filters = append(filters, "atScope()") // at or above
	}
	if q.principalID != "" {
		if q.groups {
			filters = append(filters, "assignedTo("+odataString(q.principalID)+")")
		} else {
			filters = append(filters, "principalId eq "+odataString(q.principalID))
		}
	}
	query := apiVersion(apiAuthorization)
	if len(filters) > 0 {
		query.Set("$filter", strings.Join(filters, " and "))
	}
	items, err := s.client.list(ctx, authorizationPath(where, "roleAssignments", ""), query)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, it := range flattenRoles(items) {
		if q.scope != "" && !q.inherited && !strings.EqualFold(trimScope(stringAt(it, "scope")), q.scope) {
			continue
		}
		if q.roleID != "" && roleGUID(stringAt(it, "roleDefinitionId")) != roleGUID(q.roleID) {
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

// assignmentFilterFlags are the flags that select assignments in list and
// delete.
type assignmentFilterFlags struct {
	scopeFlags
	assignee, role string
	inherited      bool
}

func (f *assignmentFilterFlags) add(cmd *cobra.Command) {
	f.scopeFlags.add(cmd, "to look at")
	cmd.Flags().StringVar(&f.assignee, "assignee", "", "only those of this user principal name, appId or object id")
	cmd.Flags().StringVar(&f.role, "role", "", "only those of this role (roleName, GUID or id)")
	cmd.Flags().BoolVar(&f.inherited, "include-inherited", false, "also those at scopes above --scope")
}

// query resolves the flags into a query at scope ("" for all).
func (f *assignmentFilterFlags) query(cmd *cobra.Command, g *globals, s *session, scope string) (assignmentQuery, error) {
	q := assignmentQuery{scope: scope, inherited: f.inherited}
	ctx := cmd.Context()
	if f.role != "" {
		lookupAt := scope
		if lookupAt == "" {
			lookupAt = s.subscriptionPath()
		}
		id, err := s.roleID(ctx, f.role, lookupAt)
		if err != nil {
			return q, err
		}
		q.roleID = id
	}
	if f.assignee != "" {
		gc, err := g.graph(cmd)
		if err != nil {
			return q, err
		}
		p, err := gc.assignee(ctx, f.assignee)
		if err != nil {
			return q, err
		}
		q.principalID = p.id
	}
	return q, nil
}

func roleAssignmentList(g *globals) *cobra.Command {
	var f assignmentFilterFlags
	var all, groups bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List role assignments (at the subscription unless --scope, --resource-group or --all)",
		Long: `List the role assignments at a scope (the subscription by default), as
'az role assignment list' does: --include-inherited adds those above it, --all
lists every one in the subscription, whatever its scope. The principal's name
and the role's name are filled in.`,
		Example: `  perimeter role assignment list --all -o table
  perimeter role assignment list --assignee alice@contoso.com --all --include-groups`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all && (f.scope != "" || f.group != "") {
				return usageErrorf("group or scope are not required when --all is used")
			}
			if groups && f.assignee == "" {
				return usageErrorf("usage error: --include-groups needs --assignee")
			}
			if err := f.check(); err != nil {
				return err
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			scope := ""
			if !all {
				if scope, err = f.resolve(s); err != nil {
					return err
				}
			} else if s.subscription == "" {
				return usageErrorf("the profile has no subscription (a tenant-level login): give --scope instead of --all")
			}
			q, err := f.query(cmd, g, s, scope)
			if err != nil {
				return err
			}
			q.groups = groups
			items, err := s.searchAssignments(cmd.Context(), q)
			if err != nil {
				return err
			}
			if err := g.nameAssignments(cmd, s, scope, items); err != nil {
				return err
			}
			return g.printView(cmd, items, roleAssignmentListView())
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "every assignment in the subscription, at any scope")
	cmd.Flags().BoolVar(&groups, "include-groups", false, "with --assignee: also the assignments of the groups it belongs to")
	return cmd
}

// nameAssignments fills in roleDefinitionName and principalName, as az's
// list does. A principal the directory no longer holds gets "", a role
// that no longer exists null.
func (g *globals) nameAssignments(cmd *cobra.Command, s *session, scope string, items []any) error {
	if len(items) == 0 {
		return nil
	}
	ctx := cmd.Context()
	if scope == "" {
		scope = s.subscriptionPath()
	}
	roles, err := s.findRoles(ctx, scope, "", false)
	if err != nil {
		return err
	}
	roleNames := map[string]string{}
	for _, r := range roles {
		roleNames[strings.ToLower(stringAt(r, "name"))] = stringAt(r, "roleName")
	}
	principalNames := g.principalNames(cmd, items)
	for _, it := range items {
		obj := it.(map[string]any)
		if name, ok := roleNames[roleGUID(stringAt(obj, "roleDefinitionId"))]; ok {
			obj["roleDefinitionName"] = name
		} else {
			obj["roleDefinitionName"] = nil
		}
		obj["principalName"] = principalNames[strings.ToLower(stringAt(obj, "principalId"))]
	}
	return nil
}

// principalNames looks up the display name of each assignment's principal
// in the directory. The list is still useful without them, so a directory
// that cannot be read is a warning.
func (g *globals) principalNames(cmd *cobra.Command, items []any) map[string]string {
	names := map[string]string{}
	gc, err := g.graph(cmd)
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: principal names are left out: %v\n", err)
		return names
	}
	for _, it := range items {
		id := strings.ToLower(stringAt(it, "principalId"))
		if _, done := names[id]; done || !isGUID(id) {
			continue
		}
		obj, err := gc.get(cmd.Context(), "/v1.0/directoryObjects/"+id)
		switch {
		case isNotFound(err):
			names[id] = ""
		case err != nil:
			fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: principal names are left out: %v\n", err)
			return names
		default:
			names[id] = displayName(obj)
		}
	}
	return names
}

// isAssignmentID reports whether id is a role assignment's id.
func isAssignmentID(id string) bool {
	return strings.HasPrefix(id, "/") && strings.Contains(strings.ToLower(id), strings.ToLower(authorizationProvider)+"roleassignments/") &&
		isGUID(id[strings.LastIndexByte(strings.TrimRight(id, "/"), '/')+1:])
}

func roleAssignmentDelete(g *globals) *cobra.Command {
	var f assignmentFilterFlags
	var ids []string
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete role assignments: by --ids, or those --assignee, --role and --scope select",
		Long: `Delete role assignments by id (--ids, space-separated), or every assignment
at the scope (the subscription by default) that --assignee and --role select,
as 'az role assignment delete' does. With none of --assignee, --role, --scope
and --resource-group it would delete every assignment at the subscription, so
it asks first (--yes does not ask).`,
		Example: `  perimeter role assignment delete --ids /subscriptions/{id}/providers/Microsoft.Authorization/roleAssignments/{guid}
  perimeter role assignment delete --assignee alice@contoso.com --role Reader --scope /subscriptions/{id}/resourceGroups/demo`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := trailingValues(cmd, args, map[string]*[]string{"ids": &ids}); err != nil {
				return err
			}
			ids = listValues(ids)
			if cmd.Flags().Changed("ids") {
				if f.assignee != "" || f.role != "" || f.scope != "" || f.group != "" || f.inherited {
					return usageErrorf("When assignment ids are used, other parameter values are not required")
				}
				if len(ids) == 0 {
					return usageErrorf("argument --ids: give at least one role assignment id")
				}
				for _, id := range ids {
					if !isAssignmentID(id) {
						return usageErrorf("argument --ids: '%s' is not a role assignment id ({scope}/providers/Microsoft.Authorization/roleAssignments/{guid})", id)
					}
				}
			}
			if err := f.check(); err != nil {
				return err
			}
			if len(ids) == 0 && f.assignee == "" && f.role == "" && f.scope == "" && f.group == "" {
				if err := confirm(cmd, yes); err != nil {
					return err
				}
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				for _, id := range ids {
					if err := s.deleteAssignment(cmd.Context(), id); err != nil {
						return err
					}
				}
				return nil
			}
			scope, err := f.resolve(s)
			if err != nil {
				return err
			}
			q, err := f.query(cmd, g, s, scope)
			if err != nil {
				return err
			}
			found, err := s.searchAssignments(cmd.Context(), q)
			if err != nil {
				return err
			}
			if len(found) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: No matched assignments were found to delete")
			}
			for _, a := range found {
				if err := s.deleteAssignment(cmd.Context(), stringAt(a, "id")); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringArrayVar(&ids, "ids", nil, "space-separated ids of role assignments")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask before deleting every assignment at the subscription")
	return cmd
}
