package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/store"
)

var (
	// ErrInvalidUserCredentials: no user with that userPrincipalName, or a
	// wrong password. The two cases are one error on purpose (Entra's
	// AADSTS50126), so that sign-ins do not tell which users exist.
	ErrInvalidUserCredentials = errors.New("identity: invalid username or password")
	// ErrUserDisabled: the password is right but the account is disabled.
	ErrUserDisabled = errors.New("identity: user account disabled")
)

// User is a person who signs in with a password, in the shape of a
// Microsoft Graph user minus anything secret.
type User struct {
	// TenantID is the tenant the user belongs to (from its id in the
	// store, not part of the body).
	TenantID          string    `json:"-"`
	ID                string    `json:"id"`
	DisplayName       string    `json:"displayName"`
	UserPrincipalName string    `json:"userPrincipalName"`
	MailNickname      string    `json:"mailNickname"`
	AccountEnabled    bool      `json:"accountEnabled"`
	CreatedDateTime   time.Time `json:"createdDateTime"`
	// Identities are the company identity providers' identities the user
	// signs in with (useridentity.go); none for a password-only user.
	Identities []ObjectIdentity `json:"identities,omitempty"`
}

// UserInput is a new user, as POST /v1.0/users takes it.
type UserInput struct {
	DisplayName string
	// UserPrincipalName is the sign-in name, alias@domain; unique in the
	// tenant regardless of case.
	UserPrincipalName string
	// MailNickname is the mail alias Graph requires, such as "alice".
	MailNickname string
	// Password must meet the password policy (8 to 256 characters, three
	// of: lower-case, upper-case, digits, symbols). Only a salted hash of
	// it is stored. Empty is allowed only with Identities: such a user
	// signs in through a company identity provider only.
	Password string
	// AccountEnabled false (the zero value) creates a user who cannot sign
	// in until enabled.
	AccountEnabled bool
	// Identities are federated identities (issuer and subject) the user
	// signs in with; each is the user's alone.
	Identities []ObjectIdentity
}

// userDoc is the stored body: the User plus the hash of its password
// (the zero value for a user without one, which matches no password).
type userDoc struct {
	User
	PasswordHash passwordHash `json:"passwordHash"`
}

// userPrincipalNameDoc is the body of a userPrincipalNames index entry.
type userPrincipalNameDoc struct {
	ID string `json:"id"`
}

// upnDocID is the index entry of a UPN; the store lower-cases ids, which
// makes UPNs unique regardless of case.
func upnDocID(tenantID, upn string) string {
	return tenantDocID(tenantID) + "/userPrincipalNames/" + upn
}

// CreateUser creates a user, and the index entry that keeps its
// userPrincipalName unique, in one write.
func (d *Directory) CreateUser(ctx context.Context, tenantID string, in UserInput) (User, error) {
	tenant, err := d.Tenant(ctx, tenantID)
	if err != nil {
		return User{}, err
	}
	name, err := checkDisplayName("user", in.DisplayName)
	if err != nil {
		return User{}, err
	}
	upn, err := checkUserPrincipalName(in.UserPrincipalName)
	if err != nil {
		return User{}, err
	}
	if err := checkMailNickname("user", in.MailNickname); err != nil {
		return User{}, err
	}
	ids, err := checkUserIdentities(in.Identities)
	if err != nil {
		return User{}, err
	}
	var hash passwordHash
	if in.Password != "" || len(ids) == 0 {
		if err := checkPassword(in.Password); err != nil {
			return User{}, err
		}
		if hash, err = hashPassword(in.Password, d.passwordIterations); err != nil {
			return User{}, err
		}
	}
	u := User{
		ID:                newGUID(),
		DisplayName:       name,
		UserPrincipalName: upn,
		MailNickname:      in.MailNickname,
		AccountEnabled:    in.AccountEnabled,
		CreatedDateTime:   d.now().UTC(),
		Identities:        ids,
	}
	put, err := putObject(tenant.ID, u.ID, TypeUser, userDoc{User: u, PasswordHash: hash}, store.Precondition{IfNoneMatch: "*"})
	if err != nil {
		return User{}, err
	}
	idPuts, err := identityIndexPuts(tenant.ID, u.ID, ids)
	if err != nil {
		return User{}, err
	}
	index, err := json.Marshal(userPrincipalNameDoc{ID: u.ID})
	if err != nil {
		return User{}, fmt.Errorf("identity: encode userPrincipalName index: %w", err)
	}
	ops := append([]store.Op{
		tenantExists(tenant.ID),
		put,
		{Put: &store.Document{
			ID: upnDocID(tenant.ID, upn), Type: typeUserPrincipalName, Parent: tenantDocID(tenant.ID), Body: index,
		}, If: store.Precondition{IfNoneMatch: "*"}},
	}, idPuts...)
	_, err = d.st.Apply(ctx, ops...)
	if errors.Is(err, store.ErrPreconditionFailed) {
		if _, err := d.st.Get(ctx, upnDocID(tenant.ID, upn)); err == nil {
			return User{}, refusef(ErrUserPrincipalNameExists,
				"Another object with the same value for property userPrincipalName already exists: '%s' is taken (names are compared regardless of case). Choose another userPrincipalName.", upn)
		}
		if taken := d.identityTaken(ctx, tenant.ID, u.ID, ids); taken != nil {
			return User{}, taken
		}
		return User{}, refusef(ErrTenantNotFound, "Tenant '%s' does not exist.", tenant.ID)
	}
	if err != nil {
		return User{}, fmt.Errorf("identity: create user: %w", err)
	}
	u.TenantID = tenant.ID
	return u, nil
}

// User returns the user with the given object id or userPrincipalName
// (any case), or ErrObjectNotFound.
func (d *Directory) User(ctx context.Context, tenantID, idOrUPN string) (User, error) {
	tid, doc, err := d.getUserDoc(ctx, tenantID, idOrUPN)
	if err != nil {
		return User{}, err
	}
	u, _, err := decodeUser(tid, doc)
	return u, err
}

// Users lists the tenant's users, ordered by object id.
func (d *Directory) Users(ctx context.Context, tenantID string) ([]User, error) {
	tid, docs, err := d.listObjects(ctx, tenantID, TypeUser)
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(docs))
	for _, doc := range docs {
		u, _, err := decodeUser(tid, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// DeleteUser deletes the user (by object id or userPrincipalName), its
// userPrincipalName and identity index entries and its group memberships,
// in one write.
// Tokens already issued to the user stay valid until they expire, as in
// Entra.
func (d *Directory) DeleteUser(ctx context.Context, tenantID, idOrUPN string) error {
	tid, doc, err := d.getUserDoc(ctx, tenantID, idOrUPN)
	if err != nil {
		return err
	}
	return d.deleteObject(ctx, tid, objectIDOfDoc(doc.ID), TypeUser, func(doc store.Document) ([]store.Op, error) {
		u, _, err := decodeUser(tid, doc)
		if err != nil {
			return nil, err
		}
		return append([]store.Op{{Delete: upnDocID(tid, u.UserPrincipalName)}}, identityIndexDeletes(tid, u.Identities)...), nil
	})
}

// VerifyUserPassword returns the user whose userPrincipalName is username
// if password is theirs. An unknown user and a wrong password both give
// ErrInvalidUserCredentials, after the same amount of hashing; a right
// password for a disabled account gives ErrUserDisabled.
func (d *Directory) VerifyUserPassword(ctx context.Context, tenantID, username, password string) (User, error) {
	if !strings.Contains(username, "@") {
		// Users sign in with their UPN, never with their object id.
		burnPasswordHash(password, d.passwordIterations)
		return User{}, fmt.Errorf("%w: %q is not a userPrincipalName", ErrInvalidUserCredentials, clip(username))
	}
	tid, doc, err := d.getUserDoc(ctx, tenantID, username)
	if err != nil {
		burnPasswordHash(password, d.passwordIterations)
		if errors.Is(err, ErrObjectNotFound) || errors.Is(err, ErrTenantNotFound) {
			return User{}, fmt.Errorf("%w: no user %q", ErrInvalidUserCredentials, clip(username))
		}
		return User{}, err
	}
	u, hash, err := decodeUser(tid, doc)
	if err != nil {
		return User{}, err
	}
	if !hash.matches(password) {
		return User{}, fmt.Errorf("%w: wrong password for %s", ErrInvalidUserCredentials, u.UserPrincipalName)
	}
	if !u.AccountEnabled {
		return User{}, fmt.Errorf("%w: %s", ErrUserDisabled, u.UserPrincipalName)
	}
	return u, nil
}

// getUserDoc finds a user by object id or userPrincipalName.
func (d *Directory) getUserDoc(ctx context.Context, tenantID, idOrUPN string) (string, store.Document, error) {
	if isGUIDForm(idOrUPN) || !strings.Contains(idOrUPN, "@") {
		return d.getObjectDoc(ctx, tenantID, idOrUPN, TypeUser)
	}
	tid, ok := canonicalGUID(tenantID)
	if !ok {
		return "", store.Document{}, refusef(ErrTenantNotFound, "Tenant '%s' does not exist.", clip(tenantID))
	}
	upn, err := checkUserPrincipalName(idOrUPN)
	if err != nil {
		return tid, store.Document{}, refusef(ErrObjectNotFound, "No user has the userPrincipalName '%s'.", clip(idOrUPN))
	}
	idx, err := d.st.Get(ctx, upnDocID(tid, upn))
	if errors.Is(err, store.ErrNotFound) {
		return tid, store.Document{}, refusef(ErrObjectNotFound, "No user has the userPrincipalName '%s' in this tenant.", upn)
	}
	if err != nil {
		return tid, store.Document{}, fmt.Errorf("identity: get userPrincipalName index: %w", err)
	}
	var entry userPrincipalNameDoc
	if err := json.Unmarshal(idx.Body, &entry); err != nil {
		return tid, store.Document{}, fmt.Errorf("identity: decode %s: %w", idx.ID, err)
	}
	return d.getObjectDoc(ctx, tid, entry.ID, TypeUser)
}

func decodeUser(tenantID string, doc store.Document) (User, passwordHash, error) {
	var body userDoc
	if err := json.Unmarshal(doc.Body, &body); err != nil {
		return User{}, passwordHash{}, fmt.Errorf("identity: decode %s: %w", doc.ID, err)
	}
	body.User.TenantID = tenantID
	return body.User, body.PasswordHash, nil
}

// isGUIDForm reports whether s is a GUID in the 8-4-4-4-12 form.
func isGUIDForm(s string) bool {
	_, ok := canonicalGUID(s)
	return ok
}

// Limits of a userPrincipalName, as Entra sets them.
const (
	maxUPNLength      = 113
	maxUPNLocalLength = 64
)

// checkUserPrincipalName checks alias@domain as Entra does: the alias of
// letters, digits and ' . - _ ! # ^ ~ (not starting or ending with a dot,
// no two dots in a row), the domain of DNS labels. It returns the name
// with surrounding space removed.
func checkUserPrincipalName(upn string) (string, error) {
	upn = strings.TrimSpace(upn)
	const rule = "A userPrincipalName has the form alias@domain, such as alice@contoso.com: the alias of letters, digits and ' . - _ ! # ^ ~ (not starting or ending with '.'), the domain a DNS name."
	if upn == "" {
		return "", refusef(ErrInvalidInput, "A user needs a userPrincipalName. %s", rule)
	}
	local, domain, ok := strings.Cut(upn, "@")
	if !ok || local == "" || domain == "" || len(upn) > maxUPNLength || len(local) > maxUPNLocalLength ||
		!validUPNLocal(local) || !validDomain(domain) {
		return "", refusef(ErrInvalidInput, "The userPrincipalName '%s' is not valid (at most %d characters, alias at most %d). %s", clip(upn), maxUPNLength, maxUPNLocalLength, rule)
	}
	return upn, nil
}

func validUPNLocal(s string) bool {
	if strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if !isAlnum(r) && !strings.ContainsRune(`'.-_!#^~`, r) {
			return false
		}
	}
	return true
}

func validDomain(s string) bool {
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !isAlnum(r) && r != '-' {
				return false
			}
		}
	}
	return true
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}
