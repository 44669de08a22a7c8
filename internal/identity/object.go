package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/perimeterhq/perimeter/internal/store"
)

// Kinds of refusal of a directory request, besides ErrTenantNotFound and
// ErrApplicationNotFound. Refusals are *RequestError values that wrap one
// of them, so errors.Is tells which it was.
var (
	// ErrObjectNotFound: no user, group or service principal with that id
	// (or of the kind asked for) in the tenant.
	ErrObjectNotFound = errors.New("identity: directory object not found")
	// ErrCredentialNotFound: the application has no password credential
	// with that key id.
	ErrCredentialNotFound = errors.New("identity: password credential not found")
	// ErrServicePrincipalExists: the application already has its service
	// principal (an application has at most one per tenant).
	ErrServicePrincipalExists = errors.New("identity: service principal already exists")
	// ErrUserPrincipalNameExists: another user has that userPrincipalName
	// (compared case-insensitively).
	ErrUserPrincipalNameExists = errors.New("identity: userPrincipalName already in use")
	// ErrMemberExists: the object is already a direct member of the group.
	ErrMemberExists = errors.New("identity: already a member")
	// ErrNotMember: the object is not a direct member of the group.
	ErrNotMember = errors.New("identity: not a member")
	// ErrWeakPassword: the password does not meet the password policy.
	ErrWeakPassword = errors.New("identity: password does not meet the policy")
	// ErrInvalidInput: a property is missing or malformed.
	ErrInvalidInput = errors.New("identity: invalid input")
)

// RequestError is a directory request refused because of what the caller
// asked: an unknown id, a duplicate, a weak password. Message says what to
// change and is safe to show the caller; Unwrap returns the kind (one of
// the Err values of this package).
type RequestError struct {
	Kind    error
	Message string
}

func (e *RequestError) Error() string { return "identity: " + e.Message }

// Unwrap returns the kind of refusal.
func (e *RequestError) Unwrap() error { return e.Kind }

func refusef(kind error, format string, args ...any) error {
	return &RequestError{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Directory object types as Graph names them in "@odata.type" (without
// the "#microsoft.graph." prefix, capitalised as Azure RBAC's
// principalType).
const (
	ObjectTypeUser             = "User"
	ObjectTypeGroup            = "Group"
	ObjectTypeServicePrincipal = "ServicePrincipal"
)

// DirectoryObject is what a role assignment needs to know of a principal.
type DirectoryObject struct {
	ID string
	// Type is ObjectTypeUser, ObjectTypeGroup or ObjectTypeServicePrincipal,
	// the values of a role assignment's principalType.
	Type        string
	DisplayName string
	// AppID is the client id of a service principal's application; "" for
	// users and groups.
	AppID string
	// UserPrincipalName is a user's sign-in name; "" for other kinds.
	UserPrincipalName string
}

func objectDocID(tenantID, objectID string) string {
	return tenantDocID(tenantID) + "/directoryObjects/" + objectID
}

// objectKinds maps stored types to object types.
var objectKinds = map[string]string{
	store.Key(TypeUser):             ObjectTypeUser,
	store.Key(TypeGroup):            ObjectTypeGroup,
	store.Key(TypeServicePrincipal): ObjectTypeServicePrincipal,
}

// kindNames names the stored types in messages.
var kindNames = map[string]string{
	TypeUser:             "user",
	TypeGroup:            "group",
	TypeServicePrincipal: "service principal",
}

// Object returns the user, group or service principal with the given object
// id, with one store read; ErrObjectNotFound if there is none. Role
// assignments use it to check their principalId and to report its
// principalType. An application's object id is not a principal (its
// service principal is), and the refusal says so.
func (d *Directory) Object(ctx context.Context, tenantID, objectID string) (DirectoryObject, error) {
	tid, doc, err := d.getObjectDoc(ctx, tenantID, objectID, "")
	if errors.Is(err, ErrObjectNotFound) {
		return DirectoryObject{}, d.explainMissingObject(ctx, tid, objectID, err)
	}
	if err != nil {
		return DirectoryObject{}, err
	}
	return describeObject(doc)
}

// explainMissingObject turns "not found" for an application's object id
// into a refusal that names the id to use instead. It reads only on this
// failure path.
func (d *Directory) explainMissingObject(ctx context.Context, tid, objectID string, notFound error) error {
	if tid == "" {
		return notFound
	}
	_, appID, err := d.appIDOf(ctx, tid, objectID)
	if err != nil {
		return notFound
	}
	app, err := d.Application(ctx, tid, appID)
	if err != nil {
		return notFound
	}
	if app.ServicePrincipalID == "" {
		return refusef(ErrObjectNotFound, "'%s' is the object id of application '%s' (appId %s), which is not a principal, and the application has no service principal yet: create one (POST /v1.0/servicePrincipals {\"appId\": \"%s\"}) and use its id.",
			app.ObjectID, app.DisplayName, app.AppID, app.AppID)
	}
	return refusef(ErrObjectNotFound, "'%s' is the object id of application '%s' (appId %s), which is not a principal: use the object id of its service principal, %s.",
		app.ObjectID, app.DisplayName, app.AppID, app.ServicePrincipalID)
}

// getObjectDoc reads a directory object, checking its type when wantType is
// not "". It returns the canonical tenant id (also with ErrObjectNotFound,
// when the tenant id was valid).
func (d *Directory) getObjectDoc(ctx context.Context, tenantID, objectID, wantType string) (string, store.Document, error) {
	tid, ok := canonicalGUID(tenantID)
	if !ok {
		return "", store.Document{}, refusef(ErrTenantNotFound, "Tenant '%s' does not exist.", clip(tenantID))
	}
	what := "user, group or service principal"
	if wantType != "" {
		what = kindNames[wantType]
	}
	oid, ok := canonicalGUID(objectID)
	if !ok {
		return tid, store.Document{}, refusef(ErrObjectNotFound, "No %s has the id '%s': an object id is a GUID.", what, clip(objectID))
	}
	doc, err := d.st.Get(ctx, objectDocID(tid, oid))
	if errors.Is(err, store.ErrNotFound) || (err == nil && wantType != "" && doc.Type != store.Key(wantType)) {
		return tid, store.Document{}, refusef(ErrObjectNotFound, "No %s has the id '%s' in this tenant.", what, oid)
	}
	if err != nil {
		return tid, store.Document{}, fmt.Errorf("identity: get directory object %s: %w", oid, err)
	}
	return tid, doc, nil
}

// objectHeader is the part of every directory object's body that
// describeObject reads.
type objectHeader struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	AppID             string `json:"appId"`
	UserPrincipalName string `json:"userPrincipalName"`
}

func describeObject(doc store.Document) (DirectoryObject, error) {
	kind, ok := objectKinds[doc.Type]
	if !ok {
		return DirectoryObject{}, fmt.Errorf("identity: %s has the unexpected type %q", doc.ID, doc.Type)
	}
	var h objectHeader
	if err := json.Unmarshal(doc.Body, &h); err != nil {
		return DirectoryObject{}, fmt.Errorf("identity: decode %s: %w", doc.ID, err)
	}
	o := DirectoryObject{ID: h.ID, Type: kind, DisplayName: h.DisplayName}
	switch kind {
	case ObjectTypeServicePrincipal:
		o.AppID = h.AppID
	case ObjectTypeUser:
		o.UserPrincipalName = h.UserPrincipalName
	}
	return o, nil
}

// listObjects returns the tenant's objects of one stored type.
func (d *Directory) listObjects(ctx context.Context, tenantID, typ string) (string, []store.Document, error) {
	tenant, err := d.Tenant(ctx, tenantID)
	if err != nil {
		return "", nil, err
	}
	docs, err := d.st.List(ctx, store.ListOptions{Type: typ, Parent: tenantDocID(tenant.ID)})
	if err != nil {
		return "", nil, fmt.Errorf("identity: list %s: %w", typ, err)
	}
	return tenant.ID, docs, nil
}

// objectDeletion returns the ops that delete a directory object and remove
// it from every group that lists it, each guarded by the ETag read here,
// and checks that the tenant's other groups are unchanged: if anything
// changes before the Apply, it fails with store.ErrPreconditionFailed and
// the caller reads again.
// It also returns the object's document as read.
func (d *Directory) objectDeletion(ctx context.Context, tenantID, objectID, wantType string) (store.Document, []store.Op, error) {
	tid, doc, err := d.getObjectDoc(ctx, tenantID, objectID, wantType)
	if err != nil {
		return store.Document{}, nil, err
	}
	ops := []store.Op{{Delete: doc.ID, If: store.Precondition{IfMatch: doc.ETag}}}
	id := objectIDOfDoc(doc.ID)
	groups, err := d.st.List(ctx, store.ListOptions{Type: TypeGroup, Parent: tenantDocID(tid)})
	if err != nil {
		return store.Document{}, nil, fmt.Errorf("identity: list groups: %w", err)
	}
	for _, g := range groups {
		if g.ID == doc.ID {
			continue // the group being deleted
		}
		var body groupDoc
		if err := json.Unmarshal(g.Body, &body); err != nil {
			return store.Document{}, nil, fmt.Errorf("identity: decode %s: %w", g.ID, err)
		}
		if !body.removeMember(id) {
			// Unchanged, but guarded all the same: a concurrent AddMember
			// of this object to it must fail the deletion (which then
			// reads again), or the group would name a deleted object.
			ops = append(ops, store.Op{Check: g.ID, If: store.Precondition{IfMatch: g.ETag}})
			continue
		}
		put, err := putObject(tid, body.ID, TypeGroup, body, store.Precondition{IfMatch: g.ETag})
		if err != nil {
			return store.Document{}, nil, err
		}
		ops = append(ops, put)
	}
	return doc, ops, nil
}

// deleteObject deletes a directory object with its memberships, plus the
// extra ops more returns for the object's document (index entries, back
// references), retrying when a concurrent change got in between.
func (d *Directory) deleteObject(ctx context.Context, tenantID, objectID, wantType string, more func(store.Document) ([]store.Op, error)) error {
	for range maxUpdateAttempts {
		doc, ops, err := d.objectDeletion(ctx, tenantID, objectID, wantType)
		if err != nil {
			return err
		}
		if more != nil {
			extra, err := more(doc)
			if err != nil {
				return err
			}
			ops = append(ops, extra...)
		}
		_, err = d.st.Apply(ctx, ops...)
		if errors.Is(err, store.ErrPreconditionFailed) || errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("identity: delete %s %s: %w", kindNames[wantType], objectID, err)
		}
		return nil
	}
	return fmt.Errorf("identity: delete %s %s: gave up after %d concurrent modifications", kindNames[wantType], objectID, maxUpdateAttempts)
}

// objectIDOfDoc is the last segment of a directory object's document id.
func objectIDOfDoc(docID string) string {
	return docID[strings.LastIndexByte(docID, '/')+1:]
}

// putObject is the op that writes a directory object's document.
func putObject(tenantID, objectID, typ string, body any, pre store.Precondition) (store.Op, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return store.Op{}, fmt.Errorf("identity: encode %s: %w", kindNames[typ], err)
	}
	return store.Op{Put: &store.Document{
		ID:     objectDocID(tenantID, objectID),
		Type:   typ,
		Parent: tenantDocID(tenantID),
		Body:   raw,
	}, If: pre}, nil
}

// maxDisplayName is Graph's limit on displayName.
const maxDisplayName = 256

func checkDisplayName(kind, name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", refusef(ErrInvalidInput, "A %s needs a displayName: give a non-empty name.", kind)
	case utf8.RuneCountInString(name) > maxDisplayName:
		return "", refusef(ErrInvalidInput, "The displayName of a %s is at most %d characters long.", kind, maxDisplayName)
	case !utf8.ValidString(name) || strings.ContainsFunc(name, isControl):
		return "", refusef(ErrInvalidInput, "The displayName of a %s must be text without control characters.", kind)
	}
	return name, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// maxMailNickname is Graph's limit on mailNickname.
const maxMailNickname = 64

// checkMailNickname applies Graph's rule: 1 to 64 ASCII characters, none of
// @ ( ) \ [ ] " ; : < > , or space.
func checkMailNickname(kind, nick string) error {
	if nick == "" {
		return refusef(ErrInvalidInput, "A %s needs a mailNickname: give a mail alias such as 'team-ai'.", kind)
	}
	if len(nick) > maxMailNickname {
		return refusef(ErrInvalidInput, "The mailNickname '%s' is longer than %d characters.", clip(nick), maxMailNickname)
	}
	for _, r := range nick {
		if r > 0x7e || r <= 0x20 || strings.ContainsRune(`@()\[]";:<>,`, r) {
			return refusef(ErrInvalidInput, "The mailNickname '%s' may contain only ASCII letters, digits and punctuation other than @ ( ) \\ [ ] \" ; : < > , and no spaces.", clip(nick))
		}
	}
	return nil
}
