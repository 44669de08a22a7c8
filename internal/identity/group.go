package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/perimeterhq/perimeter/internal/store"
)

// maxDescription is Graph's limit on a group's description.
const maxDescription = 1024

// Group is a security group, in the shape of a Microsoft Graph group. The
// stored document (TypeGroup) is this struct as JSON.
type Group struct {
	// TenantID is the tenant the group belongs to (from its id in the
	// store, not part of the body).
	TenantID        string    `json:"-"`
	ID              string    `json:"id"`
	DisplayName     string    `json:"displayName"`
	MailNickname    string    `json:"mailNickname"`
	Description     string    `json:"description"`
	SecurityEnabled bool      `json:"securityEnabled"`
	MailEnabled     bool      `json:"mailEnabled"`
	CreatedDateTime time.Time `json:"createdDateTime"`
	// Members are the object ids of the direct members, in the order they
	// were added.
	Members []string `json:"members"`
}

// GroupInput is a new group. Groups are always security groups
// (securityEnabled true, mailEnabled false): Perimeter has no mail.
type GroupInput struct {
	DisplayName  string
	MailNickname string
	// Description is optional, at most 1024 characters.
	Description string
}

// groupDoc is a Group as stored, with the membership edits.
type groupDoc Group

// removeMember removes id from the members and reports whether it was
// there.
func (g *groupDoc) removeMember(id string) bool {
	i := slices.Index(g.Members, id)
	if i < 0 {
		return false
	}
	g.Members = slices.Delete(g.Members, i, i+1)
	return true
}

// CreateGroup creates a security group with no members.
func (d *Directory) CreateGroup(ctx context.Context, tenantID string, in GroupInput) (Group, error) {
	tenant, err := d.Tenant(ctx, tenantID)
	if err != nil {
		return Group{}, err
	}
	name, err := checkDisplayName("group", in.DisplayName)
	if err != nil {
		return Group{}, err
	}
	if err := checkMailNickname("group", in.MailNickname); err != nil {
		return Group{}, err
	}
	if utf8.RuneCountInString(in.Description) > maxDescription {
		return Group{}, refusef(ErrInvalidInput, "The description of a group is at most %d characters long.", maxDescription)
	}
	g := groupDoc{
		ID:              newGUID(),
		DisplayName:     name,
		MailNickname:    in.MailNickname,
		Description:     strings.TrimSpace(in.Description),
		SecurityEnabled: true,
		MailEnabled:     false,
		CreatedDateTime: d.now().UTC(),
		Members:         []string{},
	}
	put, err := putObject(tenant.ID, g.ID, TypeGroup, g, store.Precondition{IfNoneMatch: "*"})
	if err != nil {
		return Group{}, err
	}
	_, err = d.st.Apply(ctx, tenantExists(tenant.ID), put)
	if errors.Is(err, store.ErrPreconditionFailed) {
		return Group{}, refusef(ErrTenantNotFound, "Tenant '%s' does not exist.", tenant.ID)
	}
	if err != nil {
		return Group{}, fmt.Errorf("identity: create group: %w", err)
	}
	g.TenantID = tenant.ID
	return Group(g), nil
}

// Group returns the group with the given object id, or ErrObjectNotFound.
func (d *Directory) Group(ctx context.Context, tenantID, groupID string) (Group, error) {
	tid, doc, err := d.getObjectDoc(ctx, tenantID, groupID, TypeGroup)
	if err != nil {
		return Group{}, err
	}
	g, err := decodeGroup(tid, doc)
	return Group(g), err
}

// Groups lists the tenant's groups, ordered by object id.
func (d *Directory) Groups(ctx context.Context, tenantID string) ([]Group, error) {
	tid, docs, err := d.listObjects(ctx, tenantID, TypeGroup)
	if err != nil {
		return nil, err
	}
	out := make([]Group, 0, len(docs))
	for _, doc := range docs {
		g, err := decodeGroup(tid, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, Group(g))
	}
	return out, nil
}

// DeleteGroup deletes the group and removes it from the groups it is a
// member of, in one write. Its own members are not touched.
func (d *Directory) DeleteGroup(ctx context.Context, tenantID, groupID string) error {
	return d.deleteObject(ctx, tenantID, groupID, TypeGroup, nil)
}

// AddMember makes the user, service principal or group memberID a direct
// member of the group. The member must exist, and still exist when the
// write commits; a group cannot be its own member; adding a member twice is
// ErrMemberExists.
func (d *Directory) AddMember(ctx context.Context, tenantID, groupID, memberID string) error {
	for range maxUpdateAttempts {
		tid, gdoc, err := d.getObjectDoc(ctx, tenantID, groupID, TypeGroup)
		if err != nil {
			return err
		}
		g, err := decodeGroup(tid, gdoc)
		if err != nil {
			return err
		}
		_, mdoc, err := d.getObjectDoc(ctx, tid, memberID, "")
		if err != nil {
			return err
		}
		mid := objectIDOfDoc(mdoc.ID)
		if mid == g.ID {
			return refusef(ErrInvalidInput, "A group cannot be a member of itself: %s is the group's own id.", mid)
		}
		if slices.Contains(g.Members, mid) {
			return refusef(ErrMemberExists, "One or more added object references already exist for the following modified properties: 'members'. %s is already a member of group '%s'.", mid, g.DisplayName)
		}
		g.Members = append(g.Members, mid)
		put, err := putObject(tid, g.ID, TypeGroup, g, store.Precondition{IfMatch: gdoc.ETag})
		if err != nil {
			return err
		}
		_, err = d.st.Apply(ctx, put, store.Op{Check: mdoc.ID, If: store.Precondition{IfMatch: "*"}})
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue // the group changed or the member went away: read again
		}
		if err != nil {
			return fmt.Errorf("identity: add member to group %s: %w", g.ID, err)
		}
		return nil
	}
	return fmt.Errorf("identity: add member to group %s: gave up after %d concurrent modifications", groupID, maxUpdateAttempts)
}

// RemoveMember removes a direct member from the group; ErrNotMember if it
// is not one.
func (d *Directory) RemoveMember(ctx context.Context, tenantID, groupID, memberID string) error {
	for range maxUpdateAttempts {
		tid, gdoc, err := d.getObjectDoc(ctx, tenantID, groupID, TypeGroup)
		if err != nil {
			return err
		}
		g, err := decodeGroup(tid, gdoc)
		if err != nil {
			return err
		}
		mid, _ := canonicalGUID(memberID)
		if mid == "" || !g.removeMember(mid) {
			return refusef(ErrNotMember, "'%s' is not a direct member of group '%s' (%s).", clip(memberID), g.DisplayName, g.ID)
		}
		put, err := putObject(tid, g.ID, TypeGroup, g, store.Precondition{IfMatch: gdoc.ETag})
		if err != nil {
			return err
		}
		_, err = d.st.Apply(ctx, put)
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue
		}
		if err != nil {
			return fmt.Errorf("identity: remove member from group %s: %w", g.ID, err)
		}
		return nil
	}
	return fmt.Errorf("identity: remove member from group %s: gave up after %d concurrent modifications", groupID, maxUpdateAttempts)
}

// Members returns the group's direct members, in the order they were
// added.
func (d *Directory) Members(ctx context.Context, tenantID, groupID string) ([]DirectoryObject, error) {
	_, docs, err := d.memberDocs(ctx, tenantID, groupID)
	if err != nil {
		return nil, err
	}
	out := make([]DirectoryObject, 0, len(docs))
	for _, doc := range docs {
		o, err := describeObject(doc)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// memberDocs reads the documents of the group's direct members.
func (d *Directory) memberDocs(ctx context.Context, tenantID, groupID string) (string, []store.Document, error) {
	g, err := d.Group(ctx, tenantID, groupID)
	if err != nil {
		return "", nil, err
	}
	docs := make([]store.Document, 0, len(g.Members))
	for _, m := range g.Members {
		doc, err := d.st.Get(ctx, objectDocID(g.TenantID, m))
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the group was read
		}
		if err != nil {
			return "", nil, fmt.Errorf("identity: get member %s: %w", m, err)
		}
		docs = append(docs, doc)
	}
	return g.TenantID, docs, nil
}

// MemberOf returns, for every object that is a direct member of at least
// one group of the tenant, the ids of those groups (sorted). It reads every
// group once: authorization code builds its snapshot from it and computes
// transitive membership itself (group ids are keys too when groups are
// nested; nesting may form cycles).
func (d *Directory) MemberOf(ctx context.Context, tenantID string) (map[string][]string, error) {
	tid, docs, err := d.listObjects(ctx, tenantID, TypeGroup)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, doc := range docs {
		g, err := decodeGroup(tid, doc)
		if err != nil {
			return nil, err
		}
		for _, m := range g.Members {
			out[m] = append(out[m], g.ID)
		}
	}
	for _, groups := range out {
		slices.Sort(groups)
	}
	return out, nil
}

func decodeGroup(tenantID string, doc store.Document) (groupDoc, error) {
	var g groupDoc
	if err := json.Unmarshal(doc.Body, &g); err != nil {
		return groupDoc{}, fmt.Errorf("identity: decode %s: %w", doc.ID, err)
	}
	if g.Members == nil {
		g.Members = []string{}
	}
	g.TenantID = tenantID
	return g, nil
}
