package cognitive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// Codes of refused projects.
const (
	CodeProjectManagementNotEnabled = "ProjectManagementNotEnabled"
	CodeProjectLocationMismatch     = "ProjectLocationMismatch"
)

// projectProperties are a project's properties as stored and served.
// endpoints and isDefault are read-only.
type projectProperties struct {
	DisplayName string            `json:"displayName,omitempty"`
	Description string            `json:"description,omitempty"`
	Endpoints   map[string]string `json:"endpoints,omitempty"`
	IsDefault   bool              `json:"isDefault"`
}

// projects are Microsoft.CognitiveServices/accounts/projects: Foundry
// projects, containers for access management and isolation inside an
// account that allows them (allowProjectManagement).
type projects struct{ *provider }

func (*projects) Spec() arm.Spec {
	return arm.Spec{
		Type: TypeProjects, APIVersions: projectAPIVersions(), ParentType: TypeAccounts,
		Location: arm.LocationRequired, Tracked: true, Name: nameRule(), BodyETag: true,
		// The SDK's delete poller accepts only 202 and 204.
		AsyncProvisioning: true, AsyncDelete: true, DeleteNoContent: true,
	}
}

// Prepare validates a project and decides whether it is its account's
// default project.
//
// The first project of an account is its default. Which project that is
// is recorded below the account, at {accountId}/%defaultProject, claimed
// with If-None-Match "*" in the project's own Apply — so of two first
// projects racing, exactly one commits as the default — and taken over,
// conditionally on its ETag, by the next project written after the default
// project was deleted. (The record lives below the account rather than in
// its body because a child's write asserts at commit that its parent is
// unchanged, and so cannot rewrite the parent.)
func (p *projects) Prepare(ctx context.Context, w *arm.Write) error {
	acct := w.Parent
	var ap accountProperties
	if err := json.Unmarshal(acct.Properties, &ap); err != nil {
		return fmt.Errorf("account %s: %w", acct.ID, err)
	}
	if !ap.AllowProjectManagement {
		return arm.BadRequest(CodeProjectManagementNotEnabled,
			"The account '%s' does not allow projects. Set properties.allowProjectManagement to true on the account (kind 'AIServices') first.", acct.Name)
	}
	if w.New.Location != acct.Location {
		return arm.InvalidProperty(CodeProjectLocationMismatch, "location",
			"A project is in its account's location: use location '%s', not '%s'.", acct.Location, w.New.Location)
	}
	var in projectProperties
	if err := arm.DecodeProperties(w.New.Properties, &in); err != nil {
		return err
	}
	name := w.New.Name
	isDefault, claim, err := p.defaultProject(ctx, acct.ID, name)
	if err != nil {
		return err
	}
	if claim != nil {
		w.Ops = append(w.Ops, *claim)
	}
	ident, err := p.resolveIdentity(ctx, w)
	if err != nil {
		return err
	}
	out := projectProperties{
		DisplayName: in.DisplayName,
		Description: in.Description,
		Endpoints:   p.projectEndpoints(ap.CustomSubDomainName, name),
		IsDefault:   isDefault,
	}
	props, err := marshalProps(out)
	if err != nil {
		return err
	}
	w.New.Properties, w.New.Identity, w.New.Kind, w.New.SKU, w.New.ManagedBy = props, ident.identity, "", nil, ""
	w.Ops = append(w.Ops, ident.ops...)
	return nil
}

// Provision completes a project; nothing is slow (see accounts.Provision).
func (*projects) Provision(context.Context, *arm.Resource) (json.RawMessage, error) {
	return nil, nil
}

const typeDefaultProject = "Perimeter/defaultProject"

func defaultProjectID(accountID string) string { return store.Key(accountID) + "/%defaultProject" }

// defaultProject says whether project is (or becomes) its account's
// default, with the op that claims the default when it becomes it.
func (p *projects) defaultProject(ctx context.Context, accountID, project string) (bool, *store.Op, error) {
	var cur struct {
		Project string `json:"project"`
	}
	pre := store.Precondition{IfNoneMatch: "*"}
	doc, err := p.store().Get(ctx, defaultProjectID(accountID))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return false, nil, fmt.Errorf("read default project of %s: %w", accountID, err)
	default:
		if err := json.Unmarshal(doc.Body, &cur); err != nil {
			return false, nil, fmt.Errorf("default project of %s: %w", accountID, err)
		}
		if strings.EqualFold(cur.Project, project) {
			return true, nil, nil
		}
		_, err := p.store().Get(ctx, accountID+"/projects/"+cur.Project)
		if err == nil {
			return false, nil, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return false, nil, err
		}
		pre = store.Precondition{IfMatch: doc.ETag} // the default was deleted: take over
	}
	body, err := json.Marshal(map[string]string{"project": project})
	if err != nil {
		return false, nil, err
	}
	return true, &store.Op{Put: &store.Document{ID: defaultProjectID(accountID), Type: typeDefaultProject, Parent: store.Key(accountID), Body: body}, If: pre}, nil
}
