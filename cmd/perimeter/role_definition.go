package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

// roleDefinitionView is the table of role definitions, as az's (with the
// role's type rather than the resource type az shows).
func roleDefinitionView() []field {
	return []field{at("Name", "roleName"), at("Type", "roleType"), at("Description", "description")}
}

func roleDefinitionList(g *globals) *cobra.Command {
	var sf scopeFlags
	var name string
	var customOnly bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the role definitions usable at a scope: the built-in roles and custom ones",
		Example: `  perimeter role definition list -o table
  perimeter role definition list --name Reader
  perimeter role definition list --custom-role-only --scope /subscriptions/{id}/resourceGroups/demo`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, scope, err := sf.open(g, cmd)
			if err != nil {
				return err
			}
			roles, err := s.findRoles(cmd.Context(), scope, name, customOnly)
			if err != nil {
				return err
			}
			return g.printView(cmd, roles, roleDefinitionView())
		},
	}
	sf.add(cmd, "to list the roles of")
	cmd.Flags().StringVarP(&name, "name", "n", "", "only the role with this roleName or GUID")
	cmd.Flags().BoolVar(&customOnly, "custom-role-only", false, "only custom roles")
	return cmd
}

func roleDefinitionShow(g *globals) *cobra.Command {
	var sf scopeFlags
	var name string
	cmd := &cobra.Command{
		Use:     "show",
		Short:   "Show one role definition, by roleName, GUID or id",
		Example: "  perimeter role definition show --name 'Azure AI User'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, scope, err := sf.open(g, cmd)
			if err != nil {
				return err
			}
			var def any
			switch {
			case isRoleDefinitionID(name), isGUID(name):
				path := escapePath(name)
				if isGUID(name) {
					path = authorizationPath(scope, "roleDefinitions", name)
				}
				resp, err := s.client.get(cmd.Context(), path, apiVersion(apiAuthorization))
				if err != nil {
					return err
				}
				v, err := decodeValue(resp.body)
				if err != nil {
					return fmt.Errorf("the server's answer is not JSON: %w", err)
				}
				def = flattenRole(v)
			default:
				if def, err = s.findRole(cmd.Context(), scope, name); err != nil {
					return err
				}
			}
			return g.printView(cmd, def, roleDefinitionView())
		},
	}
	sf.add(cmd, "to look the role up at")
	cmd.Flags().StringVarP(&name, "name", "n", "", "roleName, GUID or id of the role")
	required(cmd, "name")
	return cmd
}

// roleDefinitionInput is az's role definition JSON. Keys match regardless
// of case (Name or name), as az accepts both.
type roleDefinitionInput struct {
	Name             string            `json:"name"`
	Description      string            `json:"description"`
	Actions          []string          `json:"actions"`
	NotActions       []string          `json:"notActions"`
	DataActions      []string          `json:"dataActions"`
	NotDataActions   []string          `json:"notDataActions"`
	AssignableScopes []string          `json:"assignableScopes"`
	Permissions      []json.RawMessage `json:"permissions"`
}

// readRoleDefinition parses --role-definition: JSON, @FILE, or the path of
// a file (az reads a value that names an existing file).
func readRoleDefinition(value string) (*roleDefinitionInput, error) {
	raw := []byte(value)
	if file, ok := strings.CutPrefix(value, "@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, usageErrorf("argument --role-definition: %v", err)
		}
		raw = b
	} else if t := strings.TrimSpace(value); !strings.HasPrefix(t, "{") && !strings.HasPrefix(t, "[") {
		b, err := os.ReadFile(value)
		if err != nil {
			return nil, usageErrorf("argument --role-definition: give the definition as JSON, @FILE or the path of a JSON file (%v)", err)
		}
		raw = b
	}
	var in roleDefinitionInput
	if err := json.Unmarshal(raw, &in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field == "" {
			return nil, usageErrorf("Invalid role definition. A valid dictionary JSON representation is expected.")
		}
		return nil, usageErrorf("argument --role-definition: not a valid role definition: %v", err)
	}
	if strings.TrimSpace(in.Name) == "" {
		return nil, usageErrorf("please provide role name (\"Name\" in the role definition)")
	}
	if len(in.AssignableScopes) == 0 {
		return nil, usageErrorf("please provide 'assignableScopes', such as [\"/subscriptions/{subscriptionId}\"]")
	}
	for _, sc := range in.AssignableScopes {
		if err := checkScope("--role-definition (AssignableScopes)", sc); err != nil {
			return nil, err
		}
	}
	if len(in.Permissions) > 0 && (in.Actions != nil || in.NotActions != nil || in.DataActions != nil || in.NotDataActions != nil) {
		return nil, usageErrorf("argument --role-definition: give either Permissions or Actions/NotActions/DataActions/NotDataActions, not both")
	}
	return &in, nil
}

// properties is the body's properties: az's flat Actions lists become one
// permission block.
func (in *roleDefinitionInput) properties() map[string]any {
	var perms any = in.Permissions
	if len(in.Permissions) == 0 {
		orEmpty := func(l []string) []string {
			if l == nil {
				return []string{}
			}
			return l
		}
		perms = []any{map[string]any{
			"actions": orEmpty(in.Actions), "notActions": orEmpty(in.NotActions),
			"dataActions": orEmpty(in.DataActions), "notDataActions": orEmpty(in.NotDataActions),
		}}
	}
	return map[string]any{
		"roleName": in.Name, "description": in.Description, "type": "CustomRole",
		"assignableScopes": in.AssignableScopes, "permissions": perms,
	}
}

func roleDefinitionCreate(g *globals) *cobra.Command {
	var value string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a custom role",
		Long: `Create a custom role from az's role definition JSON:

  {"Name": "Group Reader", "Description": "Reads resource groups",
   "Actions": ["Microsoft.Resources/subscriptions/resourceGroups/read"],
   "NotActions": [], "DataActions": [], "NotDataActions": [],
   "AssignableScopes": ["/subscriptions/{subscriptionId}"]}

The role gets a new GUID and is created at its first assignable scope.`,
		Example: `  perimeter role definition create --role-definition @role.json
  perimeter role definition create --role-definition '{"Name": "...", ...}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, err := readRoleDefinition(value)
			if err != nil {
				return err
			}
			s, err := g.session(cmd)
			if err != nil {
				return err
			}
			path := authorizationPath(trimScope(in.AssignableScopes[0]), "roleDefinitions", uuid.NewString())
			resp, err := s.doJSON(cmd.Context(), http.MethodPut, path, apiAuthorization, map[string]any{"properties": in.properties()}, false)
			if err != nil {
				return err
			}
			v, err := decodeValue(resp.body)
			if err != nil {
				return fmt.Errorf("the server's answer is not JSON: %w", err)
			}
			return g.printView(cmd, flattenRole(v), roleDefinitionView())
		},
	}
	cmd.Flags().StringVar(&value, "role-definition", "", "the role as JSON, @FILE, or the path of a JSON file")
	required(cmd, "role-definition")
	return cmd
}

func roleDefinitionDelete(g *globals) *cobra.Command {
	var sf scopeFlags
	var name string
	var customOnly bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a custom role (it must not be assigned any more)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, scope, err := sf.open(g, cmd)
			if err != nil {
				return err
			}
			roles, err := s.findRoles(cmd.Context(), scope, name, customOnly)
			if err != nil {
				return err
			}
			if len(roles) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: No role definition named '%s' was found at scope '%s' to delete\n", name, scope)
			}
			for _, r := range roles {
				if stringAt(r, "roleType") != "CustomRole" {
					return fmt.Errorf("'%s' is a built-in role; only custom roles can be deleted", stringAt(r, "roleName"))
				}
			}
			for _, r := range roles {
				// A custom role lives where it was created: delete it there.
				req := &request{method: http.MethodDelete, url: escapePath(stringAt(r, "id")), query: apiVersion(apiAuthorization)}
				if _, err := s.client.do(cmd.Context(), req, false); err != nil {
					return err
				}
			}
			return nil
		},
	}
	sf.add(cmd, "to look the role up at")
	cmd.Flags().StringVarP(&name, "name", "n", "", "roleName or GUID of the role")
	cmd.Flags().BoolVar(&customOnly, "custom-role-only", false, "only custom roles")
	required(cmd, "name")
	return cmd
}
