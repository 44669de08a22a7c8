package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/perimeterhq/perimeter/internal/store"
)

// alice is a valid user; tests change one field at a time.
func alice() UserInput {
	return UserInput{DisplayName: "Alice Example", UserPrincipalName: "alice@contoso.com", MailNickname: "alice",
		Password: "Correct-Horse-9", AccountEnabled: true}
}

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	u, err := env.dir.CreateUser(ctx, env.tenant, alice())
	if err != nil {
		t.Fatal(err)
	}
	want := User{TenantID: env.tenant, ID: u.ID, DisplayName: "Alice Example", UserPrincipalName: "alice@contoso.com",
		MailNickname: "alice", AccountEnabled: true, CreatedDateTime: env.clock.Now()}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("user %+v\nwant %+v", u, want)
	}
	doc, err := env.st.Get(ctx, "/tenants/"+env.tenant+"/directoryObjects/"+u.ID)
	if err != nil || doc.Type != store.Key(TypeUser) {
		t.Fatalf("user document: %+v %v", doc, err)
	}
	for _, lookup := range []string{u.ID, strings.ToUpper(u.ID), "alice@contoso.com", "ALICE@Contoso.COM"} {
		if got, err := env.dir.User(ctx, env.tenant, lookup); err != nil || !reflect.DeepEqual(got, u) {
			t.Errorf("User(%q) = %+v, %v", lookup, got, err)
		}
	}

	mutate := func(f func(*UserInput)) UserInput {
		in := alice()
		in.UserPrincipalName = "someone@contoso.com"
		f(&in)
		return in
	}
	tests := []struct {
		name    string
		in      UserInput
		wantErr error
		mention string
	}{
		{"same UPN", alice(), ErrUserPrincipalNameExists, "alice@contoso.com"},
		{"same UPN in other case", mutate(func(in *UserInput) { in.UserPrincipalName = "Alice@CONTOSO.com" }), ErrUserPrincipalNameExists, "regardless of case"},
		{"no display name", mutate(func(in *UserInput) { in.DisplayName = " " }), ErrInvalidInput, "displayName"},
		{"no UPN", mutate(func(in *UserInput) { in.UserPrincipalName = "" }), ErrInvalidInput, "alias@domain"},
		{"UPN without domain", mutate(func(in *UserInput) { in.UserPrincipalName = "bob" }), ErrInvalidInput, "alias@domain"},
		{"UPN with two @", mutate(func(in *UserInput) { in.UserPrincipalName = "bob@x@contoso.com" }), ErrInvalidInput, "not valid"},
		{"UPN with a slash", mutate(func(in *UserInput) { in.UserPrincipalName = "bob/../x@contoso.com" }), ErrInvalidInput, "not valid"},
		{"UPN alias ends with dot", mutate(func(in *UserInput) { in.UserPrincipalName = "bob.@contoso.com" }), ErrInvalidInput, "not valid"},
		{"UPN with space", mutate(func(in *UserInput) { in.UserPrincipalName = "bob smith@contoso.com" }), ErrInvalidInput, "not valid"},
		{"UPN domain label", mutate(func(in *UserInput) { in.UserPrincipalName = "bob@-contoso.com" }), ErrInvalidInput, "not valid"},
		{"UPN too long", mutate(func(in *UserInput) { in.UserPrincipalName = strings.Repeat("b", 65) + "@contoso.com" }), ErrInvalidInput, "at most"},
		{"no mail nickname", mutate(func(in *UserInput) { in.MailNickname = "" }), ErrInvalidInput, "mailNickname"},
		{"mail nickname with space", mutate(func(in *UserInput) { in.MailNickname = "bob smith" }), ErrInvalidInput, "mailNickname"},
		{"mail nickname with @", mutate(func(in *UserInput) { in.MailNickname = "bob@x" }), ErrInvalidInput, "mailNickname"},
		{"short password", mutate(func(in *UserInput) { in.Password = "Ab1!" }), ErrWeakPassword, "8 to 256"},
		{"two classes", mutate(func(in *UserInput) { in.Password = "abcdefgh123" }), ErrWeakPassword, "upper-case letters or symbols"},
		{"non-ASCII password", mutate(func(in *UserInput) { in.Password = "Pässwort-123" }), ErrWeakPassword, "ASCII"},
		{"unknown tenant", alice(), ErrTenantNotFound, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := env.tenant
			if tt.wantErr == ErrTenantNotFound {
				tenant = "44444444-4444-4444-4444-444444444444"
			}
			before, _ := env.st.Revision(ctx)
			_, err := env.dir.CreateUser(ctx, tenant, tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var re *RequestError
			if !errors.As(err, &re) || !strings.Contains(re.Message, tt.mention) {
				t.Errorf("message %q does not mention %q", err, tt.mention)
			}
			if after, _ := env.st.Revision(ctx); after != before {
				t.Error("a refused create wrote to the store")
			}
		})
	}
	users, err := env.dir.Users(ctx, env.tenant)
	if err != nil || len(users) != 1 {
		t.Errorf("Users = %+v, %v", users, err)
	}
}

func TestPasswordPolicy(t *testing.T) {
	tests := []struct {
		password string
		ok       bool
	}{
		{"Abcdefg1", true},
		{"abcdefg1!", true},
		{"ABCDEFG1!", true},
		{"Abcdefg!", true},
		{"Pass word 1", true},
		{"abcdefgh", false},
		{"abcdefg1", false},
		{"ABCDEFGH", false},
		{"12345678", false},
		{"Abc1!", false},
		{strings.Repeat("Ab1!", 64), true},
		{strings.Repeat("Ab1!", 64) + "x", false},
		{"Abcdefg1\t", false},
		{"Abcdéfg1", false},
	}
	for _, tt := range tests {
		err := checkPassword(tt.password)
		if (err == nil) != tt.ok {
			t.Errorf("checkPassword(%q) = %v, want ok %v", tt.password, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrWeakPassword) {
			t.Errorf("checkPassword(%q) = %v, not ErrWeakPassword", tt.password, err)
		}
	}
}

func TestVerifyUserPassword(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	u, err := env.dir.CreateUser(ctx, env.tenant, alice())
	if err != nil {
		t.Fatal(err)
	}
	off := alice()
	off.UserPrincipalName, off.MailNickname, off.AccountEnabled = "off@contoso.com", "off", false
	if _, err := env.dir.CreateUser(ctx, env.tenant, off); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tenant, username, password string
		wantErr                          error
	}{
		{"right password", env.tenant, "alice@contoso.com", "Correct-Horse-9", nil},
		{"username in other case", env.tenant, "ALICE@contoso.com", "Correct-Horse-9", nil},
		{"wrong password", env.tenant, "alice@contoso.com", "Correct-Horse-8", ErrInvalidUserCredentials},
		{"password in other case", env.tenant, "alice@contoso.com", "correct-horse-9", ErrInvalidUserCredentials},
		{"unknown user", env.tenant, "bob@contoso.com", "Correct-Horse-9", ErrInvalidUserCredentials},
		{"object id instead of UPN", env.tenant, u.ID, "Correct-Horse-9", ErrInvalidUserCredentials},
		{"malformed username", env.tenant, "a@b@c", "Correct-Horse-9", ErrInvalidUserCredentials},
		{"other tenant", "44444444-4444-4444-4444-444444444444", "alice@contoso.com", "Correct-Horse-9", ErrInvalidUserCredentials},
		{"disabled, right password", env.tenant, "off@contoso.com", "Correct-Horse-9", ErrUserDisabled},
		{"disabled, wrong password", env.tenant, "off@contoso.com", "wrong", ErrInvalidUserCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := env.dir.VerifyUserPassword(ctx, tt.tenant, tt.username, tt.password)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !reflect.DeepEqual(got, u) {
				t.Errorf("user %+v, want %+v", got, u)
			}
		})
	}
}

// TestPasswordsNeverStored: the password appears in no document or change,
// in any encoding; what is stored is a PBKDF2 hash with its own salt.
func TestPasswordsNeverStored(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	in := alice()
	u, err := env.dir.CreateUser(ctx, env.tenant, in)
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := env.st.List(ctx, store.ListOptions{})
	changes, _ := env.st.Changes(ctx, 0, 0)
	var stored []string
	for _, d := range docs {
		stored = append(stored, string(d.Body))
	}
	for _, c := range changes {
		stored = append(stored, string(c.Body))
	}
	forms := []string{in.Password, base64.StdEncoding.EncodeToString([]byte(in.Password)), base64.RawURLEncoding.EncodeToString([]byte(in.Password))}
	for _, body := range stored {
		for _, f := range forms {
			if strings.Contains(body, f) {
				t.Fatalf("the password appears in the store: %s", body)
			}
		}
	}
	doc, _ := env.st.Get(ctx, objectDocID(env.tenant, u.ID))
	var body userDoc
	if err := json.Unmarshal(doc.Body, &body); err != nil {
		t.Fatal(err)
	}
	h := body.PasswordHash
	if h.KDF != passwordKDF || h.Iterations != testPasswordIterations || len(h.Salt) != saltBytes || len(h.Hash) != passwordHashBytes {
		t.Errorf("stored hash %+v", h)
	}
	if !h.matches(in.Password) || h.matches(in.Password+"x") {
		t.Error("the stored hash does not verify the password (only)")
	}
	// The cost travels with the hash: a directory with another default
	// still verifies it.
	d := NewDirectory(env.st)
	if _, err := d.VerifyUserPassword(ctx, env.tenant, in.UserPrincipalName, in.Password); err != nil {
		t.Errorf("a hash made with another cost does not verify: %v", err)
	}
	if d.passwordIterations != 600_000 {
		t.Errorf("default cost %d, want 600000", d.passwordIterations)
	}
	out, _ := json.Marshal(u)
	if strings.Contains(string(out), "hash") || strings.Contains(string(out), "salt") {
		t.Errorf("User JSON carries secret material: %s", out)
	}
}

func TestDeleteUser(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	u, _ := env.dir.CreateUser(ctx, env.tenant, alice())
	g, _ := env.dir.CreateGroup(ctx, env.tenant, GroupInput{DisplayName: "devs", MailNickname: "devs"})
	if err := env.dir.AddMember(ctx, env.tenant, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	before, _ := env.st.Revision(ctx)
	if err := env.dir.DeleteUser(ctx, env.tenant, "Alice@Contoso.com"); err != nil {
		t.Fatal(err)
	}
	if changes, _ := env.st.Changes(ctx, before, 0); len(changes) != 3 {
		t.Errorf("%d changes, want user, UPN index and group in one write", len(changes))
	}
	if _, err := env.dir.User(ctx, env.tenant, u.ID); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("deleted user: %v", err)
	}
	if g, _ := env.dir.Group(ctx, env.tenant, g.ID); len(g.Members) != 0 {
		t.Errorf("deleted user still a member: %v", g.Members)
	}
	// The UPN is free again.
	if _, err := env.dir.CreateUser(ctx, env.tenant, alice()); err != nil {
		t.Errorf("re-creating a deleted user's UPN: %v", err)
	}
	for _, id := range []string{u.ID, "bob@contoso.com", g.ID, env.sp.ID, "nonsense"} {
		if err := env.dir.DeleteUser(ctx, env.tenant, id); !errors.Is(err, ErrObjectNotFound) {
			t.Errorf("DeleteUser(%q): err = %v, want ErrObjectNotFound", id, err)
		}
	}
}

// TestUsersWithOneUPNConcurrently: concurrent creates of one UPN leave
// exactly one user, and no orphaned document.
func TestUsersWithOneUPNConcurrently(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = env.dir.CreateUser(ctx, env.tenant, alice()) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, ErrUserPrincipalNameExists) {
			t.Errorf("unexpected error %v", err)
		}
	}
	users, _ := env.dir.Users(ctx, env.tenant)
	if ok != 1 || len(users) != 1 {
		t.Errorf("%d creates succeeded and %d users exist; want 1 and 1", ok, len(users))
	}
}
