package identity

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func federated(issuer, id string) ObjectIdentity {
	return ObjectIdentity{SignInType: SignInTypeFederated, Issuer: issuer, IssuerAssignedID: id}
}

// TestUserIdentitiesValidation: identities that could never match a
// token, or that are not federated, are refused and nothing is written.
func TestUserIdentitiesValidation(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		ids     []ObjectIdentity
		mention string
	}{
		{"http issuer", []ObjectIdentity{federated("http://idp.example", "a")}, "https URL"},
		{"issuer with query", []ObjectIdentity{federated("https://idp.example?x=1", "a")}, "https URL"},
		{"not a URL", []ObjectIdentity{federated("idp.example", "a")}, "https URL"},
		{"empty issuerAssignedId", []ObjectIdentity{federated("https://idp.example", "")}, "non-empty 'issuerAssignedId'"},
		{"issuerAssignedId with spaces", []ObjectIdentity{federated("https://idp.example", " a")}, "surrounding spaces"},
		{"issuerAssignedId too long", []ObjectIdentity{federated("https://idp.example", strings.Repeat("a", maxFederationValue+1))}, "at most"},
		{"other signInType", []ObjectIdentity{{SignInType: "emailAddress", Issuer: "https://idp.example", IssuerAssignedID: "a@b.c"}}, "'federated'"},
		{"listed twice", []ObjectIdentity{federated("https://idp.example", "a"), federated("https://idp.example", "a")}, "twice"},
		{"too many", func() []ObjectIdentity {
			var ids []ObjectIdentity
			for i := range MaxUserIdentities + 1 {
				ids = append(ids, federated("https://idp.example", strings.Repeat("x", i+1)))
			}
			return ids
		}(), "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := env.st.Revision(ctx)
			in := alice()
			in.Identities = tt.ids
			_, err := env.dir.CreateUser(ctx, env.tenant, in)
			var re *RequestError
			if !errors.Is(err, ErrInvalidInput) || !errors.As(err, &re) || !strings.Contains(re.Message, tt.mention) {
				t.Fatalf("CreateUser: %v, want ErrInvalidInput mentioning %q", err, tt.mention)
			}
			if after, _ := env.st.Revision(ctx); after != before {
				t.Error("a refused user was written")
			}
		})
	}
	// signInType is matched regardless of case and stored as Graph spells it.
	in := alice()
	in.Identities = []ObjectIdentity{{SignInType: "Federated", Issuer: "https://idp.example", IssuerAssignedID: "a"}}
	u, err := env.dir.CreateUser(ctx, env.tenant, in)
	if err != nil || !reflect.DeepEqual(u.Identities, []ObjectIdentity{federated("https://idp.example", "a")}) {
		t.Errorf("CreateUser = %+v, %v", u.Identities, err)
	}
}

// TestUserIdentitiesUnique: an identity belongs to one user at a time,
// through create, update and delete, and UserByIdentity follows it.
func TestUserIdentitiesUnique(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	idA, idB := federated("https://idp.example", "sub-a"), federated("https://idp.example", "sub-b")
	in := alice()
	in.Password, in.Identities = "", []ObjectIdentity{idA}
	a, err := env.dir.CreateUser(ctx, env.tenant, in)
	if err != nil {
		t.Fatal(err)
	}
	bob := UserInput{DisplayName: "Bob", UserPrincipalName: "bob@contoso.com", MailNickname: "bob", Password: "Bobs-Secret-1", AccountEnabled: true}

	// Another user cannot take it, on create or on update, and nothing is written.
	taken := bob
	taken.Identities = []ObjectIdentity{idB, idA}
	before, _ := env.st.Revision(ctx)
	if _, err := env.dir.CreateUser(ctx, env.tenant, taken); !errors.Is(err, ErrUserIdentityExists) {
		t.Fatalf("second user with the identity: %v", err)
	}
	if after, _ := env.st.Revision(ctx); after != before {
		t.Error("the refused user was written")
	}
	b, err := env.dir.CreateUser(ctx, env.tenant, bob)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.dir.UpdateUser(ctx, env.tenant, b.ID, UserPatch{Identities: &[]ObjectIdentity{idA}}); !errors.Is(err, ErrUserIdentityExists) {
		t.Fatalf("update to a taken identity: %v", err)
	}
	// Case matters: another case of the subject is another identity.
	other := federated("https://idp.example", "SUB-A")
	if _, err := env.dir.UpdateUser(ctx, env.tenant, b.ID, UserPatch{Identities: &[]ObjectIdentity{other}}); err != nil {
		t.Fatalf("identity differing in case: %v", err)
	}
	if got, err := env.dir.UserByIdentity(ctx, env.tenant, idA.Issuer, idA.IssuerAssignedID); err != nil || got.ID != a.ID {
		t.Errorf("UserByIdentity(sub-a) = %s, %v; want alice", got.ID, err)
	}

	// Alice moves to sub-b: sub-a is free for Bob, and is no longer hers.
	if _, err := env.dir.UpdateUser(ctx, env.tenant, a.ID, UserPatch{Identities: &[]ObjectIdentity{idB}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.dir.UserByIdentity(ctx, env.tenant, idA.Issuer, idA.IssuerAssignedID); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("released identity still maps to a user: %v", err)
	}
	if _, err := env.dir.UpdateUser(ctx, env.tenant, b.ID, UserPatch{Identities: &[]ObjectIdentity{idA, other}}); err != nil {
		t.Fatalf("taking the released identity: %v", err)
	}
	if got, err := env.dir.UserByIdentity(ctx, env.tenant, idA.Issuer, idA.IssuerAssignedID); err != nil || got.ID != b.ID {
		t.Errorf("UserByIdentity(sub-a) = %s, %v; want bob", got.ID, err)
	}

	// Alice has no password: she keeps at least one identity.
	if _, err := env.dir.UpdateUser(ctx, env.tenant, a.ID, UserPatch{Identities: &[]ObjectIdentity{}}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("removing the only way to sign in: %v", err)
	}
	// Deleting Bob frees his identities.
	if err := env.dir.DeleteUser(ctx, env.tenant, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := env.dir.UserByIdentity(ctx, env.tenant, idA.Issuer, idA.IssuerAssignedID); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("a deleted user's identity still maps: %v", err)
	}
	again := bob
	again.UserPrincipalName, again.Identities = "bob2@contoso.com", []ObjectIdentity{idA, other}
	if _, err := env.dir.CreateUser(ctx, env.tenant, again); err != nil {
		t.Errorf("reusing a deleted user's identities: %v", err)
	}
	// A user without a password needs an identity from the start.
	in = alice()
	in.UserPrincipalName, in.Password = "nopass@contoso.com", ""
	if _, err := env.dir.CreateUser(ctx, env.tenant, in); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("user with neither password nor identity: %v", err)
	}
}

// TestGraphUserIdentities: identities through POST, GET and PATCH
// /v1.0/users, as Graph shapes them.
func TestGraphUserIdentities(t *testing.T) {
	env := newGraphEnv(t, nil)
	ident := map[string]any{"signInType": "federated", "issuer": "https://idp.example", "issuerAssignedId": "carol-sub"}
	rec, created := env.call(t, http.MethodPost, "/v1.0/users", map[string]any{
		"accountEnabled": true, "displayName": "Carol", "mailNickname": "carol", "userPrincipalName": "carol@contoso.com",
		"identities": []any{ident},
	})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %v", rec.Code, created)
	}
	id := created["id"].(string)
	_, got := env.call(t, http.MethodGet, "/v1.0/users/"+id, nil)
	if !reflect.DeepEqual(got["identities"], []any{ident}) {
		t.Errorf("identities %v", got["identities"])
	}
	// A user without identities shows an empty collection, as Graph does.
	_, alice := env.call(t, http.MethodGet, "/v1.0/users/"+env.user.ID, nil)
	if ids, ok := alice["identities"].([]any); !ok || len(ids) != 0 {
		t.Errorf("alice's identities %v", alice["identities"])
	}

	// PATCH replaces them and answers 204.
	moved := map[string]any{"signInType": "federated", "issuer": "https://idp.example", "issuerAssignedId": "carol-2"}
	rec, body := env.call(t, http.MethodPatch, "/v1.0/users/carol@contoso.com", map[string]any{"identities": []any{moved}, "displayName": "Carol C."})
	if rec.Code != http.StatusNoContent {
		t.Fatalf("patch: %d %v", rec.Code, body)
	}
	_, got = env.call(t, http.MethodGet, "/v1.0/users/"+id, nil)
	if !reflect.DeepEqual(got["identities"], []any{moved}) || got["displayName"] != "Carol C." {
		t.Errorf("after patch %v", got)
	}

	tests := []struct {
		name, method, path string
		body               any
		status             int
		code, mention      string
	}{
		{"taken by another user", http.MethodPatch, "/v1.0/users/" + env.user.ID, map[string]any{"identities": []any{moved}}, 400, "Request_BadRequest", "same value for property identities"},
		{"unknown identity property", http.MethodPatch, "/v1.0/users/" + env.user.ID,
			map[string]any{"identities": []any{map[string]any{"signInType": "federated", "issuer": "https://idp.example", "issuerAssignedId": "x", "tenant": "y"}}},
			400, "Request_BadRequest", "'tenant' does not exist"},
		{"identity missing issuer", http.MethodPatch, "/v1.0/users/" + env.user.ID,
			map[string]any{"identities": []any{map[string]any{"signInType": "federated", "issuerAssignedId": "x"}}}, 400, "Request_BadRequest", "'issuer'"},
		{"identities not an array", http.MethodPatch, "/v1.0/users/" + env.user.ID, map[string]any{"identities": "x"}, 400, "Request_BadRequest", "objectIdentity"},
		{"http issuer", http.MethodPatch, "/v1.0/users/" + env.user.ID,
			map[string]any{"identities": []any{map[string]any{"signInType": "federated", "issuer": "http://idp.example", "issuerAssignedId": "x"}}}, 400, "Request_BadRequest", "https URL"},
		{"property PATCH does not change", http.MethodPatch, "/v1.0/users/" + env.user.ID, map[string]any{"userPrincipalName": "x@contoso.com"}, 400, "Request_BadRequest", "userPrincipalName"},
		{"unknown user", http.MethodPatch, "/v1.0/users/66666666-6666-6666-6666-666666666666", map[string]any{"accountEnabled": false}, 404, "Request_ResourceNotFound", "66666666"},
		{"no password and no identity", http.MethodPost, "/v1.0/users", map[string]any{
			"accountEnabled": true, "displayName": "Dan", "mailNickname": "dan", "userPrincipalName": "dan@contoso.com", "identities": []any{},
		}, 400, "Request_BadRequest", "'passwordProfile'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.checkRefused(t, tt.method, tt.path, tt.body, tt.status, tt.code, tt.mention)
		})
	}
}
