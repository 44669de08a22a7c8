package identity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/perimeterhq/perimeter/internal/store"
)

// ObjectIdentity is one way a user signs in, in the shape of Microsoft
// Graph's objectIdentity. Perimeter keeps identities of sign-in type
// "federated": the user signs in with a token from the external OpenID
// Connect issuer Issuer whose "sub" is IssuerAssignedID (the jwt-bearer
// grant, usergrant.go), provided the operator trusts that issuer. The
// userPrincipalName sign-in is the user's userPrincipalName property, not
// an entry here.
type ObjectIdentity struct {
	SignInType string `json:"signInType"`
	// Issuer is the identity provider's issuer URL, compared exactly with
	// the token's "iss".
	Issuer string `json:"issuer"`
	// IssuerAssignedID is compared exactly with the token's "sub".
	IssuerAssignedID string `json:"issuerAssignedId"`
}

// SignInTypeFederated is the only signInType Perimeter stores.
const SignInTypeFederated = "federated"

// MaxUserIdentities bounds a user's identities: each is an index entry
// written with the user.
const MaxUserIdentities = 20

// ErrUserIdentityExists: another user already signs in with that issuer
// and issuerAssignedId. A token must select one user.
var ErrUserIdentityExists = errors.New("identity: user identity already in use")

// typeUserIdentity is the type of the index entries that map an identity
// to its user: /tenants/{tenant}/userIdentities/{key}, body
// userIdentityDoc.
const typeUserIdentity = "Microsoft.Graph/users/identities"

// userIdentityDoc is the body of a userIdentities index entry. It repeats
// the identity because the key is a hash.
type userIdentityDoc struct {
	UserID           string `json:"id"`
	Issuer           string `json:"issuer"`
	IssuerAssignedID string `json:"issuerAssignedId"`
}

// identityDocID is the index entry of an identity. Issuers and subjects
// are compared exactly (case matters) but the store lower-cases ids, so
// the key is a hash of the pair; no character of either can make two
// pairs collide, since issuers hold no control characters.
func identityDocID(tenantID string, id ObjectIdentity) string {
	sum := sha256.Sum256([]byte(id.Issuer + "\n" + id.IssuerAssignedID))
	return tenantDocID(tenantID) + "/userIdentities/" + hex.EncodeToString(sum[:])
}

// checkUserIdentities validates a user's identities and returns them with
// signInType spelled as stored. Two entries for one issuer and subject
// are refused: the second would mean nothing.
func checkUserIdentities(ids []ObjectIdentity) ([]ObjectIdentity, error) {
	if len(ids) > MaxUserIdentities {
		return nil, refusef(ErrInvalidInput, "A user has at most %d identities (%d given).", MaxUserIdentities, len(ids))
	}
	var out []ObjectIdentity // nil for none, as a decoded user without identities has
	for _, id := range ids {
		if !strings.EqualFold(id.SignInType, SignInTypeFederated) {
			return nil, refusef(ErrInvalidInput,
				"The signInType '%s' of an identity is not supported: Perimeter stores identities of signInType 'federated' (a company identity provider's issuer and the 'sub' it gives the user); a user's own sign-in name is its userPrincipalName.",
				clip(id.SignInType))
		}
		id.SignInType = SignInTypeFederated
		if err := checkIssuerURL("user identity", id.Issuer); err != nil {
			return nil, err
		}
		if err := checkExactClaim("user identity", "issuerAssignedId", id.IssuerAssignedID); err != nil {
			return nil, err
		}
		if slices.Contains(out, id) {
			return nil, refusef(ErrInvalidInput, "The identity of issuer '%s' and issuerAssignedId '%s' is listed twice.", clip(id.Issuer), clip(id.IssuerAssignedID))
		}
		out = append(out, id)
	}
	return out, nil
}

// identityIndexPuts are the ops that create the index entries of ids for
// the user; each fails the write if another user holds the identity.
func identityIndexPuts(tenantID, userID string, ids []ObjectIdentity) ([]store.Op, error) {
	ops := make([]store.Op, 0, len(ids))
	for _, id := range ids {
		body, err := json.Marshal(userIdentityDoc{UserID: userID, Issuer: id.Issuer, IssuerAssignedID: id.IssuerAssignedID})
		if err != nil {
			return nil, fmt.Errorf("identity: encode user identity index: %w", err)
		}
		ops = append(ops, store.Op{Put: &store.Document{
			ID: identityDocID(tenantID, id), Type: typeUserIdentity, Parent: tenantDocID(tenantID), Body: body,
		}, If: store.Precondition{IfNoneMatch: "*"}})
	}
	return ops, nil
}

// identityIndexDeletes are the ops that remove the index entries of ids.
func identityIndexDeletes(tenantID string, ids []ObjectIdentity) []store.Op {
	ops := make([]store.Op, 0, len(ids))
	for _, id := range ids {
		ops = append(ops, store.Op{Delete: identityDocID(tenantID, id)})
	}
	return ops
}

// identityTaken explains a failed write that added ids for the user: the
// refusal for the first identity another user holds, or nil if none is
// held (the write failed for another reason).
func (d *Directory) identityTaken(ctx context.Context, tenantID, userID string, ids []ObjectIdentity) error {
	for _, id := range ids {
		owner, err := d.identityOwner(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if owner != "" && owner != userID {
			return refusef(ErrUserIdentityExists,
				"Another object with the same value for property identities already exists: a user already signs in with issuer '%s' and issuerAssignedId '%s'.",
				clip(id.Issuer), clip(id.IssuerAssignedID))
		}
	}
	return nil
}

// identityOwner returns the object id of the user the index maps the
// identity to, "" when none.
func (d *Directory) identityOwner(ctx context.Context, tenantID string, id ObjectIdentity) (string, error) {
	doc, err := d.st.Get(ctx, identityDocID(tenantID, id))
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("identity: get user identity index: %w", err)
	}
	var entry userIdentityDoc
	if err := json.Unmarshal(doc.Body, &entry); err != nil {
		return "", fmt.Errorf("identity: decode %s: %w", doc.ID, err)
	}
	return entry.UserID, nil
}

// UserByIdentity returns the user who signs in with the federated
// identity (issuer, subject), or ErrObjectNotFound. The user is returned
// whether enabled or not: the caller decides.
func (d *Directory) UserByIdentity(ctx context.Context, tenantID, issuer, subject string) (User, error) {
	tid, ok := canonicalGUID(tenantID)
	if !ok {
		return User{}, refusef(ErrTenantNotFound, "Tenant '%s' does not exist.", clip(tenantID))
	}
	want := ObjectIdentity{SignInType: SignInTypeFederated, Issuer: issuer, IssuerAssignedID: subject}
	notFound := refusef(ErrObjectNotFound, "No user signs in with issuer '%s' and issuerAssignedId '%s'.", clip(issuer), clip(subject))
	owner, err := d.identityOwner(ctx, tid, want)
	if err != nil {
		return User{}, err
	}
	if owner == "" {
		return User{}, notFound
	}
	u, err := d.User(ctx, tid, owner)
	if errors.Is(err, ErrObjectNotFound) {
		return User{}, notFound
	}
	if err != nil {
		return User{}, err
	}
	// The index and the user are written together; checking the user all
	// the same means an entry left by any mistake grants nothing.
	if !slices.Contains(u.Identities, want) {
		return User{}, notFound
	}
	return u, nil
}

// UserPatch changes a user: nil fields stay as they are. Identities, when
// set, replaces the user's identities whole, as Graph's PATCH does.
type UserPatch struct {
	DisplayName    *string
	AccountEnabled *bool
	Identities     *[]ObjectIdentity
}

// UpdateUser changes the user (by object id or userPrincipalName) and
// returns it as changed. The user and the index entries of its identities
// change in one write guarded by the ETag read, retried when another
// writer got in between.
func (d *Directory) UpdateUser(ctx context.Context, tenantID, idOrUPN string, patch UserPatch) (User, error) {
	var name string
	var ids []ObjectIdentity
	var err error
	if patch.DisplayName != nil {
		if name, err = checkDisplayName("user", *patch.DisplayName); err != nil {
			return User{}, err
		}
	}
	if patch.Identities != nil {
		if ids, err = checkUserIdentities(*patch.Identities); err != nil {
			return User{}, err
		}
	}
	for range maxUpdateAttempts {
		tid, doc, err := d.getUserDoc(ctx, tenantID, idOrUPN)
		if err != nil {
			return User{}, err
		}
		var body userDoc
		if err := json.Unmarshal(doc.Body, &body); err != nil {
			return User{}, fmt.Errorf("identity: decode %s: %w", doc.ID, err)
		}
		var added, removed []ObjectIdentity
		if patch.DisplayName != nil {
			body.DisplayName = name
		}
		if patch.AccountEnabled != nil {
			body.AccountEnabled = *patch.AccountEnabled
		}
		if patch.Identities != nil {
			added, removed = diffIdentities(body.Identities, ids)
			body.Identities = ids
		}
		if body.PasswordHash.KDF == "" && len(body.Identities) == 0 {
			return User{}, refusef(ErrInvalidInput,
				"User %s has no password: removing all of its identities would leave it no way to sign in. Keep at least one identity.", body.UserPrincipalName)
		}
		put, err := putObject(tid, body.ID, TypeUser, body, store.Precondition{IfMatch: doc.ETag})
		if err != nil {
			return User{}, err
		}
		puts, err := identityIndexPuts(tid, body.ID, added)
		if err != nil {
			return User{}, err
		}
		ops := append(append([]store.Op{put}, identityIndexDeletes(tid, removed)...), puts...)
		_, err = d.st.Apply(ctx, ops...)
		if errors.Is(err, store.ErrPreconditionFailed) || errors.Is(err, store.ErrNotFound) {
			if taken := d.identityTaken(ctx, tid, body.ID, added); taken != nil {
				return User{}, taken
			}
			continue // a concurrent change; read again
		}
		if err != nil {
			return User{}, fmt.Errorf("identity: update user %s: %w", body.ID, err)
		}
		body.User.TenantID = tid
		return body.User, nil
	}
	return User{}, fmt.Errorf("identity: update user %s: gave up after %d concurrent modifications", clip(idOrUPN), maxUpdateAttempts)
}

// diffIdentities returns the identities in next but not in prev, and
// those in prev but not in next.
func diffIdentities(prev, next []ObjectIdentity) (added, removed []ObjectIdentity) {
	for _, id := range next {
		if !slices.Contains(prev, id) {
			added = append(added, id)
		}
	}
	for _, id := range prev {
		if !slices.Contains(next, id) {
			removed = append(removed, id)
		}
	}
	return added, removed
}
