package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

// The `perimeter ad` commands manage the directory through the server's
// Microsoft Graph-shaped endpoints (/v1.0/...), as `az ad` does through
// Microsoft Graph, with tokens for the scope https://graph.microsoft.com/.default.

// graphRefBase is the host part of the member references the CLI sends, as
// az sends them; the server accepts any host.
const graphRefBase = "https://graph.microsoft.com/v1.0/directoryObjects/"

func newADCommand() *cobra.Command {
	cmd := groupCommand("ad", "Manage the directory: applications, service principals, users and groups")
	g := addGlobalFlags(cmd)

	sp := groupCommand("sp", "Manage service principals")
	sp.AddCommand(adSPCreate(g), adSPCreateForRBAC(g), adSPList(g), adSPShow(g), adSPDelete(g))

	user := groupCommand("user", "Manage users")
	user.AddCommand(adUserCreate(g), adUserList(g), adUserShow(g), adUserUpdate(g), adUserDelete(g))

	member := groupCommand("member", "Manage the members of a group")
	member.AddCommand(adMemberAdd(g), adMemberRemove(g), adMemberList(g))
	group := groupCommand("group", "Manage security groups")
	group.AddCommand(adGroupCreate(g), adGroupList(g), adGroupShow(g), adGroupDelete(g), member)

	signedIn := groupCommand("signed-in-user", "Show the user of the current login")
	signedIn.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Show the signed-in user (a login with --username)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gc, err := g.graph(cmd)
			if err != nil {
				return err
			}
			return gc.printGet(cmd, g, "/v1.0/me", userColumns())
		},
	})

	cmd.AddCommand(newADAppCommand(g), sp, user, group, signedIn)
	return cmd
}

// Table columns, as az shows these objects.
func spColumns() []column {
	return []column{{"DisplayName", "displayName"}, {"AppId", "appId"}, {"Id", "id"}}
}

func userColumns() []column {
	return []column{{"DisplayName", "displayName"}, {"UserPrincipalName", "userPrincipalName"}, {"AccountEnabled", "accountEnabled"}, {"Id", "id"}}
}

func adGroupColumns() []column {
	return []column{{"DisplayName", "displayName"}, {"MailNickname", "mailNickname"}, {"Id", "id"}}
}

func memberColumns() []column {
	return []column{{"DisplayName", "displayName"}, {"Id", "id"}}
}

// graphClient talks to the Graph endpoints with the profile's credential.
type graphClient struct {
	c *client
	p *profile
}

// graph opens the selected profile with a client whose tokens are for
// Microsoft Graph (cached apart from the control-plane token).
func (g *globals) graph(cmd *cobra.Command) (*graphClient, error) {
	p, c, err := g.openClient(cmd, true)
	if err != nil {
		return nil, err
	}
	return &graphClient{c: c, p: p}, nil
}

// call sends one request and returns the successful response; Graph's
// error envelope has ARM's shape, so errors print as ARM's do.
func (gc *graphClient) call(ctx context.Context, method, path string, query url.Values, body any) (*response, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	resp, err := gc.c.send(ctx, &request{method: method, url: path, query: query, body: raw})
	if err != nil {
		return nil, err
	}
	if ae := errorOf(resp); ae != nil {
		return nil, ae
	}
	return resp, nil
}

// entity decodes a single-entity answer without its "@odata.context".
func entity(resp *response) (map[string]any, error) {
	v, err := decodeValue(resp.body)
	if err != nil {
		return nil, fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the server's answer is not a JSON object")
	}
	delete(obj, "@odata.context")
	return obj, nil
}

func (gc *graphClient) get(ctx context.Context, path string) (map[string]any, error) {
	resp, err := gc.call(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, err
	}
	return entity(resp)
}

func (gc *graphClient) printGet(cmd *cobra.Command, g *globals, path string, cols []column) error {
	obj, err := gc.get(cmd.Context(), path)
	if err != nil {
		return err
	}
	return g.print(cmd, obj, cols)
}

// createAndPrint POSTs body to the collection at path and prints the
// entity the server made.
func (gc *graphClient) createAndPrint(cmd *cobra.Command, g *globals, path string, body any, cols []column) error {
	resp, err := gc.call(cmd.Context(), http.MethodPost, path, nil, body)
	if err != nil {
		return err
	}
	obj, err := entity(resp)
	if err != nil {
		return err
	}
	return g.print(cmd, obj, cols)
}

// byAppIDOrObjectID finds an application or service principal (what) in
// its collection by appId or object id, as az's --id takes either.
func (gc *graphClient) byAppIDOrObjectID(ctx context.Context, collection, what, id string) (map[string]any, error) {
	if !isGUID(id) {
		return nil, usageErrorf("argument --id: give the %s's appId or object id (a GUID)", what)
	}
	obj, err := gc.get(ctx, "/v1.0/"+collection+"(appId='"+id+"')")
	var ae *armError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return gc.get(ctx, "/v1.0/"+collection+"/"+id)
	}
	return obj, err
}

// adRef is the required flag that names the directory object a command
// works on.
type adRef struct{ name, shorthand, usage string }

func spRef() adRef    { return adRef{"id", "", "appId or object id of the service principal"} }
func userRef() adRef  { return adRef{"id", "", "object id or user principal name"} }
func groupRef() adRef { return adRef{"group", "g", "object id or display name of the group"} }

// adObjectCommand builds a command on one directory object: run gets the
// Graph client and the value of ref's flag.
func adObjectCommand(g *globals, use, short string, ref adRef, run func(cmd *cobra.Command, gc *graphClient, ref string) error) *cobra.Command {
	var value string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gc, err := g.graph(cmd)
			if err != nil {
				return err
			}
			return run(cmd, gc, value)
		},
	}
	cmd.Flags().StringVarP(&value, ref.name, ref.shorthand, "", ref.usage)
	required(cmd, ref.name)
	return cmd
}

// adShow builds an "ad ... show" command: find looks the object up by the
// value of ref's flag.
func adShow(g *globals, short string, ref adRef, find func(gc *graphClient, ctx context.Context, ref string) (map[string]any, error), cols []column) *cobra.Command {
	return adObjectCommand(g, "show", short, ref, func(cmd *cobra.Command, gc *graphClient, ref string) error {
		obj, err := find(gc, cmd.Context(), ref)
		if err != nil {
			return err
		}
		return g.print(cmd, obj, cols)
	})
}

// list GETs a collection, every page of it.
func (gc *graphClient) list(ctx context.Context, path string, query url.Values) ([]any, error) {
	return gc.c.list(ctx, path, query)
}

// odataString quotes a value for $filter.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// filterFlag is a list command's flag that becomes a $filter clause.
type filterFlag struct {
	name, usage string
	clause      func(value string) string
}

// adList builds an "ad ... list" command: every page of the collection at
// path, filtered by --display-name (a prefix), the extra flags or a raw
// --filter (the server filters on one clause).
func adList(g *globals, short, path string, cols []column, filterExample string, extra ...filterFlag) *cobra.Command {
	flags := append([]filterFlag{{"display-name", "only those whose display name starts with this",
		func(v string) string { return "startswith(displayName," + odataString(v) + ")" }}}, extra...)
	values := make([]string, len(flags))
	var raw string
	cmd := &cobra.Command{
		Use:   "list",
		Short: short,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var filters []string
			if raw != "" {
				filters = append(filters, raw)
			}
			for i, f := range flags {
				if cmd.Flags().Changed(f.name) {
					filters = append(filters, f.clause(values[i]))
				}
			}
			var q url.Values
			switch len(filters) {
			case 0:
			case 1:
				q = url.Values{"$filter": {filters[0]}}
			default:
				return usageErrorf("give one of --filter and the other filter arguments: the server filters on one clause")
			}
			gc, err := g.graph(cmd)
			if err != nil {
				return err
			}
			items, err := gc.list(cmd.Context(), path, q)
			if err != nil {
				return err
			}
			return g.print(cmd, items, cols)
		},
	}
	for i, f := range flags {
		cmd.Flags().StringVar(&values[i], f.name, "", f.usage)
	}
	cmd.Flags().StringVar(&raw, "filter", "", "OData $filter, e.g. \""+filterExample+"\"")
	return cmd
}

// --- service principals

func adSPCreateForRBAC(g *globals) *cobra.Command {
	var name, role string
	var scopes []string
	var years int
	cmd := &cobra.Command{
		Use:   "create-for-rbac",
		Short: "Create an application, its service principal and a client secret, and assign it a role",
		Long: `Create an application, its service principal and a password credential, and
print the credential as 'az ad sp create-for-rbac' does: appId, displayName,
password and tenant. The password is shown only this once.

With --role and --scopes the service principal is assigned the role at each
scope (a roleName, GUID or role definition id). If an assignment fails,
everything this command made is deleted again. Without them no role is
assigned: 'perimeter role assignment create --assignee APPID' does it later.`,
		Example: `  perimeter ad sp create-for-rbac --name ci-bot
  perimeter ad sp create-for-rbac --name ci-bot --role Contributor --scopes /subscriptions/{id}/resourceGroups/demo`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := trailingValues(cmd, args, map[string]*[]string{"scopes": &scopes}); err != nil {
				return err
			}
			scopes = listValues(scopes)
			if years < 1 {
				return usageErrorf("argument --years: must be a positive integer")
			}
			if (role == "") != (len(scopes) == 0) {
				return usageErrorf("Usage error: To create role assignments, specify both --role and --scopes.")
			}
			for i, sc := range scopes {
				if err := checkScope("--scopes", sc); err != nil {
					return err
				}
				scopes[i] = trimScope(sc)
			}
			if name == "" {
				name = "perimeter-" + time.Now().UTC().Format("2006-01-02-15-04-05")
			}
			gc, err := g.graph(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			// The role is resolved first: a wrong name makes nothing.
			var s *session
			var roleID string
			if role != "" {
				if s, err = g.session(cmd); err != nil {
					return err
				}
				if roleID, err = s.roleID(ctx, role, scopes[0]); err != nil {
					return err
				}
			}
			resp, err := gc.call(ctx, http.MethodPost, "/v1.0/applications", nil, map[string]any{"displayName": name})
			if err != nil {
				return err
			}
			var app struct{ ID, AppID, DisplayName string }
			if err := json.Unmarshal(resp.body, &app); err != nil || app.ID == "" || app.AppID == "" {
				return fmt.Errorf("the server's answer to creating the application is not one: %s", resp.body)
			}
			spID, password, err := gc.finishCreateForRBAC(ctx, app.ID, app.AppID, years)
			var made []string // role assignments, to delete if a later one fails
			if err == nil && role != "" {
				made, err = assignScopes(cmd, s, role, roleID, spID, scopes)
			}
			if err != nil {
				// Leave nothing half made behind, as far as we can.
				for _, id := range made {
					if derr := s.deleteAssignment(ctx, id); derr != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: role assignment %s was created but could not be deleted: %v\n", id, derr)
					}
				}
				if _, derr := gc.call(ctx, http.MethodDelete, "/v1.0/applications/"+url.PathEscape(app.ID), nil, nil); derr != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: application %s (appId %s) was created but could not be deleted: %v\n", app.DisplayName, app.AppID, derr)
				}
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "The output includes credentials that you must protect. Be sure that you do not include these credentials in your code or check the credentials into your source control.")
			return g.print(cmd, toValue(map[string]string{
				"appId": app.AppID, "displayName": app.DisplayName, "password": password, "tenant": gc.p.TenantID,
			}), []column{{"AppId", "appId"}, {"DisplayName", "displayName"}, {"Tenant", "tenant"}})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&name, "name", "n", "", "display name of the application (default perimeter-<time>)")
	f.IntVar(&years, "years", 1, "number of years the password is valid")
	f.StringVar(&role, "role", "", "role to assign at each of --scopes: roleName, GUID or id")
	f.StringArrayVar(&scopes, "scopes", nil, "space-separated scopes to assign --role at")
	return cmd
}

// assignScopes gives a new service principal the role at each scope, as
// az does, and returns the ids of the assignments made (also on failure).
func assignScopes(cmd *cobra.Command, s *session, role, roleID, spID string, scopes []string) ([]string, error) {
	var made []string
	for _, scope := range scopes {
		fmt.Fprintf(cmd.ErrOrStderr(), "Creating '%s' role assignment under scope '%s'\n", role, scope)
		a, err := s.createAssignment(cmd.Context(), assignment{
			scope: scope, name: uuid.NewString(), roleID: roleID,
			principal: principal{id: spID, typ: "ServicePrincipal"},
		})
		if err != nil {
			return made, err
		}
		made = append(made, stringAt(a, "id"))
	}
	return made, nil
}

// finishCreateForRBAC creates the service principal and the secret of a
// new application and returns the service principal's object id and the
// secret.
func (gc *graphClient) finishCreateForRBAC(ctx context.Context, objectID, appID string, years int) (spID, secret string, err error) {
	resp, err := gc.call(ctx, http.MethodPost, "/v1.0/servicePrincipals", nil, map[string]any{"appId": appID})
	if err != nil {
		return "", "", err
	}
	var sp struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp.body, &sp); err != nil || sp.ID == "" {
		return "", "", fmt.Errorf("the server's answer to creating the service principal is not one: %s", resp.body)
	}
	end := time.Now().UTC().AddDate(years, 0, 0).Truncate(time.Second)
	resp, err = gc.call(ctx, http.MethodPost, "/v1.0/applications/"+url.PathEscape(objectID)+"/addPassword", nil,
		map[string]any{"passwordCredential": map[string]any{"displayName": "rbac", "endDateTime": end.Format(time.RFC3339)}})
	if err != nil {
		return "", "", err
	}
	var cred struct {
		SecretText string `json:"secretText"`
	}
	if err := json.Unmarshal(resp.body, &cred); err != nil || cred.SecretText == "" {
		return "", "", fmt.Errorf("the server answered addPassword without a secret")
	}
	return sp.ID, cred.SecretText, nil
}

func adSPCreate(g *globals) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create the service principal of an application",
		Example: "  perimeter ad sp create --id APPID",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gc, err := g.graph(cmd)
			if err != nil {
				return err
			}
			app, err := gc.application(cmd.Context(), id)
			if err != nil {
				return err
			}
			return gc.createAndPrint(cmd, g, "/v1.0/servicePrincipals", map[string]any{"appId": app["appId"]}, spColumns())
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "appId or object id of the application")
	required(cmd, "id")
	return cmd
}

func adSPList(g *globals) *cobra.Command {
	return adList(g, "List service principals", "/v1.0/servicePrincipals", spColumns(), "appId eq '...'")
}

// servicePrincipal finds a service principal by appId or object id.
func (gc *graphClient) servicePrincipal(ctx context.Context, id string) (map[string]any, error) {
	return gc.byAppIDOrObjectID(ctx, "servicePrincipals", "service principal", id)
}

func adSPShow(g *globals) *cobra.Command {
	return adShow(g, "Show a service principal", spRef(), (*graphClient).servicePrincipal, spColumns())
}

func adSPDelete(g *globals) *cobra.Command {
	return adObjectCommand(g, "delete", "Delete a service principal (its application stays)", spRef(),
		func(cmd *cobra.Command, gc *graphClient, id string) error {
			sp, err := gc.servicePrincipal(cmd.Context(), id)
			if err != nil {
				return err
			}
			objectID, _ := sp["id"].(string)
			_, err = gc.call(cmd.Context(), http.MethodDelete, "/v1.0/servicePrincipals/"+url.PathEscape(objectID), nil, nil)
			return err
		})
}

// --- users

func adUserCreate(g *globals) *cobra.Command {
	var displayName, upn, password, nickname string
	var identities []string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a user who signs in with a password or with a company identity provider",
		Long: `Create a user. The password must be 8 to 256 characters with three of:
lower-case letters, upper-case letters, digits, symbols. The user signs in with
'perimeter login --username UPN --password ...'.

--identity issuer=URL,id=SUBJECT (repeatable) lets the user sign in with a token
of that OpenID Connect issuer whose 'sub' is SUBJECT ('perimeter login
--federated-token'), if the server trusts the issuer (serve --trusted-issuer).
With an identity the password may be left out.`,
		Example: `  perimeter ad user create --display-name 'Alice Example' --user-principal-name alice@contoso.com --password -
  perimeter ad user create --display-name 'Bob' --user-principal-name bob@contoso.com \
      --identity issuer=https://login.contoso.com,id=00u1bob`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ids, err := parseIdentities(identities)
			if err != nil {
				return err
			}
			body := map[string]any{"accountEnabled": true, "displayName": displayName, "userPrincipalName": upn}
			if len(ids) > 0 {
				body["identities"] = ids
			}
			switch {
			case password != "":
				pw, err := readPassword(password, cmd.InOrStdin())
				if err != nil {
					return err
				}
				body["passwordProfile"] = map[string]any{"password": pw, "forceChangePasswordNextSignIn": false}
			case len(ids) == 0:
				return usageErrorf("the following arguments are required: --password (or --identity, for a user of a company identity provider)")
			}
			if nickname == "" {
				nickname, _, _ = strings.Cut(upn, "@")
			}
			body["mailNickname"] = nickname
			gc, err := g.graph(cmd)
			if err != nil {
				return err
			}
			return gc.createAndPrint(cmd, g, "/v1.0/users", body, userColumns())
		},
	}
	f := cmd.Flags()
	f.StringVar(&displayName, "display-name", "", "the user's name")
	f.StringVar(&upn, "user-principal-name", "", "sign-in name, alias@domain")
	f.StringVar(&password, "password", "", "the password; '-' reads it from the first line of stdin")
	f.StringVar(&nickname, "mail-nickname", "", "mail alias (default: the alias of the user principal name)")
	f.StringArrayVar(&identities, "identity", nil, "issuer=URL,id=SUBJECT: a company identity provider's identity the user signs in with (repeatable)")
	required(cmd, "display-name", "user-principal-name")
	return cmd
}

// parseIdentities reads --identity issuer=URL,id=SUBJECT values as Graph
// objectIdentity entries. The server checks the values themselves.
func parseIdentities(values []string) ([]map[string]string, error) {
	out := make([]map[string]string, 0, len(values))
	for _, v := range values {
		var issuer, id string
		for part := range strings.SplitSeq(v, ",") {
			key, val, _ := strings.Cut(part, "=")
			switch strings.TrimSpace(key) {
			case "issuer":
				issuer = val
			case "id", "issuerAssignedId":
				id = val
			default:
				return nil, usageErrorf("argument --identity %q: give issuer=URL,id=SUBJECT, such as issuer=https://login.contoso.com,id=00u1bob", v)
			}
		}
		if issuer == "" || id == "" {
			return nil, usageErrorf("argument --identity %q: give both issuer=URL and id=SUBJECT", v)
		}
		out = append(out, map[string]string{"signInType": "federated", "issuer": issuer, "issuerAssignedId": id})
	}
	return out, nil
}

func adUserUpdate(g *globals) *cobra.Command {
	var id, displayName, enabled string
	var identities []string
	var clear bool
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Update a user: display name, whether it may sign in, its identity provider identities",
		Example: `  perimeter ad user update --id bob@contoso.com --account-enabled false
  perimeter ad user update --id bob@contoso.com --identity issuer=https://login.contoso.com,id=00u1bob`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body := map[string]any{}
			if cmd.Flags().Changed("display-name") {
				body["displayName"] = displayName
			}
			if err := putBoolFlag(body, "accountEnabled", "account-enabled", enabled); err != nil {
				return err
			}
			ids, err := parseIdentities(identities)
			if err != nil {
				return err
			}
			if clear && len(ids) > 0 {
				return usageErrorf("--clear-identities and --identity exclude each other: --identity replaces the identities already")
			}
			if clear || len(ids) > 0 {
				body["identities"] = ids
			}
			if len(body) == 0 {
				return usageErrorf("nothing to update: give --display-name, --account-enabled, --identity or --clear-identities")
			}
			gc, err := g.graph(cmd)
			if err != nil {
				return err
			}
			_, err = gc.call(cmd.Context(), http.MethodPatch, "/v1.0/users/"+url.PathEscape(id), nil, body)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "object id or user principal name")
	f.StringVar(&displayName, "display-name", "", "the user's new name")
	f.StringVar(&enabled, "account-enabled", "", "true or false: whether the user may sign in")
	f.StringArrayVar(&identities, "identity", nil, "issuer=URL,id=SUBJECT (repeatable): replaces the user's identities")
	f.BoolVar(&clear, "clear-identities", false, "remove every identity (a user without a password keeps at least one)")
	required(cmd, "id")
	return cmd
}

// putBoolFlag sets body[key] from a true/false flag of an update command,
// given as text so that leaving it out leaves the property as it is.
func putBoolFlag(body map[string]any, key, flag, value string) error {
	switch value {
	case "":
	case "true", "false":
		body[key] = value == "true"
	default:
		return usageErrorf("argument --%s: give true or false", flag)
	}
	return nil
}

func adUserList(g *globals) *cobra.Command {
	return adList(g, "List users", "/v1.0/users", userColumns(), "mailNickname eq 'alice'",
		filterFlag{"upn", "only the user with this user principal name", func(v string) string { return "userPrincipalName eq " + odataString(v) }})
}

func adUserShow(g *globals) *cobra.Command {
	return adShow(g, "Show a user", userRef(), func(gc *graphClient, ctx context.Context, id string) (map[string]any, error) {
		return gc.get(ctx, "/v1.0/users/"+url.PathEscape(id))
	}, userColumns())
}

func adUserDelete(g *globals) *cobra.Command {
	return adObjectCommand(g, "delete", "Delete a user (and their group memberships)", userRef(),
		func(cmd *cobra.Command, gc *graphClient, id string) error {
			_, err := gc.call(cmd.Context(), http.MethodDelete, "/v1.0/users/"+url.PathEscape(id), nil, nil)
			return err
		})
}

// --- groups

func adGroupCreate(g *globals) *cobra.Command {
	var displayName, nickname, description string
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create a security group",
		Example: "  perimeter ad group create --display-name 'AI team' --mail-nickname ai-team",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body := map[string]any{"displayName": displayName, "mailNickname": nickname, "securityEnabled": true, "mailEnabled": false}
			if description != "" {
				body["description"] = description
			}
			gc, err := g.graph(cmd)
			if err != nil {
				return err
			}
			return gc.createAndPrint(cmd, g, "/v1.0/groups", body, adGroupColumns())
		},
	}
	f := cmd.Flags()
	f.StringVar(&displayName, "display-name", "", "the group's name")
	f.StringVar(&nickname, "mail-nickname", "", "mail alias of the group")
	f.StringVar(&description, "description", "", "what the group is for")
	required(cmd, "display-name", "mail-nickname")
	return cmd
}

func adGroupList(g *globals) *cobra.Command {
	return adList(g, "List groups", "/v1.0/groups", adGroupColumns(), "mailNickname eq 'ai-team'")
}

// group finds a group by object id or exact display name, as az's --group.
func (gc *graphClient) group(ctx context.Context, ref string) (map[string]any, error) {
	if isGUID(ref) {
		return gc.get(ctx, "/v1.0/groups/"+url.PathEscape(ref))
	}
	items, err := gc.list(ctx, "/v1.0/groups", url.Values{"$filter": {"displayName eq " + odataString(ref)}})
	if err != nil {
		return nil, err
	}
	switch len(items) {
	case 0:
		return nil, fmt.Errorf("no group is named '%s'; give the group's object id or exact display name", ref)
	case 1:
		return items[0].(map[string]any), nil
	}
	return nil, fmt.Errorf("%d groups are named '%s'; give the object id of the one you mean", len(items), ref)
}

// groupID resolves --group to an object id.
func (gc *graphClient) groupID(ctx context.Context, ref string) (string, error) {
	gr, err := gc.group(ctx, ref)
	if err != nil {
		return "", err
	}
	id, _ := gr["id"].(string)
	return id, nil
}

func adGroupShow(g *globals) *cobra.Command {
	return adShow(g, "Show a group", groupRef(), (*graphClient).group, adGroupColumns())
}

func adGroupDelete(g *globals) *cobra.Command {
	return adObjectCommand(g, "delete", "Delete a group (its members stay)", groupRef(),
		func(cmd *cobra.Command, gc *graphClient, ref string) error {
			id, err := gc.groupID(cmd.Context(), ref)
			if err != nil {
				return err
			}
			_, err = gc.call(cmd.Context(), http.MethodDelete, "/v1.0/groups/"+url.PathEscape(id), nil, nil)
			return err
		})
}

// memberCommand is add or remove: --group and --member-id.
func memberCommand(g *globals, use, short string, run func(ctx context.Context, gc *graphClient, groupID, memberID string) error) *cobra.Command {
	var ref, memberID string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !isGUID(memberID) {
				return usageErrorf("argument --member-id: give the object id (a GUID) of a user, group or service principal")
			}
			gc, err := g.graph(cmd)
			if err != nil {
				return err
			}
			id, err := gc.groupID(cmd.Context(), ref)
			if err != nil {
				return err
			}
			return run(cmd.Context(), gc, id, memberID)
		},
	}
	cmd.Flags().StringVarP(&ref, "group", "g", "", "object id or display name of the group")
	cmd.Flags().StringVar(&memberID, "member-id", "", "object id of the user, group or service principal")
	required(cmd, "group", "member-id")
	return cmd
}

func adMemberAdd(g *globals) *cobra.Command {
	return memberCommand(g, "add", "Add a user, group or service principal to a group",
		func(ctx context.Context, gc *graphClient, groupID, memberID string) error {
			_, err := gc.call(ctx, http.MethodPost, "/v1.0/groups/"+url.PathEscape(groupID)+"/members/$ref", nil,
				map[string]string{"@odata.id": graphRefBase + memberID})
			return err
		})
}

func adMemberRemove(g *globals) *cobra.Command {
	return memberCommand(g, "remove", "Remove a member from a group",
		func(ctx context.Context, gc *graphClient, groupID, memberID string) error {
			_, err := gc.call(ctx, http.MethodDelete, "/v1.0/groups/"+url.PathEscape(groupID)+"/members/"+url.PathEscape(memberID)+"/$ref", nil, nil)
			return err
		})
}

func adMemberList(g *globals) *cobra.Command {
	return adObjectCommand(g, "list", "List the direct members of a group", groupRef(),
		func(cmd *cobra.Command, gc *graphClient, ref string) error {
			id, err := gc.groupID(cmd.Context(), ref)
			if err != nil {
				return err
			}
			items, err := gc.list(cmd.Context(), "/v1.0/groups/"+url.PathEscape(id)+"/members", nil)
			if err != nil {
				return err
			}
			return g.print(cmd, items, memberColumns())
		})
}
