package identity

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/perimeterhq/perimeter/internal/store"
)

// dirFixture is a tenant with a user, a service principal and groups.
type dirFixture struct {
	*testEnv
	user          User
	admins, devs  Group
	otherTenantSP ServicePrincipal
}

func newDirFixture(t *testing.T) *dirFixture {
	t.Helper()
	ctx := context.Background()
	f := &dirFixture{testEnv: newTestEnv(t)}
	var err error
	if f.user, err = f.dir.CreateUser(ctx, f.tenant, alice()); err != nil {
		t.Fatal(err)
	}
	if f.admins, err = f.dir.CreateGroup(ctx, f.tenant, GroupInput{DisplayName: "Admins", MailNickname: "admins", Description: "people who administer"}); err != nil {
		t.Fatal(err)
	}
	if f.devs, err = f.dir.CreateGroup(ctx, f.tenant, GroupInput{DisplayName: "Devs", MailNickname: "devs"}); err != nil {
		t.Fatal(err)
	}
	other, _ := f.dir.EnsureTenant(ctx, "88888888-8888-8888-8888-888888888888", "Other")
	app, _ := f.dir.CreateApplication(ctx, other.ID, "foreign")
	if f.otherTenantSP, err = f.dir.CreateServicePrincipal(ctx, other.ID, app.AppID); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCreateGroup(t *testing.T) {
	ctx := context.Background()
	f := newDirFixture(t)
	g := f.admins
	want := Group{TenantID: f.tenant, ID: g.ID, DisplayName: "Admins", MailNickname: "admins", Description: "people who administer",
		SecurityEnabled: true, MailEnabled: false, CreatedDateTime: f.clock.Now(), Members: []string{}}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("group %+v\nwant %+v", g, want)
	}
	doc, err := f.st.Get(ctx, "/tenants/"+f.tenant+"/directoryObjects/"+g.ID)
	if err != nil || doc.Type != store.Key(TypeGroup) || doc.Parent != "/tenants/"+f.tenant {
		t.Fatalf("group document %+v %v", doc, err)
	}
	if got, err := f.dir.Group(ctx, f.tenant, g.ID); err != nil || !reflect.DeepEqual(got, g) {
		t.Errorf("Group = %+v, %v", got, err)
	}
	tests := []struct {
		name    string
		tenant  string
		in      GroupInput
		mention string
	}{
		{"no display name", f.tenant, GroupInput{MailNickname: "x"}, "displayName"},
		{"no mail nickname", f.tenant, GroupInput{DisplayName: "x"}, "mailNickname"},
		{"bad mail nickname", f.tenant, GroupInput{DisplayName: "x", MailNickname: "a b"}, "mailNickname"},
		{"long description", f.tenant, GroupInput{DisplayName: "x", MailNickname: "x", Description: strings.Repeat("d", 1025)}, "description"},
		{"long display name", f.tenant, GroupInput{DisplayName: strings.Repeat("n", 257), MailNickname: "x"}, "256"},
		{"control character", f.tenant, GroupInput{DisplayName: "a\nb", MailNickname: "x"}, "control"},
		{"unknown tenant", "44444444-4444-4444-4444-444444444444", GroupInput{DisplayName: "x", MailNickname: "x"}, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.dir.CreateGroup(ctx, tt.tenant, tt.in)
			var re *RequestError
			if !errors.As(err, &re) || !strings.Contains(re.Message, tt.mention) {
				t.Errorf("err = %v, want a refusal mentioning %q", err, tt.mention)
			}
		})
	}
	groups, err := f.dir.Groups(ctx, f.tenant)
	if err != nil || len(groups) != 2 {
		t.Errorf("Groups = %+v, %v", groups, err)
	}
}

func TestMembership(t *testing.T) {
	ctx := context.Background()
	f := newDirFixture(t)
	// admins: user, sp, devs; devs: user.
	for _, m := range []struct{ group, member string }{
		{f.admins.ID, f.user.ID}, {f.admins.ID, f.sp.ID}, {f.admins.ID, strings.ToUpper(f.devs.ID)}, {f.devs.ID, f.user.ID},
	} {
		if err := f.dir.AddMember(ctx, f.tenant, m.group, m.member); err != nil {
			t.Fatalf("AddMember(%s, %s): %v", m.group, m.member, err)
		}
	}
	tests := []struct {
		name, group, member string
		wantErr             error
	}{
		{"member twice", f.admins.ID, f.user.ID, ErrMemberExists},
		{"group in itself", f.devs.ID, f.devs.ID, ErrInvalidInput},
		{"unknown member", f.devs.ID, "66666666-6666-6666-6666-666666666666", ErrObjectNotFound},
		{"member id not a GUID", f.devs.ID, "alice@contoso.com", ErrObjectNotFound},
		{"member of another tenant", f.devs.ID, f.otherTenantSP.ID, ErrObjectNotFound},
		{"application object id", f.devs.ID, f.app.ObjectID, ErrObjectNotFound},
		{"unknown group", "66666666-6666-6666-6666-666666666666", f.user.ID, ErrObjectNotFound},
		{"group that is a user", f.user.ID, f.sp.ID, ErrObjectNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := f.st.Revision(ctx)
			err := f.dir.AddMember(ctx, f.tenant, tt.group, tt.member)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if after, _ := f.st.Revision(ctx); after != before {
				t.Error("a refused add wrote to the store")
			}
		})
	}

	members, err := f.dir.Members(ctx, f.tenant, f.admins.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []DirectoryObject{
		{ID: f.user.ID, Type: "User", DisplayName: "Alice Example", UserPrincipalName: "alice@contoso.com"},
		{ID: f.sp.ID, Type: "ServicePrincipal", DisplayName: "test app", AppID: f.app.AppID},
		{ID: f.devs.ID, Type: "Group", DisplayName: "Devs"},
	}
	if !reflect.DeepEqual(members, want) {
		t.Errorf("Members = %+v\nwant %+v", members, want)
	}
	memberOf, err := f.dir.MemberOf(ctx, f.tenant)
	if err != nil {
		t.Fatal(err)
	}
	wantOf := map[string][]string{
		f.user.ID: sorted(f.admins.ID, f.devs.ID),
		f.sp.ID:   {f.admins.ID},
		f.devs.ID: {f.admins.ID},
	}
	if !reflect.DeepEqual(memberOf, wantOf) {
		t.Errorf("MemberOf = %v\nwant %v", memberOf, wantOf)
	}

	// Removing.
	if err := f.dir.RemoveMember(ctx, f.tenant, f.admins.ID, strings.ToUpper(f.sp.ID)); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{f.sp.ID, "x", f.admins.ID} {
		if err := f.dir.RemoveMember(ctx, f.tenant, f.admins.ID, m); !errors.Is(err, ErrNotMember) {
			t.Errorf("RemoveMember(%s): err = %v, want ErrNotMember", m, err)
		}
	}
	if err := f.dir.RemoveMember(ctx, f.tenant, f.user.ID, f.sp.ID); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("RemoveMember from a user: err = %v", err)
	}

	// Deleting a group removes it from the groups it is in.
	if err := f.dir.DeleteGroup(ctx, f.tenant, f.devs.ID); err != nil {
		t.Fatal(err)
	}
	memberOf, _ = f.dir.MemberOf(ctx, f.tenant)
	if want := map[string][]string{f.user.ID: {f.admins.ID}}; !reflect.DeepEqual(memberOf, want) {
		t.Errorf("after deleting devs, MemberOf = %v, want %v", memberOf, want)
	}
	if err := f.dir.DeleteGroup(ctx, f.tenant, f.devs.ID); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if err := f.dir.DeleteGroup(ctx, f.tenant, f.user.ID); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("DeleteGroup of a user: %v", err)
	}
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

// TestNestedGroupsMayCycle: Perimeter, like Entra, refuses only a group in
// itself; MemberOf reports the cycle as it is.
func TestNestedGroupsMayCycle(t *testing.T) {
	ctx := context.Background()
	f := newDirFixture(t)
	if err := f.dir.AddMember(ctx, f.tenant, f.admins.ID, f.devs.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.dir.AddMember(ctx, f.tenant, f.devs.ID, f.admins.ID); err != nil {
		t.Fatal(err)
	}
	memberOf, _ := f.dir.MemberOf(ctx, f.tenant)
	if !reflect.DeepEqual(memberOf, map[string][]string{f.devs.ID: {f.admins.ID}, f.admins.ID: {f.devs.ID}}) {
		t.Errorf("MemberOf = %v", memberOf)
	}
}

// TestAddMemberRacesDelete: whatever the interleaving of adding an object
// to groups and deleting it, no group is left naming a deleted object.
func TestAddMemberRacesDelete(t *testing.T) {
	ctx := context.Background()
	f := newDirFixture(t)
	for range 20 {
		u := alice()
		u.UserPrincipalName, u.MailNickname = "racer@contoso.com", "racer"
		racer, err := f.dir.CreateUser(ctx, f.tenant, u)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, g := range []string{f.admins.ID, f.devs.ID} {
			wg.Go(func() {
				if err := f.dir.AddMember(ctx, f.tenant, g, racer.ID); err != nil && !errors.Is(err, ErrObjectNotFound) {
					t.Error(err)
				}
			})
		}
		wg.Go(func() {
			if err := f.dir.DeleteUser(ctx, f.tenant, racer.ID); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		memberOf, _ := f.dir.MemberOf(ctx, f.tenant)
		if groups, ok := memberOf[racer.ID]; ok {
			t.Fatalf("deleted user %s is still a member of %v", racer.ID, groups)
		}
	}
}

func TestObject(t *testing.T) {
	ctx := context.Background()
	f := newDirFixture(t)
	tests := []struct {
		name    string
		id      string
		want    DirectoryObject
		wantErr error
		mention string
	}{
		{"user", f.user.ID, DirectoryObject{ID: f.user.ID, Type: "User", DisplayName: "Alice Example", UserPrincipalName: "alice@contoso.com"}, nil, ""},
		{"group", strings.ToUpper(f.admins.ID), DirectoryObject{ID: f.admins.ID, Type: "Group", DisplayName: "Admins"}, nil, ""},
		{"service principal", f.sp.ID, DirectoryObject{ID: f.sp.ID, Type: "ServicePrincipal", DisplayName: "test app", AppID: f.app.AppID}, nil, ""},
		{"application object id", f.app.ObjectID, DirectoryObject{}, ErrObjectNotFound, f.sp.ID},
		{"application client id", f.app.AppID, DirectoryObject{}, ErrObjectNotFound, "No user, group or service principal"},
		{"another tenant's", f.otherTenantSP.ID, DirectoryObject{}, ErrObjectNotFound, "in this tenant"},
		{"not a GUID", "alice@contoso.com", DirectoryObject{}, ErrObjectNotFound, "GUID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.dir.Object(ctx, f.tenant, tt.id)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("err %q does not mention %q", err, tt.mention)
			}
			if got != tt.want {
				t.Errorf("Object = %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := f.dir.Object(ctx, "44444444-4444-4444-4444-444444444444", f.user.ID); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("unknown tenant: %v", err)
	}
	// Object ids are unique across kinds.
	ids := map[string]bool{}
	for _, id := range []string{f.user.ID, f.sp.ID, f.admins.ID, f.devs.ID, f.app.ObjectID} {
		ids[id] = true
	}
	if len(ids) != 5 {
		t.Errorf("object ids collide: %v", slices.Collect(maps.Keys(ids)))
	}
}

// TestObjectIsOneRead: role assignment checks cost one store read.
func TestObjectIsOneRead(t *testing.T) {
	f := newDirFixture(t)
	counting := &countingStore{Store: f.st}
	d := &Directory{st: counting, now: f.clock.Now}
	if _, err := d.Object(context.Background(), f.tenant, f.user.ID); err != nil {
		t.Fatal(err)
	}
	if counting.gets != 1 || counting.lists != 0 {
		t.Errorf("Object made %d gets and %d lists, want 1 get", counting.gets, counting.lists)
	}
}

type countingStore struct {
	store.Store
	gets, lists int
}

func (c *countingStore) Get(ctx context.Context, id string) (store.Document, error) {
	c.gets++
	return c.Store.Get(ctx, id)
}

func (c *countingStore) List(ctx context.Context, o store.ListOptions) ([]store.Document, error) {
	c.lists++
	return c.Store.List(ctx, o)
}
