package authz

import (
	"fmt"
	"strings"
	"unicode"
)

// Validation error codes, as ARM names them.
const (
	CodeInvalidActionOrNotAction = "InvalidActionOrNotAction"
	CodeInvalidAssignableScope   = "InvalidAssignableScope"
	CodeInvalidRoleDefinition    = "InvalidRoleDefinition"
	CodeInvalidCondition         = "InvalidCondition"
)

// ValidationError is a definition the caller must change. Code is an ARM
// error code, Message says what to change, and Target, when set, is the
// JSON path of the offending property.
type ValidationError struct {
	Code    string
	Message string
	Target  string
}

func (e *ValidationError) Error() string { return e.Code + ": " + e.Message }

func invalid(code, target, format string, args ...any) *ValidationError {
	return &ValidationError{Code: code, Target: target, Message: fmt.Sprintf(format, args...)}
}

// maxActionLength bounds an action pattern; Azure's longest operations are
// under 200 characters.
const maxActionLength = 1024

// ValidateAction checks one action or data action pattern: "*", or a
// resource provider namespace ("Microsoft.CognitiveServices", or a wildcard)
// followed by "/"-separated segments, using only letters, digits, '.', '-',
// '_' and the wildcard '*'. "*" may stand anywhere and matches any run of
// characters, "/" included. Azure also checks that an operation exists; no
// registry of operations is kept here, so only the shape is checked.
func ValidateAction(pattern string) error {
	bad := func(format string, args ...any) error {
		return invalid(CodeInvalidActionOrNotAction, "", "The action '%s' is invalid: %s", pattern, fmt.Sprintf(format, args...))
	}
	if pattern == "" {
		return invalid(CodeInvalidActionOrNotAction, "", "An action is empty: name an operation such as 'Microsoft.CognitiveServices/accounts/read', or '*' for all.")
	}
	if len(pattern) > maxActionLength {
		return bad("it is longer than %d characters", maxActionLength)
	}
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '_', c == '/', c == '*':
		case isSpace(c):
			return bad("remove the whitespace at offset %d", i)
		default:
			return bad("remove %q at offset %d; actions use only letters, digits, '.', '-', '_', '/' and the wildcard '*'", rune(c), i)
		}
	}
	if pattern == "*" {
		return nil
	}
	segs := strings.Split(pattern, "/")
	for _, s := range segs {
		if s == "" {
			return bad("remove the empty segment (a leading, trailing or doubled '/')")
		}
	}
	ns := segs[0]
	if len(segs) == 1 && !strings.Contains(ns, "*") {
		return bad("add a resource type and operation after the namespace, as in '%s/*' or '%s/accounts/read'", ns, ns)
	}
	if !strings.Contains(ns, "*") {
		parts := strings.Split(ns, ".")
		ok := len(parts) >= 2
		for _, p := range parts {
			ok = ok && p != ""
		}
		if !ok {
			return bad("'%s' is not a resource provider namespace; start with one such as 'Microsoft.CognitiveServices', or with '*'", ns)
		}
	}
	return nil
}

// validateDataAction adds to ValidateAction what data actions need: a named
// resource provider. A data action "*" (or "*/read") would reach every
// provider's data at once, which Azure does not allow in custom roles.
func validateDataAction(pattern string) error {
	if err := ValidateAction(pattern); err != nil {
		return err
	}
	ns, _, _ := strings.Cut(pattern, "/")
	if strings.Contains(ns, "*") {
		return invalid(CodeInvalidActionOrNotAction, "", "The data action '%s' is invalid: name the resource provider instead of a wildcard, as in 'Microsoft.CognitiveServices/*'", pattern)
	}
	return nil
}

// ValidateAssignableScope checks one assignable scope: "/",
// /subscriptions/{guid}, /subscriptions/{guid}/resourceGroups/{name}, or a
// resource id beneath a resource group
// (…/providers/{namespace}/{type}/{name}[/{type}/{name}]…).
func ValidateAssignableScope(scope string) error {
	bad := func(format string, args ...any) error {
		return invalid(CodeInvalidAssignableScope, "", "The assignable scope '%s' is invalid: %s", scope, fmt.Sprintf(format, args...))
	}
	if scope == "/" {
		return nil
	}
	if !strings.HasPrefix(scope, "/") {
		return bad("start it with '/', as in /subscriptions/{subscriptionId}")
	}
	if strings.HasSuffix(scope, "/") {
		return bad("remove the trailing '/'")
	}
	segs := strings.Split(scope[1:], "/")
	for _, s := range segs {
		if s == "" {
			return bad("remove the doubled '/'")
		}
	}
	if !strings.EqualFold(segs[0], "subscriptions") {
		if strings.EqualFold(segs[0], "providers") {
			return bad("management group scopes are not supported; use '/', a subscription, a resource group or a resource")
		}
		return bad("use '/', /subscriptions/{subscriptionId}, /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName} or a resource id")
	}
	if len(segs) < 2 || !isGUID(segs[1]) {
		return bad("a subscription id is a GUID, as in /subscriptions/00000000-0000-0000-0000-000000000000")
	}
	if len(segs) == 2 {
		return nil
	}
	if !strings.EqualFold(segs[2], "resourceGroups") || len(segs) < 4 {
		return bad("what follows the subscription must be /resourceGroups/{resourceGroupName}")
	}
	if msg := checkResourceGroupName(segs[3]); msg != "" {
		return bad("%s", msg)
	}
	if len(segs) == 4 {
		return nil
	}
	rest := segs[4:]
	if !strings.EqualFold(rest[0], "providers") || len(rest) < 4 || (len(rest)-2)%2 != 0 {
		return bad("what follows the resource group must be /providers/{namespace}/{type}/{name}, with a name for every type")
	}
	if !strings.Contains(rest[1], ".") {
		return bad("'%s' is not a resource provider namespace, such as Microsoft.CognitiveServices", rest[1])
	}
	return nil
}

// checkResourceGroupName applies Azure's rule: 1 to 90 letters, digits,
// '_', '-', '.', '(' or ')', not ending in '.'. It returns what to change,
// or "".
func checkResourceGroupName(name string) string {
	if n := len([]rune(name)); n > 90 {
		return fmt.Sprintf("resource group name '%s' is longer than 90 characters", name)
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_-.()", r)) {
			return fmt.Sprintf("resource group name '%s' may not contain %q", name, r)
		}
	}
	if strings.HasSuffix(name, ".") {
		return fmt.Sprintf("resource group name '%s' may not end in '.'", name)
	}
	return ""
}

// ValidateCondition checks a condition and its version as a role
// assignment or a permissions block carries them: nothing to check when
// condition is empty, otherwise version "2.0" and a condition
// ParseCondition accepts. The error is a *ValidationError whose Target is
// "condition" or "conditionVersion" (relative: prefix "properties.").
func ValidateCondition(condition, version string) error {
	if condition == "" {
		return nil
	}
	if version != "2.0" {
		return invalid(CodeInvalidCondition, "conditionVersion", "The condition version '%s' is not supported: set conditionVersion to \"2.0\".", version)
	}
	if _, err := ParseCondition(condition); err != nil {
		return invalid(CodeInvalidCondition, "condition", "The condition is invalid %v.", err)
	}
	return nil
}

// ValidateRoleDefinition checks a custom role definition before it is
// stored: a role name, at least one valid assignable scope, at least one
// permissions block granting at least one action or data action, valid
// patterns everywhere, and conditions that parse under version "2.0".
// Errors are *ValidationError with Target set to the JSON path (under
// "properties") to change.
func ValidateRoleDefinition(def RoleDefinition) error {
	if strings.TrimSpace(def.RoleName) == "" {
		return invalid(CodeInvalidRoleDefinition, "properties.roleName", "The role definition has no roleName: give it a name.")
	}
	if def.RoleType != "" && def.RoleType != RoleTypeCustom {
		return invalid(CodeInvalidRoleDefinition, "properties.type", "The roleType '%s' cannot be written: custom roles have roleType '%s'.", def.RoleType, RoleTypeCustom)
	}
	if len(def.AssignableScopes) == 0 {
		return invalid(CodeInvalidAssignableScope, "properties.assignableScopes", "The role definition has no assignable scopes: add at least one, such as /subscriptions/{subscriptionId}.")
	}
	for i, s := range def.AssignableScopes {
		if err := ValidateAssignableScope(s); err != nil {
			return withTarget(err, fmt.Sprintf("properties.assignableScopes[%d]", i))
		}
	}
	if len(def.Permissions) == 0 {
		return invalid(CodeInvalidRoleDefinition, "properties.permissions", "The role definition has no permissions: add a block with at least one action or data action.")
	}
	grants := false
	for i, p := range def.Permissions {
		at := fmt.Sprintf("properties.permissions[%d]", i)
		lists := []struct {
			name     string
			patterns []string
			check    func(string) error
		}{
			{"actions", p.Actions, ValidateAction},
			{"notActions", p.NotActions, ValidateAction},
			{"dataActions", p.DataActions, validateDataAction},
			{"notDataActions", p.NotDataActions, validateDataAction},
		}
		for _, l := range lists {
			for j, a := range l.patterns {
				if err := l.check(a); err != nil {
					return withTarget(err, fmt.Sprintf("%s.%s[%d]", at, l.name, j))
				}
			}
		}
		grants = grants || len(p.Actions) > 0 || len(p.DataActions) > 0
		if err := ValidateCondition(p.Condition, p.ConditionVersion); err != nil {
			return withTarget(err, at+"."+err.(*ValidationError).Target)
		}
	}
	if !grants {
		return invalid(CodeInvalidRoleDefinition, "properties.permissions", "The role definition grants nothing: add at least one action or data action.")
	}
	return nil
}

func withTarget(err error, target string) error {
	if v, ok := err.(*ValidationError); ok {
		c := *v
		c.Target = target
		return &c
	}
	return err
}

// AssignableAt reports whether def may be assigned at scope: one of its
// assignable scopes covers it.
func AssignableAt(def RoleDefinition, scope string) bool {
	for _, s := range def.AssignableScopes {
		if ScopeCovers(s, scope) {
			return true
		}
	}
	return false
}
