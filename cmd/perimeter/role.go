package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// The `perimeter role` commands manage Microsoft.Authorization role
// definitions and role assignments as `az role` does: the server's
// resources flattened (properties beside id and name), roles named by
// roleName, GUID or id, principals by user principal name, appId or
// object id, looked up in the Graph-shaped directory.

// apiAuthorization is the Microsoft.Authorization api-version that the
// armauthorization/v2 SDK sends.
const apiAuthorization = "2022-04-01"

const authorizationProvider = "/providers/Microsoft.Authorization/"

func newRoleCommand() *cobra.Command {
	cmd := groupCommand("role", "Manage role definitions and role assignments")
	g := addGlobalFlags(cmd)
	def := groupCommand("definition", "Manage role definitions")
	def.AddCommand(roleDefinitionList(g), roleDefinitionShow(g), roleDefinitionCreate(g), roleDefinitionDelete(g))
	asg := groupCommand("assignment", "Manage role assignments")
	asg.AddCommand(roleAssignmentCreate(g), roleAssignmentList(g), roleAssignmentDelete(g))
	cmd.AddCommand(def, asg)
	return cmd
}

// checkScope refuses, before any request, a scope that is not an ARM id.
func checkScope(flag, scope string) error {
	if !strings.HasPrefix(scope, "/") || strings.ContainsAny(scope, "?#") || strings.Contains(scope, "//") {
		return usageErrorf("argument %s: '%s' is not a scope: give an id starting with '/', such as /subscriptions/{subscriptionId}/resourceGroups/{name}", flag, scope)
	}
	return nil
}

// scopeFlags are --scope and -g/--resource-group: az's way of naming where
// a role command looks.
type scopeFlags struct {
	scope, group string
}

func (f *scopeFlags) add(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&f.scope, "scope", "", "scope "+what+", such as /subscriptions/{id}/resourceGroups/{name} (default: the subscription)")
	cmd.Flags().StringVarP(&f.group, "resource-group", "g", "", "use the resource group's scope")
}

// check validates the flags before any request.
func (f *scopeFlags) check() error {
	if f.scope != "" && f.group != "" {
		return usageErrorf("Resource group '%s' is redundant because 'scope' is supplied", f.group)
	}
	if f.scope != "" {
		return checkScope("--scope", f.scope)
	}
	return nil
}

// resolve is az's _build_role_scope: --scope, else the resource group, else
// the subscription.
func (f *scopeFlags) resolve(s *session) (string, error) {
	if f.scope != "" {
		return trimScope(f.scope), nil
	}
	if s.subscription == "" {
		return "", usageErrorf("the profile has no subscription (a tenant-level login): give --scope")
	}
	if f.group != "" {
		return s.groupPath(f.group), nil
	}
	return s.subscriptionPath(), nil
}

// open checks the flags, opens a session and resolves the scope: what a
// command that looks roles up at a scope does first.
func (f *scopeFlags) open(g *globals, cmd *cobra.Command) (*session, string, error) {
	if err := f.check(); err != nil {
		return nil, "", err
	}
	s, err := g.session(cmd)
	if err != nil {
		return nil, "", err
	}
	scope, err := f.resolve(s)
	if err != nil {
		return nil, "", err
	}
	return s, scope, nil
}

// trimScope drops a trailing slash, keeping "/" (the root) as it is.
func trimScope(scope string) string {
	if t := strings.TrimRight(scope, "/"); t != "" {
		return t
	}
	return "/"
}

// escapePath escapes each segment of an ARM id for a request URL.
func escapePath(id string) string {
	var b strings.Builder
	for _, seg := range strings.Split(strings.Trim(id, "/"), "/") {
		if seg != "" {
			b.WriteString("/" + url.PathEscape(seg))
		}
	}
	return b.String()
}

// authorizationPath is {scope}/providers/Microsoft.Authorization/{kind},
// followed by name when given.
func authorizationPath(scope, kind, name string) string {
	p := escapePath(scope) + authorizationProvider + kind
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// flattenRole turns a role definition or assignment into the shape az
// prints: its properties beside id, name and type, a definition's
// properties.type as roleType.
func flattenRole(v any) any {
	obj, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(obj))
	for k, val := range obj {
		if k != "properties" {
			out[k] = val
		}
	}
	props, _ := obj["properties"].(map[string]any)
	for k, val := range props {
		if k == "type" {
			k = "roleType"
		}
		if _, taken := out[k]; !taken {
			out[k] = val
		}
	}
	return out
}

func flattenRoles(items []any) []any {
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = flattenRole(it)
	}
	return out
}

// roleGUID is the GUID a role definition id ends with, lower-cased ("" if
// it does not end with one).
func roleGUID(id string) string {
	id = strings.TrimRight(id, "/")
	last := id[strings.LastIndexByte(id, '/')+1:]
	if !isGUID(last) {
		return ""
	}
	return strings.ToLower(last)
}

// isRoleDefinitionID reports whether s is a role definition's id rather
// than a name or a GUID.
func isRoleDefinitionID(s string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(authorizationProvider)+"roledefinitions/") && roleGUID(s) != ""
}

// findRoles lists the role definitions visible at scope whose GUID or
// roleName is name (every one when name is ""), as az's
// _search_role_definitions; customOnly keeps the custom roles.
func (s *session) findRoles(ctx context.Context, scope, name string, customOnly bool) ([]any, error) {
	q := apiVersion(apiAuthorization)
	switch {
	case name != "" && !isGUID(name):
		q.Set("$filter", "roleName eq "+odataString(name))
	case customOnly:
		q.Set("$filter", "type eq 'CustomRole'")
	}
	items, err := s.client.list(ctx, authorizationPath(scope, "roleDefinitions", ""), q)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, it := range flattenRoles(items) {
		if name != "" && !strings.EqualFold(stringAt(it, "name"), name) && !strings.EqualFold(stringAt(it, "roleName"), name) {
			continue
		}
		if customOnly && stringAt(it, "roleType") != "CustomRole" {
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

// findRole is the one role named by roleName at scope: an unknown name is
// a usage error, an ambiguous one lists the ids to choose from.
func (s *session) findRole(ctx context.Context, scope, name string) (any, error) {
	roles, err := s.findRoles(ctx, scope, name, false)
	if err != nil {
		return nil, err
	}
	switch len(roles) {
	case 0:
		return nil, usageErrorf("Role '%s' doesn't exist. 'perimeter role definition list --scope %s' lists the roles you can use there.", name, scope)
	case 1:
		return roles[0], nil
	}
	ids := make([]string, len(roles))
	for i, r := range roles {
		ids[i] = stringAt(r, "id")
	}
	return nil, fmt.Errorf("More than one role matches the given name '%s'. Please pick an id from '%s'", name, strings.Join(ids, "', '"))
}

// roleID resolves --role, as az's _resolve_role_id: a role definition id
// as given, a GUID under the subscription, else a roleName looked up at
// scope.
func (s *session) roleID(ctx context.Context, role, scope string) (string, error) {
	switch {
	case isRoleDefinitionID(role):
		return role, nil
	case isGUID(role):
		prefix := ""
		if s.subscription != "" {
			prefix = s.subscriptionPath()
		}
		return prefix + authorizationProvider + "roleDefinitions/" + strings.ToLower(role), nil
	}
	def, err := s.findRole(ctx, scope, role)
	if err != nil {
		return "", err
	}
	return stringAt(def, "id"), nil
}

// principal is a resolved assignee: an object id and, when known, its
// principalType (User, Group or ServicePrincipal).
type principal struct {
	id, typ string
}

// principalTypes maps Graph's @odata.type to a role assignment's
// principalType.
var principalTypes = map[string]string{
	"#microsoft.graph.user":             "User",
	"#microsoft.graph.group":            "Group",
	"#microsoft.graph.servicePrincipal": "ServicePrincipal",
}

// assignee resolves --assignee as az does: a user principal name (it has
// an '@'), a service principal name (its appId), else an object id of any
// principal. A GUID that the directory does not know is used as an object
// id all the same, so that the server says why it refuses it.
func (gc *graphClient) assignee(ctx context.Context, name string) (principal, error) {
	if strings.Contains(name, "@") {
		users, err := gc.list(ctx, "/v1.0/users", url.Values{"$filter": {"userPrincipalName eq " + odataString(name)}})
		if err != nil {
			return principal{}, err
		}
		if len(users) == 1 {
			return principal{id: stringAt(users[0], "id"), typ: "User"}, nil
		}
	}
	if !isGUID(name) {
		return gc.byServicePrincipalName(ctx, name)
	}
	sp, err := gc.get(ctx, "/v1.0/servicePrincipals(appId='"+name+"')")
	if err == nil {
		return principal{id: stringAt(sp, "id"), typ: "ServicePrincipal"}, nil
	}
	if !isNotFound(err) {
		return principal{}, err
	}
	obj, err := gc.get(ctx, "/v1.0/directoryObjects/"+url.PathEscape(name))
	if isNotFound(err) {
		return principal{id: strings.ToLower(name)}, nil
	}
	if err != nil {
		return principal{}, err
	}
	return principal{id: stringAt(obj, "id"), typ: principalTypes[stringAt(obj, "@odata.type")]}, nil
}

// byServicePrincipalName finds the service principal with a name that is
// not a GUID among its servicePrincipalNames (the server filters on no
// collection, so the list is searched here).
func (gc *graphClient) byServicePrincipalName(ctx context.Context, name string) (principal, error) {
	sps, err := gc.list(ctx, "/v1.0/servicePrincipals", nil)
	if err != nil {
		return principal{}, err
	}
	var found []principal
	for _, sp := range sps {
		spns, _ := lookup(sp, "servicePrincipalNames").([]any)
		for _, n := range spns {
			if s, _ := n.(string); strings.EqualFold(s, name) {
				found = append(found, principal{id: stringAt(sp, "id"), typ: "ServicePrincipal"})
				break
			}
		}
	}
	switch len(found) {
	case 0:
		return principal{}, usageErrorf("argument --assignee: cannot find a user or service principal for '%s'. Give a user principal name (alias@domain), "+
			"a service principal's appId, or the object id of a user, group or service principal.", name)
	case 1:
		return found[0], nil
	}
	return principal{}, fmt.Errorf("more than one service principal has the name '%s'; give --assignee-object-id with the one you mean", name)
}

// isNotFound reports a 404 answer.
func isNotFound(err error) bool {
	var ae *armError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// displayName is how az names a principal in lists: a user's principal
// name, a service principal's first name, else the display name.
func displayName(obj map[string]any) string {
	if upn := stringAt(obj, "userPrincipalName"); upn != "" {
		return upn
	}
	if spns, _ := obj["servicePrincipalNames"].([]any); len(spns) > 0 {
		if s, _ := spns[0].(string); s != "" {
			return s
		}
	}
	return stringAt(obj, "displayName")
}
