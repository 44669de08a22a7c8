package server

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/providers/authorization"
	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
)

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7 ,::ffff:198.51.100.1, 2001:db8::/32, 10.1.2.3/8")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("198.51.100.1/32"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("10.0.0.0/8"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.1/x"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got, err := ParseTrustedProxies(""); err != nil || got != nil {
		t.Errorf("empty list: %v %v", got, err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{DataDir: "d", ARMAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", DNSAddr: "[::1]:53", EgressAddr: "localhost:8480"}
	if err := ok.validate(); err != nil || ok.BaseDomain != DefaultBaseDomain {
		t.Fatalf("valid config refused: %v", err)
	}
	bad := ok
	bad.ARMAddr = "8443"
	if err := bad.validate(); err == nil {
		t.Error("listener address without host accepted")
	}
	bad = ok
	bad.DataDir = ""
	if err := bad.validate(); err == nil {
		t.Error("missing data dir accepted")
	}
}

func testStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func readAdminFile(t *testing.T, dir string) AdminCredential {
	t.Helper()
	c, err := readAdmin(filepath.Join(dir, adminFile))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBootstrapIsIdempotent: the first start creates the installation and
// admin.json; later starts keep both; a lost admin.json gets a new secret
// while the old one keeps working (another replica may hold it).
func TestBootstrapIsIdempotent(t *testing.T) {
	st := testStore(t)
	dir := identity.NewDirectory(st)
	dataDir := t.TempDir()
	inst, err := bootstrap(t.Context(), st, dir, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	first := readAdminFile(t, dataDir)
	if first.TenantID != inst.TenantID || first.SubscriptionID != inst.SubscriptionID || first.ClientID != inst.AdminAppID || first.ClientSecret == "" {
		t.Fatalf("admin.json %+v vs installation %+v", first, inst)
	}
	if fi, _ := os.Stat(filepath.Join(dataDir, adminFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.json mode %v", fi.Mode().Perm())
	}
	if _, err := dir.VerifyClientSecret(t.Context(), inst.TenantID, inst.AdminAppID, first.ClientSecret); err != nil {
		t.Fatalf("admin secret does not verify: %v", err)
	}
	// The default subscription exists and the admin owns it.
	if _, err := st.Get(t.Context(), "/subscriptions/"+inst.SubscriptionID); err != nil {
		t.Fatalf("default subscription: %v", err)
	}
	assignments, err := st.List(t.Context(), store.ListOptions{Type: "Microsoft.Authorization/roleAssignments", Parent: "/subscriptions/" + inst.SubscriptionID})
	if err != nil || len(assignments) != 1 {
		t.Fatalf("role assignments: %v %v", assignments, err)
	}
	var ra struct {
		Properties struct{ RoleDefinitionID, PrincipalID string }
	}
	_ = json.Unmarshal(assignments[0].Body, &ra)
	if ra.Properties.PrincipalID != inst.AdminObjectID || filepath.Base(ra.Properties.RoleDefinitionID) != authz.RoleOwner {
		t.Errorf("admin is not Owner: %s", assignments[0].Body)
	}

	rev, _ := st.Revision(t.Context())
	again, err := bootstrap(t.Context(), st, dir, dataDir)
	if err != nil || again != inst {
		t.Fatalf("second bootstrap: %+v %v", again, err)
	}
	if after, _ := st.Revision(t.Context()); after != rev {
		t.Error("a restart with everything in place wrote to the store")
	}
	if readAdminFile(t, dataDir) != first {
		t.Error("a restart rewrote admin.json")
	}

	// Another data directory on the same store (a second replica).
	other := t.TempDir()
	if _, err := bootstrap(t.Context(), st, dir, other); err != nil {
		t.Fatal(err)
	}
	second := readAdminFile(t, other)
	if second.TenantID != first.TenantID || second.ClientSecret == first.ClientSecret {
		t.Fatalf("second replica's admin.json: %+v", second)
	}
	for _, secret := range []string{first.ClientSecret, second.ClientSecret} {
		if _, err := dir.VerifyClientSecret(t.Context(), inst.TenantID, inst.AdminAppID, secret); err != nil {
			t.Errorf("secret stopped verifying: %v", err)
		}
	}
}

func TestBootstrapRefusesCorruptAdminFile(t *testing.T) {
	st := testStore(t)
	dataDir := t.TempDir()
	if _, err := bootstrap(t.Context(), st, identity.NewDirectory(st), dataDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, adminFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := bootstrap(t.Context(), st, identity.NewDirectory(st), dataDir); err == nil {
		t.Fatal("corrupt admin.json was silently replaced")
	}
}

// TestBootstrapMovesAnOldAdminToItsServicePrincipal: an installation from
// before service principals recorded the admin application's object id and
// gave it Owner; tokens now name the service principal, so bootstrap
// moves the record and the assignment to it, and the admin keeps Owner.
func TestBootstrapMovesAnOldAdminToItsServicePrincipal(t *testing.T) {
	st := testStore(t)
	dir := identity.NewDirectory(st)
	ctx := t.Context()
	inst, err := bootstrap(ctx, st, dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	app, err := dir.Application(ctx, inst.TenantID, inst.AdminAppID)
	if err != nil {
		t.Fatal(err)
	}
	// Make it old: the record and the Owner assignment name the application.
	moved, err := authorization.MoveOps(ctx, st, "/subscriptions/"+inst.SubscriptionID, inst.AdminObjectID, app.ObjectID)
	if err != nil || len(moved) == 0 {
		t.Fatalf("rewind the assignment: %v %v", moved, err)
	}
	old := inst
	old.AdminObjectID = app.ObjectID
	body, _ := json.Marshal(old)
	moved = append(moved, store.Op{Put: &store.Document{ID: installationID, Type: "Perimeter/installation", Body: body}})
	if _, err := st.Apply(ctx, moved...); err != nil {
		t.Fatal(err)
	}

	got, err := bootstrap(ctx, st, dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got.AdminObjectID != inst.AdminObjectID {
		t.Fatalf("admin object id %s, want the service principal's %s", got.AdminObjectID, inst.AdminObjectID)
	}
	assignments, err := authorization.Assignments(ctx, st)
	if err != nil || len(assignments) != 1 {
		t.Fatalf("assignments %v %v", assignments, err)
	}
	policy := authz.Compile(authz.BuiltInRoles(), assignments, nil)
	write := authz.Request{PrincipalID: inst.AdminObjectID, Scope: "/subscriptions/" + inst.SubscriptionID, Action: "Microsoft.Authorization/roleAssignments/write"}
	if !policy.Check(write).Allowed {
		t.Error("the admin's service principal is not Owner after the move")
	}
	write.PrincipalID = strings.ToLower(app.ObjectID)
	if policy.Check(write).Allowed {
		t.Error("the application's object id still holds Owner")
	}
}
