package identity

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/store"
)

// routes lays out the Graph v1.0 endpoints:
//
//	POST/GET   /v1.0/applications
//	GET/PATCH/DELETE /v1.0/applications/{id}                  (object id; PATCH: displayName, isFallbackPublicClient)
//	GET/DELETE /v1.0/applications(appId='{appId}')
//	POST       /v1.0/applications/{id}/addPassword            (answers secretText, once)
//	POST       /v1.0/applications/{id}/removePassword
//	POST/GET   /v1.0/applications/{id}/federatedIdentityCredentials   (see graphfederation.go)
//	GET/PATCH/DELETE /v1.0/applications/{id}/federatedIdentityCredentials/{ficId}
//	POST/GET   /v1.0/servicePrincipals                        (POST {"appId"})
//	GET/DELETE /v1.0/servicePrincipals/{id}
//	GET/DELETE /v1.0/servicePrincipals(appId='{appId}')
//	POST/GET   /v1.0/users
//	GET/PATCH/DELETE /v1.0/users/{id or userPrincipalName}  (PATCH: displayName, accountEnabled, identities)
//	GET        /v1.0/me                                       (user tokens)
//	POST/GET   /v1.0/groups
//	GET/DELETE /v1.0/groups/{id}
//	GET        /v1.0/groups/{id}/members
//	POST       /v1.0/groups/{id}/members/$ref                 ({"@odata.id": ".../directoryObjects/{id}"})
//	DELETE     /v1.0/groups/{id}/members/{memberId}/$ref
//	GET        /v1.0/directoryObjects/{id}
//
// Everything else under /v1.0 answers a Graph error (400 for an unknown
// segment, 405 for a known path with another method).
func (g *Graph) routes() *http.ServeMux {
	mux := http.NewServeMux()
	h := func(pattern string, fn graphHandler) { mux.HandleFunc(pattern, g.serve(true, fn)) }
	h("POST /v1.0/applications", g.createApplication)
	h("GET /v1.0/applications", g.listApplications)
	h("GET /v1.0/applications/{id}", g.getApplication)
	h("DELETE /v1.0/applications/{id}", g.deleteApplication)
	h("PATCH /v1.0/applications/{id}", g.updateApplication)
	h("POST /v1.0/applications/{id}/addPassword", g.addPassword)
	h("POST /v1.0/applications/{id}/removePassword", g.removePassword)
	h("POST /v1.0/applications/{id}/federatedIdentityCredentials", g.createFederatedCredential)
	h("GET /v1.0/applications/{id}/federatedIdentityCredentials", g.listFederatedCredentials)
	h("GET /v1.0/applications/{id}/federatedIdentityCredentials/{fic}", g.getFederatedCredential)
	h("PATCH /v1.0/applications/{id}/federatedIdentityCredentials/{fic}", g.updateFederatedCredential)
	h("DELETE /v1.0/applications/{id}/federatedIdentityCredentials/{fic}", g.deleteFederatedCredential)
	// Alternate key: federatedIdentityCredentials(name='...').
	h("GET /v1.0/applications/{id}/{key}", g.applicationChild)
	h("PATCH /v1.0/applications/{id}/{key}", g.applicationChild)
	h("DELETE /v1.0/applications/{id}/{key}", g.applicationChild)

	h("POST /v1.0/servicePrincipals", g.createServicePrincipal)
	h("GET /v1.0/servicePrincipals", g.listServicePrincipals)
	h("GET /v1.0/servicePrincipals/{id}", g.getServicePrincipal)
	h("DELETE /v1.0/servicePrincipals/{id}", g.deleteServicePrincipal)

	h("POST /v1.0/users", g.createUser)
	h("GET /v1.0/users", g.listUsers)
	h("GET /v1.0/users/{id}", g.getUser)
	h("PATCH /v1.0/users/{id}", g.updateUser)
	h("DELETE /v1.0/users/{id}", g.deleteUser)
	h("GET /v1.0/me", g.getMe)

	h("POST /v1.0/groups", g.createGroup)
	h("GET /v1.0/groups", g.listGroups)
	h("GET /v1.0/groups/{id}", g.getGroup)
	h("DELETE /v1.0/groups/{id}", g.deleteGroup)
	h("GET /v1.0/groups/{id}/members", g.listMembers)
	h("POST /v1.0/groups/{id}/members/$ref", g.addMember)
	h("DELETE /v1.0/groups/{id}/members/{memberId}/$ref", g.removeMember)

	h("GET /v1.0/directoryObjects/{id}", g.getDirectoryObject)

	// Alternate keys: applications(appId='...'), servicePrincipals(appId='...').
	h("GET /v1.0/{key}", g.getByAppID)
	h("DELETE /v1.0/{key}", g.deleteByAppID)

	mux.HandleFunc("/v1.0/", g.serve(false, g.unknownRoute))
	mux.HandleFunc("/v1.0", g.serve(false, g.unknownRoute))
	return mux
}

// Entity type names, as Graph's messages and "@odata.type" spell them.
const (
	entityApplication        = "microsoft.graph.application"
	entityServicePrincipal   = "microsoft.graph.servicePrincipal"
	entityUser               = "microsoft.graph.user"
	entityGroup              = "microsoft.graph.group"
	entityPasswordCredential = "microsoft.graph.passwordCredential"
	entityPasswordProfile    = "microsoft.graph.passwordProfile"
	entityObjectIdentity     = "microsoft.graph.objectIdentity"
	entityReference          = "microsoft.graph.directoryObject reference"
)

// annotations are the OData properties of a response entity: the context
// on a single entity, the type on members of mixed collections.
type annotations struct {
	Context string `json:"@odata.context,omitempty"`
	Type    string `json:"@odata.type,omitempty"`
}

func (a *annotations) odata() *annotations { return a }

// writeEntity answers one entity of the entity set (applications, users,
// ...), with its @odata.context.
func writeEntity(w http.ResponseWriter, r *http.Request, status int, set string, v interface{ odata() *annotations }) error {
	v.odata().Context = odataContext(r, set+"/$entity")
	writeGraphJSON(w, status, v)
	return nil
}

type applicationView struct {
	annotations
	ID                  string                   `json:"id"`
	AppID               string                   `json:"appId"`
	DisplayName         string                   `json:"displayName"`
	CreatedDateTime     time.Time                `json:"createdDateTime"`
	SignInAudience      string                   `json:"signInAudience"`
	PasswordCredentials []passwordCredentialView `json:"passwordCredentials"`
	// IsFallbackPublicClient is Graph's nullable Boolean; Perimeter always
	// states it.
	IsFallbackPublicClient bool `json:"isFallbackPublicClient"`
}

type passwordCredentialView struct {
	Context             string    `json:"@odata.context,omitempty"`
	CustomKeyIdentifier *string   `json:"customKeyIdentifier"`
	DisplayName         string    `json:"displayName"`
	EndDateTime         time.Time `json:"endDateTime"`
	Hint                string    `json:"hint"`
	KeyID               string    `json:"keyId"`
	SecretText          *string   `json:"secretText"`
	StartDateTime       time.Time `json:"startDateTime"`
}

type servicePrincipalView struct {
	annotations
	ID                     string   `json:"id"`
	AppID                  string   `json:"appId"`
	DisplayName            string   `json:"displayName"`
	AppDisplayName         string   `json:"appDisplayName"`
	ServicePrincipalType   string   `json:"servicePrincipalType"`
	AccountEnabled         bool     `json:"accountEnabled"`
	ServicePrincipalNames  []string `json:"servicePrincipalNames"`
	AppOwnerOrganizationID string   `json:"appOwnerOrganizationId"`
}

type userView struct {
	annotations
	ID                string           `json:"id"`
	DisplayName       string           `json:"displayName"`
	UserPrincipalName string           `json:"userPrincipalName"`
	MailNickname      string           `json:"mailNickname"`
	AccountEnabled    bool             `json:"accountEnabled"`
	UserType          string           `json:"userType"`
	CreatedDateTime   time.Time        `json:"createdDateTime"`
	Identities        []ObjectIdentity `json:"identities"`
}

type groupView struct {
	annotations
	ID              string    `json:"id"`
	DisplayName     string    `json:"displayName"`
	MailNickname    string    `json:"mailNickname"`
	Description     *string   `json:"description"`
	SecurityEnabled bool      `json:"securityEnabled"`
	MailEnabled     bool      `json:"mailEnabled"`
	GroupTypes      []string  `json:"groupTypes"`
	CreatedDateTime time.Time `json:"createdDateTime"`
}

func viewApplication(a Application) *applicationView {
	creds := make([]passwordCredentialView, len(a.PasswordCredentials))
	for i, p := range a.PasswordCredentials {
		creds[i] = viewPasswordCredential(p)
	}
	return &applicationView{
		ID: a.ObjectID, AppID: a.AppID, DisplayName: a.DisplayName, CreatedDateTime: a.CreatedDateTime,
		SignInAudience: signInAudienceMyOrg, PasswordCredentials: creds, IsFallbackPublicClient: a.IsFallbackPublicClient,
	}
}

func viewPasswordCredential(p PasswordCredential) passwordCredentialView {
	return passwordCredentialView{
		DisplayName: p.DisplayName, EndDateTime: p.EndDateTime, Hint: p.Hint, KeyID: p.KeyID, StartDateTime: p.StartDateTime,
	}
}

func viewServicePrincipal(sp ServicePrincipal) *servicePrincipalView {
	return &servicePrincipalView{
		ID: sp.ID, AppID: sp.AppID, DisplayName: sp.DisplayName, AppDisplayName: sp.DisplayName,
		ServicePrincipalType: sp.ServicePrincipalType, AccountEnabled: sp.AccountEnabled,
		ServicePrincipalNames: []string{sp.AppID}, AppOwnerOrganizationID: sp.TenantID,
	}
}

func viewUser(u User) *userView {
	return &userView{
		ID: u.ID, DisplayName: u.DisplayName, UserPrincipalName: u.UserPrincipalName, MailNickname: u.MailNickname,
		AccountEnabled: u.AccountEnabled, UserType: "Member", CreatedDateTime: u.CreatedDateTime,
		Identities: append([]ObjectIdentity{}, u.Identities...),
	}
}

func viewGroup(gr Group) *groupView {
	v := &groupView{
		ID: gr.ID, DisplayName: gr.DisplayName, MailNickname: gr.MailNickname,
		SecurityEnabled: gr.SecurityEnabled, MailEnabled: gr.MailEnabled, GroupTypes: []string{}, CreatedDateTime: gr.CreatedDateTime,
	}
	if gr.Description != "" {
		v.Description = &gr.Description
	}
	return v
}

// signInAudienceMyOrg: Perimeter's applications are single-tenant.
const signInAudienceMyOrg = "AzureADMyOrg"

// --- applications

func (g *Graph) createApplication(w http.ResponseWriter, r *http.Request, c *call) error {
	obj, err := readObject(w, r, entityApplication, "displayName", "signInAudience", "isFallbackPublicClient")
	if err != nil {
		return err
	}
	if err := obj.required("application", "displayName"); err != nil {
		return err
	}
	public, _, err := obj.boolean("isFallbackPublicClient")
	if err != nil {
		return err
	}
	name, err := obj.str("displayName")
	if err != nil {
		return err
	}
	aud, err := obj.str("signInAudience")
	if err != nil {
		return err
	}
	if aud != "" && aud != signInAudienceMyOrg {
		return graphErrorf(http.StatusBadRequest, codeBadRequest, "Perimeter's applications are single-tenant: signInAudience can only be '%s'.", signInAudienceMyOrg)
	}
	app, err := g.dir.CreateApplication(r.Context(), c.tenant, name)
	if err != nil {
		return err
	}
	if public {
		// A second write: an application that exists a moment as a
		// confidential client is only the stricter of the two.
		if app, err = g.dir.UpdateApplication(r.Context(), c.tenant, app.AppID, ApplicationPatch{IsFallbackPublicClient: &public}); err != nil {
			return err
		}
	}
	return writeEntity(w, r, http.StatusCreated, "applications", viewApplication(app))
}

// updateApplication is PATCH /v1.0/applications/{id}: displayName and
// isFallbackPublicClient; Graph answers 204 without a body.
func (g *Graph) updateApplication(w http.ResponseWriter, r *http.Request, c *call) error {
	obj, err := readObject(w, r, entityApplication, "displayName", "isFallbackPublicClient")
	if err != nil {
		return err
	}
	app, err := g.dir.ApplicationByObjectID(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	var patch ApplicationPatch
	if patch.IsFallbackPublicClient, err = obj.optionalBool("isFallbackPublicClient"); err != nil {
		return err
	}
	if patch.DisplayName, err = obj.optionalStr("displayName"); err != nil {
		return err
	}
	if _, err := g.dir.UpdateApplication(r.Context(), c.tenant, app.AppID, patch); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Graph) listApplications(w http.ResponseWriter, r *http.Request, c *call) error {
	apps, err := g.dir.Applications(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	items := make([]listItem, len(apps))
	for i, a := range apps {
		items[i] = listItem{id: a.ObjectID, props: map[string]string{"appId": a.AppID, "displayName": a.DisplayName}, render: viewApplication(a)}
	}
	return writeList(w, r, "applications", items, "appId", "displayName")
}

func (g *Graph) getApplication(w http.ResponseWriter, r *http.Request, c *call) error {
	app, err := g.dir.ApplicationByObjectID(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeEntity(w, r, http.StatusOK, "applications", viewApplication(app))
}

func (g *Graph) deleteApplication(w http.ResponseWriter, r *http.Request, c *call) error {
	app, err := g.dir.ApplicationByObjectID(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := g.dir.DeleteApplication(r.Context(), c.tenant, app.AppID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Graph) addPassword(w http.ResponseWriter, r *http.Request, c *call) error {
	obj, err := readObject(w, r, "addPassword parameters", "passwordCredential")
	if err != nil {
		return err
	}
	pc, err := obj.object("passwordCredential", entityPasswordCredential, "displayName", "endDateTime")
	if err != nil {
		return err
	}
	name, err := pc.str("displayName")
	if err != nil {
		return err
	}
	endText, err := pc.str("endDateTime")
	if err != nil {
		return err
	}
	app, err := g.dir.ApplicationByObjectID(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	var secret string
	var cred PasswordCredential
	if endText == "" {
		secret, cred, err = g.dir.AddPassword(r.Context(), c.tenant, app.AppID, name, 0)
	} else {
		end, perr := time.Parse(time.RFC3339, endText)
		if perr != nil {
			return graphErrorf(http.StatusBadRequest, codeBadRequest,
				"Invalid value for property 'endDateTime': '%s' is not a date and time such as 2027-01-31T00:00:00Z.", clip(endText))
		}
		secret, cred, err = g.dir.AddPasswordUntil(r.Context(), c.tenant, app.AppID, name, end)
	}
	if err != nil {
		return err
	}
	v := viewPasswordCredential(cred)
	v.Context = odataContext(r, entityPasswordCredential)
	v.SecretText = &secret
	writeGraphJSON(w, http.StatusOK, v)
	return nil
}

func (g *Graph) removePassword(w http.ResponseWriter, r *http.Request, c *call) error {
	obj, err := readObject(w, r, "removePassword parameters", "keyId")
	if err != nil {
		return err
	}
	if err := obj.required("removePassword request", "keyId"); err != nil {
		return err
	}
	keyID, err := obj.str("keyId")
	if err != nil {
		return err
	}
	app, err := g.dir.ApplicationByObjectID(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := g.dir.RemovePassword(r.Context(), c.tenant, app.AppID, keyID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- service principals

func (g *Graph) createServicePrincipal(w http.ResponseWriter, r *http.Request, c *call) error {
	obj, err := readObject(w, r, entityServicePrincipal, "appId")
	if err != nil {
		return err
	}
	if err := obj.required("servicePrincipal", "appId"); err != nil {
		return err
	}
	appID, err := obj.str("appId")
	if err != nil {
		return err
	}
	sp, err := g.dir.CreateServicePrincipal(r.Context(), c.tenant, appID)
	if errors.Is(err, ErrApplicationNotFound) {
		return graphErrorf(http.StatusBadRequest, codeBadRequest,
			"The appId '%s' of the service principal does not reference a valid application object. Create the application first (POST /v1.0/applications) and use its appId.", clip(appID))
	}
	if err != nil {
		return err
	}
	return writeEntity(w, r, http.StatusCreated, "servicePrincipals", viewServicePrincipal(sp))
}

func (g *Graph) listServicePrincipals(w http.ResponseWriter, r *http.Request, c *call) error {
	sps, err := g.dir.ServicePrincipals(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	items := make([]listItem, len(sps))
	for i, sp := range sps {
		items[i] = listItem{id: sp.ID, props: map[string]string{"appId": sp.AppID, "displayName": sp.DisplayName}, render: viewServicePrincipal(sp)}
	}
	return writeList(w, r, "servicePrincipals", items, "appId", "displayName")
}

func (g *Graph) getServicePrincipal(w http.ResponseWriter, r *http.Request, c *call) error {
	sp, err := g.dir.ServicePrincipal(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeEntity(w, r, http.StatusOK, "servicePrincipals", viewServicePrincipal(sp))
}

func (g *Graph) deleteServicePrincipal(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := g.dir.DeleteServicePrincipal(r.Context(), c.tenant, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// appIDKeyRE matches the alternate key segment "collection(appId='...')".
var appIDKeyRE = regexp.MustCompile(`^(applications|servicePrincipals)\(appId='([^']*)'\)$`)

func (g *Graph) getByAppID(w http.ResponseWriter, r *http.Request, c *call) error {
	m := appIDKeyRE.FindStringSubmatch(r.PathValue("key"))
	if m == nil {
		return g.unknownRoute(w, r, c)
	}
	if m[1] == "applications" {
		app, err := g.dir.Application(r.Context(), c.tenant, m[2])
		if err != nil {
			return err
		}
		return writeEntity(w, r, http.StatusOK, "applications", viewApplication(app))
	}
	sp, err := g.dir.ServicePrincipalByAppID(r.Context(), c.tenant, m[2])
	if errors.Is(err, ErrApplicationNotFound) {
		err = refusef(ErrObjectNotFound, "No service principal has the appId '%s' in this tenant.", clip(m[2]))
	}
	if err != nil {
		return err
	}
	return writeEntity(w, r, http.StatusOK, "servicePrincipals", viewServicePrincipal(sp))
}

func (g *Graph) deleteByAppID(w http.ResponseWriter, r *http.Request, c *call) error {
	m := appIDKeyRE.FindStringSubmatch(r.PathValue("key"))
	if m == nil {
		return g.unknownRoute(w, r, c)
	}
	var err error
	if m[1] == "applications" {
		err = g.dir.DeleteApplication(r.Context(), c.tenant, m[2])
	} else {
		var sp ServicePrincipal
		if sp, err = g.dir.ServicePrincipalByAppID(r.Context(), c.tenant, m[2]); err == nil {
			err = g.dir.DeleteServicePrincipal(r.Context(), c.tenant, sp.ID)
		}
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- users

func (g *Graph) createUser(w http.ResponseWriter, r *http.Request, c *call) error {
	obj, err := readObject(w, r, entityUser, "accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile", "identities")
	if err != nil {
		return err
	}
	var in UserInput
	if in.Identities, _, err = obj.identities("identities"); err != nil {
		return err
	}
	required := []string{"accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile"}
	if len(in.Identities) > 0 {
		// A user of a company identity provider needs no password.
		required = required[:len(required)-1]
	}
	if err := obj.required("user", required...); err != nil {
		return err
	}
	if in.AccountEnabled, _, err = obj.boolean("accountEnabled"); err != nil {
		return err
	}
	if in.DisplayName, err = obj.str("displayName"); err != nil {
		return err
	}
	if in.MailNickname, err = obj.str("mailNickname"); err != nil {
		return err
	}
	if in.UserPrincipalName, err = obj.str("userPrincipalName"); err != nil {
		return err
	}
	if in.Password, err = passwordOf(obj); err != nil {
		return err
	}
	u, err := g.dir.CreateUser(r.Context(), c.tenant, in)
	if err != nil {
		return err
	}
	return writeEntity(w, r, http.StatusCreated, "users", viewUser(u))
}

// passwordOf reads a new user's passwordProfile: "" when absent.
func passwordOf(obj jsonObject) (string, error) {
	pp, err := obj.object("passwordProfile", entityPasswordProfile, "password", "forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa")
	if err != nil || pp == nil {
		return "", err
	}
	if err := pp.required("passwordProfile", "password"); err != nil {
		return "", err
	}
	password, err := pp.str("password")
	if err != nil {
		return "", err
	}
	for _, p := range []string{"forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"} {
		force, _, err := pp.boolean(p)
		if err != nil {
			return "", err
		}
		if force {
			return "", graphErrorf(http.StatusBadRequest, codeBadRequest,
				"Perimeter has no interactive sign-in in which to change a password: set passwordProfile.%s to false or leave it out.", p)
		}
	}
	return password, nil
}

// identities reads a collection of objectIdentity, each checked like
// readObject; present is false when absent or null.
func (o jsonObject) identities(name string) (ids []ObjectIdentity, present bool, err error) {
	raw, ok := o[name]
	if !ok || string(raw) == "null" {
		return nil, false, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, true, graphErrorf(http.StatusBadRequest, codeBadRequest,
			"Invalid value for property '%s': expected an array of objects of type '%s' ({\"signInType\": \"federated\", \"issuer\": \"https://...\", \"issuerAssignedId\": \"...\"}).", name, entityObjectIdentity)
	}
	ids = make([]ObjectIdentity, 0, len(items))
	for _, item := range items {
		obj, err := jsonObject{name: item}.object(name, entityObjectIdentity, "signInType", "issuer", "issuerAssignedId")
		if err != nil {
			return nil, true, err
		}
		if obj == nil {
			return nil, true, graphErrorf(http.StatusBadRequest, codeBadRequest, "Invalid value for property '%s': an identity cannot be null.", name)
		}
		if err := obj.required("identity", "signInType", "issuer", "issuerAssignedId"); err != nil {
			return nil, true, err
		}
		var id ObjectIdentity
		if id.SignInType, err = obj.str("signInType"); err != nil {
			return nil, true, err
		}
		if id.Issuer, err = obj.str("issuer"); err != nil {
			return nil, true, err
		}
		if id.IssuerAssignedID, err = obj.str("issuerAssignedId"); err != nil {
			return nil, true, err
		}
		ids = append(ids, id)
	}
	return ids, true, nil
}

func (g *Graph) listUsers(w http.ResponseWriter, r *http.Request, c *call) error {
	users, err := g.dir.Users(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	items := make([]listItem, len(users))
	for i, u := range users {
		items[i] = listItem{id: u.ID, render: viewUser(u), props: map[string]string{
			"displayName": u.DisplayName, "userPrincipalName": u.UserPrincipalName, "mailNickname": u.MailNickname,
		}}
	}
	return writeList(w, r, "users", items, "displayName", "userPrincipalName", "mailNickname")
}

func (g *Graph) getUser(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := g.dir.User(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeEntity(w, r, http.StatusOK, "users", viewUser(u))
}

// updateUser is PATCH /v1.0/users/{id}: Graph answers 204 without a body.
func (g *Graph) updateUser(w http.ResponseWriter, r *http.Request, c *call) error {
	obj, err := readObject(w, r, entityUser, "accountEnabled", "displayName", "identities")
	if err != nil {
		return err
	}
	var patch UserPatch
	if patch.AccountEnabled, err = obj.optionalBool("accountEnabled"); err != nil {
		return err
	}
	if patch.DisplayName, err = obj.optionalStr("displayName"); err != nil {
		return err
	}
	if ids, present, err := obj.identities("identities"); err != nil {
		return err
	} else if present {
		patch.Identities = &ids
	}
	if _, err := g.dir.UpdateUser(r.Context(), c.tenant, r.PathValue("id"), patch); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Graph) deleteUser(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := g.dir.DeleteUser(r.Context(), c.tenant, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Graph) getMe(w http.ResponseWriter, r *http.Request, c *call) error {
	if c.p.Type != PrincipalTypeUser {
		return graphErrorf(http.StatusBadRequest, codeBadRequest,
			"/me request is only valid with delegated authentication flow: this token is an application's. Use /v1.0/servicePrincipals/%s.", c.p.ObjectID)
	}
	u, err := g.dir.User(r.Context(), c.tenant, c.p.ObjectID)
	if err != nil {
		return err
	}
	return writeEntity(w, r, http.StatusOK, "users", viewUser(u))
}

// --- groups

func (g *Graph) createGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	obj, err := readObject(w, r, entityGroup, "displayName", "mailNickname", "description", "securityEnabled", "mailEnabled", "groupTypes")
	if err != nil {
		return err
	}
	if err := obj.required("group", "displayName", "mailNickname"); err != nil {
		return err
	}
	var in GroupInput
	if in.DisplayName, err = obj.str("displayName"); err != nil {
		return err
	}
	if in.MailNickname, err = obj.str("mailNickname"); err != nil {
		return err
	}
	if in.Description, err = obj.str("description"); err != nil {
		return err
	}
	if sec, present, err := obj.boolean("securityEnabled"); err != nil {
		return err
	} else if present && !sec {
		return graphErrorf(http.StatusBadRequest, codeBadRequest, "Perimeter's groups are security groups: securityEnabled must be true (or left out).")
	}
	if mail, _, err := obj.boolean("mailEnabled"); err != nil {
		return err
	} else if mail {
		return graphErrorf(http.StatusBadRequest, codeBadRequest, "Perimeter has no mail: mailEnabled must be false (or left out).")
	}
	if raw, ok := obj["groupTypes"]; ok && string(raw) != "null" {
		var types []string
		if err := json.Unmarshal(raw, &types); err != nil {
			return graphErrorf(http.StatusBadRequest, codeBadRequest, "Invalid value for property 'groupTypes': expected an array of strings.")
		}
		if len(types) > 0 {
			return graphErrorf(http.StatusBadRequest, codeBadRequest,
				"Perimeter has security groups only, with assigned members: groupTypes must be empty (no 'Unified' or 'DynamicMembership').")
		}
	}
	gr, err := g.dir.CreateGroup(r.Context(), c.tenant, in)
	if err != nil {
		return err
	}
	return writeEntity(w, r, http.StatusCreated, "groups", viewGroup(gr))
}

func (g *Graph) listGroups(w http.ResponseWriter, r *http.Request, c *call) error {
	groups, err := g.dir.Groups(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	items := make([]listItem, len(groups))
	for i, gr := range groups {
		items[i] = listItem{id: gr.ID, props: map[string]string{"displayName": gr.DisplayName, "mailNickname": gr.MailNickname}, render: viewGroup(gr)}
	}
	return writeList(w, r, "groups", items, "displayName", "mailNickname")
}

func (g *Graph) getGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	gr, err := g.dir.Group(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeEntity(w, r, http.StatusOK, "groups", viewGroup(gr))
}

func (g *Graph) deleteGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := g.dir.DeleteGroup(r.Context(), c.tenant, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Graph) listMembers(w http.ResponseWriter, r *http.Request, c *call) error {
	tid, docs, err := g.dir.memberDocs(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	items := make([]listItem, 0, len(docs))
	for _, doc := range docs {
		it, err := objectItem(tid, doc, "")
		if err != nil {
			return err
		}
		items = append(items, it)
	}
	return writeList(w, r, "directoryObjects", items, "displayName")
}

// objectTypeNames names object types in messages.
var objectTypeNames = map[string]string{
	ObjectTypeUser:             "user",
	ObjectTypeGroup:            "group",
	ObjectTypeServicePrincipal: "service principal",
}

// refCollections are the collections a member reference may name.
var refCollections = map[string]string{
	"directoryobjects":  "",
	"users":             ObjectTypeUser,
	"groups":            ObjectTypeGroup,
	"serviceprincipals": ObjectTypeServicePrincipal,
}

func (g *Graph) addMember(w http.ResponseWriter, r *http.Request, c *call) error {
	obj, err := readObject(w, r, entityReference, "@odata.id")
	if err != nil {
		return err
	}
	if err := obj.required("member reference", "@odata.id"); err != nil {
		return err
	}
	ref, err := obj.str("@odata.id")
	if err != nil {
		return err
	}
	memberID, kind, ok := parseObjectRef(ref)
	if !ok {
		return graphErrorf(http.StatusBadRequest, codeBadRequest,
			"Invalid value for property '@odata.id': '%s' is not a reference to a directory object; give https://graph.microsoft.com/v1.0/directoryObjects/{id} (any host).", clip(ref))
	}
	if kind != "" {
		o, err := g.dir.Object(r.Context(), c.tenant, memberID)
		if err != nil {
			return err
		}
		if o.Type != kind {
			return refusef(ErrObjectNotFound, "No %s has the id '%s': it is a %s.", objectTypeNames[kind], o.ID, objectTypeNames[o.Type])
		}
	}
	if err := g.dir.AddMember(r.Context(), c.tenant, r.PathValue("id"), memberID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// parseObjectRef reads the object id, and the kind when the collection
// names one, from a reference URL such as
// https://graph.microsoft.com/v1.0/directoryObjects/{id}. The host does not
// matter: clients write Graph's, or this server's.
func parseObjectRef(ref string) (id, kind string, ok bool) {
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", false
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) < 2 {
		return "", "", false
	}
	if len(segs) > 2 && segs[len(segs)-3] != "v1.0" && segs[len(segs)-3] != "beta" {
		return "", "", false
	}
	kind, known := refCollections[strings.ToLower(segs[len(segs)-2])]
	id, isGUID := canonicalGUID(segs[len(segs)-1])
	if !known || !isGUID {
		return "", "", false
	}
	return id, kind, true
}

func (g *Graph) removeMember(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := g.dir.RemoveMember(r.Context(), c.tenant, r.PathValue("id"), r.PathValue("memberId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- directory objects

func (g *Graph) getDirectoryObject(w http.ResponseWriter, r *http.Request, c *call) error {
	tid, doc, err := g.dir.getObjectDoc(r.Context(), c.tenant, r.PathValue("id"), "")
	if errors.Is(err, ErrObjectNotFound) {
		// Applications are directory objects too in Graph.
		app, aerr := g.dir.ApplicationByObjectID(r.Context(), c.tenant, r.PathValue("id"))
		if errors.Is(aerr, ErrApplicationNotFound) {
			return err
		}
		if aerr != nil {
			return aerr
		}
		v := viewApplication(app)
		v.Context, v.Type = odataContext(r, "directoryObjects/$entity"), "#"+entityApplication
		writeGraphJSON(w, http.StatusOK, v)
		return nil
	}
	if err != nil {
		return err
	}
	it, err := objectItem(tid, doc, odataContext(r, "directoryObjects/$entity"))
	if err != nil {
		return err
	}
	writeGraphJSON(w, http.StatusOK, it.render)
	return nil
}

// objectItem renders a directory object's document with its
// "@odata.type", as a member of a mixed collection, or as a single entity
// when odataCtx is not "".
func objectItem(tid string, doc store.Document, odataCtx string) (listItem, error) {
	ann := func(entity string) annotations { return annotations{Context: odataCtx, Type: "#" + entity} }
	switch doc.Type {
	case store.Key(TypeUser):
		u, _, err := decodeUser(tid, doc)
		if err != nil {
			return listItem{}, err
		}
		v := viewUser(u)
		v.annotations = ann(entityUser)
		return listItem{id: u.ID, props: map[string]string{"displayName": u.DisplayName}, render: v}, nil
	case store.Key(TypeGroup):
		gr, err := decodeGroup(tid, doc)
		if err != nil {
			return listItem{}, err
		}
		v := viewGroup(Group(gr))
		v.annotations = ann(entityGroup)
		return listItem{id: gr.ID, props: map[string]string{"displayName": gr.DisplayName}, render: v}, nil
	case store.Key(TypeServicePrincipal):
		sp, err := decodeServicePrincipal(tid, doc)
		if err != nil {
			return listItem{}, err
		}
		v := viewServicePrincipal(sp)
		v.annotations = ann(entityServicePrincipal)
		return listItem{id: sp.ID, props: map[string]string{"displayName": sp.DisplayName}, render: v}, nil
	}
	_, err := describeObject(doc) // names the unexpected type
	return listItem{}, err
}

// --- everything else

// unknownRoute answers paths Perimeter does not serve: 405 for a path
// served with other methods, 400 (Graph's "Resource not found for the
// segment") otherwise.
func (g *Graph) unknownRoute(w http.ResponseWriter, r *http.Request, _ *call) error {
	if allowed := g.allowedMethods(r); len(allowed) > 0 {
		return graphErrorf(http.StatusMethodNotAllowed, codeMethodNotAllowed,
			"Specified HTTP method is not allowed for the request target: %s %s is not served; use %s.", r.Method, r.URL.Path, strings.Join(allowed, " or "))
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v1.0"), "/")
	seg, _, _ := strings.Cut(rest, "/")
	if known := []string{"applications", "servicePrincipals", "users", "groups", "directoryObjects", "me"}; seg == "" || slices.Contains(known, seg) {
		seg = rest
	}
	return graphErrorf(http.StatusBadRequest, codeUnknownSegment,
		"Resource not found for the segment '%s'. Perimeter serves /v1.0/applications (with addPassword, removePassword and federatedIdentityCredentials), /v1.0/servicePrincipals, /v1.0/users, /v1.0/groups (with members), /v1.0/directoryObjects and /v1.0/me.", clip(seg))
}

// allowedMethods lists the methods with a specific route for r's path.
func (g *Graph) allowedMethods(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		_, pattern := g.mux.Handler(probe)
		if pattern == "" || pattern == "/v1.0/" || pattern == "/v1.0" || strings.Contains(pattern, "{key}") {
			continue
		}
		out = append(out, m)
	}
	return out
}
