package identity

import (
	"net/http"
	"regexp"
)

// The federated identity credentials of an application, as Graph v1.0
// serves them:
//
//	POST/GET         /v1.0/applications/{id}/federatedIdentityCredentials
//	GET/PATCH/DELETE /v1.0/applications/{id}/federatedIdentityCredentials/{ficId}   (id or name)
//	GET/PATCH/DELETE /v1.0/applications/{id}/federatedIdentityCredentials(name='{name}')

const entityFederatedCredential = "microsoft.graph.federatedIdentityCredential"

// federatedProps are the properties a request may set.
var federatedProps = []string{"name", "issuer", "subject", "audiences", "description"}

type federatedCredentialView struct {
	annotations
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Issuer      string   `json:"issuer"`
	Subject     string   `json:"subject"`
	Description *string  `json:"description"`
	Audiences   []string `json:"audiences"`
}

func viewFederatedCredential(c FederatedIdentityCredential) *federatedCredentialView {
	v := &federatedCredentialView{ID: c.ID, Name: c.Name, Issuer: c.Issuer, Subject: c.Subject, Audiences: c.Audiences}
	if c.Description != "" {
		v.Description = &c.Description
	}
	return v
}

// federatedSet is the entity set of an application's credentials, as
// "@odata.context" names it.
func federatedSet(app Application) string {
	return "applications('" + app.ObjectID + "')/federatedIdentityCredentials"
}

func (g *Graph) createFederatedCredential(w http.ResponseWriter, r *http.Request, c *call) error {
	obj, err := readObject(w, r, entityFederatedCredential, federatedProps...)
	if err != nil {
		return err
	}
	if err := obj.required("federatedIdentityCredential", "name", "issuer", "subject"); err != nil {
		return err
	}
	var in FederatedCredentialInput
	if in.Name, err = obj.str("name"); err != nil {
		return err
	}
	if in.Issuer, err = obj.str("issuer"); err != nil {
		return err
	}
	if in.Subject, err = obj.str("subject"); err != nil {
		return err
	}
	if in.Description, err = obj.str("description"); err != nil {
		return err
	}
	if in.Audiences, _, err = obj.strs("audiences"); err != nil {
		return err
	}
	app, err := g.dir.ApplicationByObjectID(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	fic, err := g.dir.AddFederatedCredential(r.Context(), c.tenant, app.AppID, in)
	if err != nil {
		return err
	}
	return writeEntity(w, r, http.StatusCreated, federatedSet(app), viewFederatedCredential(fic))
}

func (g *Graph) listFederatedCredentials(w http.ResponseWriter, r *http.Request, c *call) error {
	app, err := g.dir.ApplicationByObjectID(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	items := make([]listItem, len(app.FederatedIdentityCredentials))
	for i, f := range app.FederatedIdentityCredentials {
		items[i] = listItem{id: f.ID, props: map[string]string{"name": f.Name, "issuer": f.Issuer, "subject": f.Subject}, render: viewFederatedCredential(f)}
	}
	return writeList(w, r, federatedSet(app), items, "name", "issuer", "subject")
}

func (g *Graph) getFederatedCredential(w http.ResponseWriter, r *http.Request, c *call) error {
	return g.getFederated(w, r, c, r.PathValue("fic"))
}

func (g *Graph) getFederated(w http.ResponseWriter, r *http.Request, c *call, ref string) error {
	app, err := g.dir.ApplicationByObjectID(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	fic, err := g.dir.FederatedCredential(r.Context(), c.tenant, app.AppID, ref)
	if err != nil {
		return err
	}
	return writeEntity(w, r, http.StatusOK, federatedSet(app), viewFederatedCredential(fic))
}

func (g *Graph) updateFederatedCredential(w http.ResponseWriter, r *http.Request, c *call) error {
	return g.updateFederated(w, r, c, r.PathValue("fic"))
}

// updateFederated answers PATCH as Graph does, with 204. The name cannot
// change; sending it unchanged is allowed (clients send back what they
// read).
func (g *Graph) updateFederated(w http.ResponseWriter, r *http.Request, c *call, ref string) error {
	obj, err := readObject(w, r, entityFederatedCredential, federatedProps...)
	if err != nil {
		return err
	}
	var patch FederatedCredentialPatch
	if patch.Issuer, err = obj.optionalStr("issuer"); err != nil {
		return err
	}
	if patch.Subject, err = obj.optionalStr("subject"); err != nil {
		return err
	}
	if patch.Description, err = obj.optionalStr("description"); err != nil {
		return err
	}
	if aud, present, err := obj.strs("audiences"); err != nil {
		return err
	} else if present {
		patch.Audiences = &aud
	}
	app, err := g.dir.ApplicationByObjectID(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, ok := obj["name"]; ok {
		name, err := obj.str("name")
		if err != nil {
			return err
		}
		cur, err := g.dir.FederatedCredential(r.Context(), c.tenant, app.AppID, ref)
		if err != nil {
			return err
		}
		if name != cur.Name {
			return graphErrorf(http.StatusBadRequest, codeBadRequest,
				"The name of a federated identity credential cannot change ('%s'): create a new credential and delete this one.", cur.Name)
		}
	}
	if _, err := g.dir.UpdateFederatedCredential(r.Context(), c.tenant, app.AppID, ref, patch); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Graph) deleteFederatedCredential(w http.ResponseWriter, r *http.Request, c *call) error {
	return g.deleteFederated(w, r, c, r.PathValue("fic"))
}

func (g *Graph) deleteFederated(w http.ResponseWriter, r *http.Request, c *call, ref string) error {
	app, err := g.dir.ApplicationByObjectID(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := g.dir.RemoveFederatedCredential(r.Context(), c.tenant, app.AppID, ref); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// federatedNameKeyRE matches the alternate key segment
// "federatedIdentityCredentials(name='...')".
var federatedNameKeyRE = regexp.MustCompile(`^federatedIdentityCredentials\(name='([^']*)'\)$`)

// applicationChild serves /v1.0/applications/{id}/{key}: the alternate key
// of a federated identity credential, or an unknown segment.
func (g *Graph) applicationChild(w http.ResponseWriter, r *http.Request, c *call) error {
	m := federatedNameKeyRE.FindStringSubmatch(r.PathValue("key"))
	if m == nil {
		return g.unknownRoute(w, r, c)
	}
	switch r.Method {
	case http.MethodGet:
		return g.getFederated(w, r, c, m[1])
	case http.MethodPatch:
		return g.updateFederated(w, r, c, m[1])
	default:
		return g.deleteFederated(w, r, c, m[1])
	}
}
