package snapshot_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/providers/cognitive"
	"github.com/perimeterhq/perimeter/internal/providers/network"
	"github.com/perimeterhq/perimeter/internal/secrets"
	"github.com/perimeterhq/perimeter/internal/snapshot"
	"github.com/perimeterhq/perimeter/internal/store"
)

const (
	sub    = armtest.SubscriptionID
	api    = "?api-version=2025-06-01"
	netAPI = "?api-version=2025-09-01"
	base   = "perimeter.localhost"
	rg     = "/subscriptions/" + sub + "/resourceGroups/rg"
	acctID = rg + "/providers/Microsoft.CognitiveServices/accounts/acct"
	vnetID = rg + "/providers/Microsoft.Network/virtualNetworks/vnet"
)

type env struct {
	*armtest.Env
	cfg snapshot.SourceConfig
}

func newEnv(t *testing.T) *env {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := models.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{}
	e.Env = armtest.New(t, armtest.InlineWait(5*time.Second), armtest.Kinds(func(srv *arm.Server, _ store.Store) []arm.Kind {
		return append(network.Kinds(srv), cognitive.Kinds(srv, cognitive.Config{Catalog: catalog, Secrets: box, BaseDomain: base, GatewayPort: 8444})...)
	}))
	e.cfg = snapshot.SourceConfig{Store: e.Store, Secrets: box, Catalog: catalog, BaseDomain: base, Logger: slog.New(slog.DiscardHandler)}
	e.Register("Microsoft.CognitiveServices")
	e.Register("Microsoft.Network")
	e.Must(http.StatusCreated, http.MethodPut, rg+armtest.ResourcesAPI, map[string]any{"location": "eastus"})
	e.Must(http.StatusCreated, http.MethodPut, vnetID+netAPI, map[string]any{"location": "eastus", "properties": map[string]any{
		"addressSpace": map[string]any{"addressPrefixes": []string{"10.1.0.0/16"}},
		"subnets": []any{
			map[string]any{"name": "apps", "properties": map[string]any{"addressPrefix": "10.1.1.0/24", "serviceEndpoints": []any{map[string]any{"service": "Microsoft.CognitiveServices"}}}},
			map[string]any{"name": "other", "properties": map[string]any{"addressPrefix": "10.1.2.0/24"}},
		},
	}})
	e.Must(http.StatusCreated, http.MethodPut, acctID+api, map[string]any{
		"location": "eastus", "kind": "AIServices", "sku": map[string]any{"name": "S0"}, "identity": map[string]any{"type": "SystemAssigned"},
		"properties": map[string]any{
			"customSubDomainName": "Acct-Sub", "disableLocalAuth": false,
			"networkAcls": map[string]any{"defaultAction": "Deny", "bypass": "AzureServices",
				"ipRules":             []any{map[string]any{"value": "203.0.113.0/24"}, map[string]any{"value": "198.51.100.7"}},
				"virtualNetworkRules": []any{map[string]any{"id": vnetID + "/subnets/apps"}}},
		},
	})
	e.Must(http.StatusCreated, http.MethodPut, acctID+"/deployments/chat"+api, map[string]any{
		"sku": map[string]any{"name": "Standard", "capacity": 5}, "properties": map[string]any{"model": map[string]any{"format": "Perimeter", "name": "mock", "version": "1"}},
	})
	return e
}

func TestCompile(t *testing.T) {
	e := newEnv(t)
	snap, err := snapshot.Compile(t.Context(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rev := e.Revision(); snap.Revision != rev {
		t.Errorf("snapshot revision %d, store %d", snap.Revision, rev)
	}
	a := snap.AccountByHost("ACCT-SUB.cognitiveservices.perimeter.localhost:8444")
	if a == nil || a.ID != acctID {
		t.Fatalf("account by host: %+v", a)
	}
	for _, h := range []string{"acct-sub.openai." + base, "acct-sub.services.ai." + base + "."} {
		if snap.AccountByHost(h) != a {
			t.Errorf("host %s does not reach the account", h)
		}
	}
	if snap.AccountByHost("other.cognitiveservices."+base) != nil || snap.Account(acctID) != a {
		t.Error("lookups by id or an unknown host are wrong")
	}
	if a.DefaultAllow || !a.BypassAzureServices || !a.PublicNetworkAccess || a.SubscriptionID != sub {
		t.Errorf("settings: %+v", a)
	}
	if i, ok := a.IPRules.Lookup(netip.MustParseAddr("203.0.113.99")); !ok || a.IPRuleNames[i] != "ipRules[0]: 203.0.113.0/24" {
		t.Errorf("CIDR rule: %v %v", i, ok)
	}
	if i, ok := a.IPRules.Lookup(netip.MustParseAddr("198.51.100.7")); !ok || i != 1 {
		t.Errorf("address rule: %v %v", i, ok)
	}
	if _, ok := a.IPRules.Lookup(netip.MustParseAddr("198.51.100.8")); ok {
		t.Error("an address rule matched its neighbour")
	}
	if _, ok := a.VNetRules[strings.ToLower(vnetID+"/subnets/apps")]; !ok {
		t.Errorf("vnet rules: %v", a.VNetRules)
	}

	// Keys: digests of what listKeys returns, never the keys.
	var keys struct{ Key1, Key2 string }
	_ = json.Unmarshal(e.Must(http.StatusOK, http.MethodPost, acctID+"/listKeys"+api, nil).Body, &keys)
	if a.KeyDigests[0] != sha256.Sum256([]byte(keys.Key1)) || a.KeyDigests[1] != sha256.Sum256([]byte(keys.Key2)) {
		t.Error("key digests do not match listKeys")
	}

	if s := a.SubnetFor(netip.MustParseAddr("::ffff:10.1.1.5")); s == nil || !strings.EqualFold(s.ID, vnetID+"/subnets/apps") {
		t.Errorf("subnet for 10.1.1.5: %+v", s)
	}
	if s := a.SubnetFor(netip.MustParseAddr("10.1.2.5")); s != nil {
		t.Errorf("10.1.2.5 attributed to %s, which no rule names and has no service endpoint", s.ID)
	}
	if s := a.SubnetFor(netip.MustParseAddr("10.9.0.1")); s != nil {
		t.Errorf("an address outside every subnet attributed to %s", s.ID)
	}
	if snap.Subnet(vnetID+"/subnets/other") == nil {
		t.Error("a subnet no rule names is not known by id")
	}

	var acct struct{ Identity struct{ PrincipalID string } }
	_ = json.Unmarshal(e.Must(http.StatusOK, http.MethodGet, acctID+api, nil).Body, &acct)
	if snap.ManagedIdentity(acct.Identity.PrincipalID) != cognitive.TypeAccounts {
		t.Errorf("identity %q not known", acct.Identity.PrincipalID)
	}
	d := a.Deployment("CHAT")
	if d == nil || !d.Ready || !d.Model.IsMock() || d.Capacity != 5 || d.SKU != "Standard" {
		t.Errorf("deployment: %+v", d)
	}
}

// TestAccountsKeepServingWhileUpdated: an account whose update is being
// provisioned (Accepted) still serves; one being deleted does not.
func TestAccountsKeepServingWhileUpdated(t *testing.T) {
	e := newEnv(t)
	set := func(state string) {
		doc, err := e.Store.Get(t.Context(), acctID)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.Unmarshal(doc.Body, &body)
		body["properties"].(map[string]any)["provisioningState"] = state
		raw, _ := json.Marshal(body)
		doc.Body = raw
		if _, err := store.Put(t.Context(), e.Store, doc, store.Precondition{}); err != nil {
			t.Fatal(err)
		}
	}
	for state, served := range map[string]bool{"Accepted": true, "Creating": true, "Succeeded": true, "Deleting": false} {
		set(state)
		snap, err := snapshot.Compile(t.Context(), e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := snap.Account(acctID) != nil; got != served {
			t.Errorf("account in state %s served = %v, want %v", state, got, served)
		}
	}
}

// TestProjectIdentities: a Foundry project's system-assigned identity is
// known as a Microsoft.CognitiveServices resource's (a trusted service),
// for as long as the project has it.
func TestProjectIdentities(t *testing.T) {
	e := newEnv(t)
	e.Must(http.StatusOK, http.MethodPatch, acctID+api, map[string]any{"properties": map[string]any{"allowProjectManagement": true}})
	proj := acctID + "/projects/proj"
	var p struct{ Identity struct{ PrincipalID string } }
	_ = json.Unmarshal(e.Must(http.StatusCreated, http.MethodPut, proj+api, map[string]any{
		"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"}, "properties": map[string]any{},
	}).Body, &p)
	if p.Identity.PrincipalID == "" {
		t.Fatal("the project has no identity")
	}
	identity := func() string {
		snap, err := snapshot.Compile(t.Context(), e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		return snap.ManagedIdentity(p.Identity.PrincipalID)
	}
	if got := identity(); got != cognitive.TypeProjects {
		t.Fatalf("project identity is %q", got)
	}
	e.Must(http.StatusOK, http.MethodPatch, proj+api, map[string]any{"identity": map[string]any{"type": "None"}})
	if got := identity(); got != "" {
		t.Errorf("a removed identity is still known as %q", got)
	}
}

// TestOnlyTheAccountsSubnetsClaimAddresses: any virtual network may use
// any range. Another network reusing the account's subnet range, or one
// holding the public range an IP rule allows, with the Cognitive Services
// service endpoint, does not change where the account's clients come from.
func TestOnlyTheAccountsSubnetsClaimAddresses(t *testing.T) {
	e := newEnv(t)
	endpoint := []any{map[string]any{"service": "Microsoft.CognitiveServices"}}
	e.Must(http.StatusCreated, http.MethodPut, rg+"/providers/Microsoft.Network/virtualNetworks/twin"+netAPI, map[string]any{"location": "eastus", "properties": map[string]any{
		"addressSpace": map[string]any{"addressPrefixes": []string{"10.1.0.0/16", "203.0.113.0/24"}},
		"subnets": []any{
			map[string]any{"name": "apps", "properties": map[string]any{"addressPrefix": "10.1.1.0/25", "serviceEndpoints": endpoint}},
			map[string]any{"name": "public", "properties": map[string]any{"addressPrefix": "203.0.113.0/24", "serviceEndpoints": endpoint}},
		},
	}})
	snap, err := snapshot.Compile(t.Context(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := snap.Account(acctID)
	if s := a.SubnetFor(netip.MustParseAddr("10.1.1.5")); s == nil || !strings.EqualFold(s.ID, vnetID+"/subnets/apps") {
		t.Errorf("10.1.1.5 attributed to %+v, want the account's own subnet", s)
	}
	if s := a.SubnetFor(netip.MustParseAddr("203.0.113.9")); s != nil {
		t.Errorf("an address of an IP rule attributed to %s, which the account's rules do not name", s.ID)
	}
	if snap.Subnet(rg+"/providers/Microsoft.Network/virtualNetworks/twin/subnets/public") == nil {
		t.Error("the other network's subnet is not known by id")
	}
}

// TestKeysUnderAnotherMasterKey: a snapshot compiled with the wrong master
// key has no key digests, so no key can match (fail closed).
func TestKeysUnderAnotherMasterKey(t *testing.T) {
	e := newEnv(t)
	other := e.cfg
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	other.Secrets, _ = secrets.New(key)
	snap, err := snapshot.Compile(t.Context(), other)
	if err != nil {
		t.Fatal(err)
	}
	if a := snap.Account(acctID); a == nil || a.KeyDigests != ([2][32]byte{}) {
		t.Fatalf("digests under another master key: %+v", a)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSourceFollowsTheStore: changes through the API reach the current
// snapshot; a snapshot that fails to compile is never served.
func TestSourceFollowsTheStore(t *testing.T) {
	e := newEnv(t)
	src := snapshot.NewSource(e.cfg)
	if src.Current() != nil {
		t.Fatal("a snapshot before the first compile")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-src.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("no first snapshot")
	}

	e.Must(http.StatusOK, http.MethodPatch, acctID+api, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}})
	waitFor(t, "the change reaching the snapshot", func() bool {
		a := src.Current().Account(acctID)
		return a != nil && !a.PublicNetworkAccess
	})
	// Writes that follow (the operation's record) are compiled too.
	waitFor(t, "the snapshot catching up with the store", func() bool { return src.Current().Revision == e.Revision() })

	// A document the compiler cannot read: the last good snapshot stays.
	good := src.Current()
	bad := []byte(`{"id":"` + acctID + `-bad","name":"bad","properties":{"provisioningState":"Succeeded","networkAcls":{"ipRules":[{"value":"not-an-ip"}]}}}`)
	if _, err := store.Put(t.Context(), e.Store, store.Document{ID: acctID + "-bad", Type: cognitive.TypeAccounts, Body: bad}, store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if src.Current() != good {
		t.Fatal("a snapshot was replaced by one that failed to compile")
	}
	// Once the bad document is gone, snapshots follow the store again.
	if _, err := store.Delete(t.Context(), e.Store, acctID+"-bad", store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recovery", func() bool { return src.Current().Revision == e.Revision() })
}

// TestFreshIncludesEveryEarlierCommit: the control plane authorizes each
// request with a policy that has every commit made before it (a role
// assigned by one request is in force for the next).
func TestFreshIncludesEveryEarlierCommit(t *testing.T) {
	e := newEnv(t)
	src := snapshot.NewSource(e.cfg)
	// Not running: Fresh waits, and gives up when its context ends.
	short, cancelShort := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancelShort()
	if snap, err := src.Fresh(short); err == nil {
		t.Fatalf("Fresh answered %v with no compile behind it", snap)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	assignment := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments/99999999-9999-9999-9999-999999999999"
	body := `{"id":"` + assignment + `","name":"99999999-9999-9999-9999-999999999999","properties":{"roleDefinitionId":"` +
		authz.RoleDefinitionPrefix + authz.RoleReader + `","principalId":"p1","scope":"/subscriptions/` + sub + `"}}`
	for range 20 {
		if _, err := store.Put(t.Context(), e.Store, store.Document{ID: assignment, Type: "Microsoft.Authorization/roleAssignments", Body: []byte(body)}, store.Precondition{}); err != nil {
			t.Fatal(err)
		}
		snap, err := src.Fresh(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if snap.Revision < e.Revision() {
			t.Fatalf("Fresh gave revision %d after a commit at %d", snap.Revision, e.Revision())
		}
		if !snap.Policy().Check(authz.Request{PrincipalID: "p1", Scope: rg, Action: "Microsoft.Resources/subscriptions/resourceGroups/read"}).Allowed {
			t.Fatal("the fresh snapshot's policy lacks the assignment just written")
		}
		if _, err := store.Delete(t.Context(), e.Store, assignment, store.Precondition{}); err != nil {
			t.Fatal(err)
		}
		if snap, err = src.Fresh(t.Context()); err != nil || snap.Policy().HasAccessWithin("p1", rg) {
			t.Fatalf("the fresh snapshot still grants a deleted assignment (%v)", err)
		}
	}
}
