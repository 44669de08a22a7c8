// Package authz evaluates Azure role-based access control: role
// definitions, role assignments at scopes, group membership and ABAC
// conditions (conditionVersion 2.0), with Azure's semantics. It is pure:
// no store, no HTTP, no clock. The control plane and the gateway build a
// Policy with Compile from what their store holds and ask it one question,
// Check, so both planes reach the same answer for the same facts.
package authz

// Permission is one permissions block of a role definition, as ARM shapes it.
type Permission struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
	// Condition restricts what the block grants (delegating roles such as
	// Azure AI Project Manager use one); "" for none.
	Condition string `json:"condition,omitempty"`
	// ConditionVersion must be "2.0" when Condition is set.
	ConditionVersion string `json:"conditionVersion,omitempty"`
}

// Role types.
const (
	RoleTypeBuiltIn = "BuiltInRole"
	RoleTypeCustom  = "CustomRole"
)

// RoleDefinition is Microsoft.Authorization/roleDefinitions as ARM shapes
// its properties, plus the resource's id and name.
type RoleDefinition struct {
	// ID is "/providers/Microsoft.Authorization/roleDefinitions/{guid}" for
	// a built-in role, "{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
	// for a custom one.
	ID string
	// Name is the GUID, lower case.
	Name             string
	RoleName         string
	Description      string
	RoleType         string // RoleTypeBuiltIn or RoleTypeCustom
	AssignableScopes []string
	Permissions      []Permission
}

// Assignment is a role assignment.
type Assignment struct {
	// ID is the assignment's full resource id; Decision.AssignmentID
	// reports it.
	ID string
	// Scope is "/" or a resource id, in any casing. An assignment whose
	// scope is empty or does not start with "/" grants nothing (an empty
	// scope must not silently become the root).
	Scope string
	// RoleDefinitionID is the role's GUID. A full role definition id is
	// accepted too: everything up to the last "/" is ignored.
	RoleDefinitionID string
	// PrincipalID is the object id of the user, group or service principal.
	PrincipalID string
	// PrincipalType is "User", "Group" or "ServicePrincipal"; evaluation
	// does not depend on it (groups are known from memberOf).
	PrincipalType string
	// Condition is an optional ABAC condition; "" for none.
	Condition string
	// ConditionVersion is "2.0" or "" (taken as "2.0"); any other value
	// makes the assignment grant nothing.
	ConditionVersion string
}

// Request is one question to Check. Add fields here, never parameters.
type Request struct {
	// PrincipalID is the caller's object id.
	PrincipalID string
	// Scope is the id of the resource the operation acts on, or "/". An
	// empty Scope is the root, which only root assignments cover.
	Scope string
	// Action is an operation, "Microsoft.CognitiveServices/accounts/write",
	// or a data action when Data is set.
	Action string
	// Data says Action is a data action: only dataActions grant it.
	Data bool
	// RequestAttrs and ResourceAttrs are what conditions read through
	// @Request[...] and @Resource[...]. Keys are attribute names such as
	// "Microsoft.Authorization/roleAssignments:RoleDefinitionId", matched
	// case-insensitively. A nil map has no attributes.
	RequestAttrs  map[string][]string
	ResourceAttrs map[string][]string
}

// Code says, in a word, why Check decided as it did.
type Code string

// Decision codes.
const (
	// CodeAllowed: an assignment grants the action.
	CodeAllowed Code = "Allowed"
	// CodeNoAssignment: no assignment of the principal or its groups
	// covers the scope.
	CodeNoAssignment Code = "NoRoleAssignment"
	// CodeActionNotGranted: assignments cover the scope but none of their
	// roles grants the action.
	CodeActionNotGranted Code = "ActionNotGranted"
	// CodeConditionNotMet: a role grants the action, but only under a
	// condition that was false for this request (or could not be parsed).
	CodeConditionNotMet Code = "ConditionNotMet"
)

// Decision is Check's answer.
type Decision struct {
	Allowed bool
	// AssignmentID is the assignment that granted the action; "" when
	// refused. When several would grant it, which one is reported is
	// deterministic but unspecified.
	AssignmentID string
	// RoleName and RoleDefinitionID (the GUID) name the granting role.
	RoleName         string
	RoleDefinitionID string
	Code             Code
	// Reason is a sentence for logs; it carries no request detail (the
	// caller has the request).
	Reason string
}

// reason is the sentence for c.
func reason(c Code) string {
	switch c {
	case CodeAllowed:
		return "a role assignment grants the action at this scope"
	case CodeNoAssignment:
		return "the principal holds no role assignment at or above this scope"
	case CodeActionNotGranted:
		return "no role assigned to the principal at or above this scope grants the action"
	case CodeConditionNotMet:
		return "a role grants the action only under a condition this request does not meet"
	}
	return ""
}

func refuse(c Code) Decision {
	return Decision{Code: c, Reason: reason(c)}
}
