package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/ingress"
	"github.com/perimeterhq/perimeter/internal/mockmodel"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/secrets"
	"github.com/perimeterhq/perimeter/internal/snapshot"
	"github.com/perimeterhq/perimeter/internal/store"
)

// API versions the stack's requests use.
const (
	rgAPI   = "?api-version=2025-04-01"
	csAPI   = "?api-version=2025-06-01"
	netAPI  = "?api-version=2025-09-01"
	raAPI   = "?api-version=2022-04-01"
	chatAPI = "?api-version=2024-10-21"
)

// stack is the control plane and the gateway in process, on one store and
// over loopback HTTP: the wiring Run does (newControlPlane, the gateway's
// data-plane authorizer, a snapshot source following the store), without
// the other listeners.
type stack struct {
	t       *testing.T
	st      store.Store
	dir     *identity.Directory
	issuer  *identity.Issuer
	inst    installation
	snaps   *snapshot.Source
	arm     *httptest.Server
	gateway *httptest.Server
	log     *memLog
	// admin is a management token of the bootstrap administrator (Owner
	// of the subscription).
	admin string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	quiet := slog.New(slog.DiscardHandler)
	s := &stack{t: t, st: testStore(t), log: &memLog{}}
	s.dir = identity.NewDirectory(s.st)
	var err error
	if s.inst, err = bootstrap(ctx, s.st, s.dir, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	key, err := identity.LoadOrCreateSigningKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var base atomic.Value
	s.issuer = identity.NewIssuer(identity.IssuerConfig{Directory: s.dir, Key: key, BaseURL: func() string { return base.Load().(string) }, Logger: quiet})

	mock := httptest.NewServer(mockmodel.Handler(mockmodel.Config{}))
	t.Cleanup(mock.Close)
	catalog, err := models.Load("")
	if err != nil {
		t.Fatal(err)
	}
	catalog = catalog.WithMockUpstream(mock.URL + "/v1")
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	box, err := secrets.New(master)
	if err != nil {
		t.Fatal(err)
	}
	s.snaps = snapshot.NewSource(snapshot.SourceConfig{
		Store: s.st, Secrets: box, Catalog: catalog, BaseDomain: DefaultBaseDomain, Logger: quiet,
		MemberOf: func(ctx context.Context) (map[string][]string, error) { return s.dir.MemberOf(ctx, s.inst.TenantID) },
	})
	go func() { _ = s.snaps.Run(ctx) }()

	control, handler, err := newControlPlane(controlPlaneConfig{
		Store: s.st, Directory: s.dir, Issuer: s.issuer, Snapshots: s.snaps, Installation: s.inst,
		Catalog: catalog, Secrets: box, BaseDomain: DefaultBaseDomain, GatewayPort: 8444, Logger: quiet,
		LogSink: s.st.(accesslog.Sink),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.arm = httptest.NewServer(handler)
	t.Cleanup(s.arm.Close)
	base.Store(s.arm.URL)
	if err := control.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		_ = control.Shutdown(sctx)
	})
	gw, err := ingress.New(ingress.Config{
		Snapshots: s.snaps, Tokens: s.issuer, Authorizer: dataPlaneAuthorizer{s.snaps}, Log: s.log, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.gateway = httptest.NewServer(gw.Handler())
	t.Cleanup(s.gateway.Close)

	app, err := s.dir.Application(ctx, s.inst.TenantID, s.inst.AdminAppID)
	if err != nil {
		t.Fatal(err)
	}
	s.admin = s.appToken(app, identity.AudienceManagement)
	for _, ns := range []string{"Microsoft.CognitiveServices", "Microsoft.Network"} {
		s.must(s.admin, http.StatusOK, http.MethodPost, s.sub()+"/providers/"+ns+"/register"+rgAPI, nil)
	}
	return s
}

func (s *stack) sub() string { return "/subscriptions/" + s.inst.SubscriptionID }

func (s *stack) appToken(app identity.Application, audience string) string {
	s.t.Helper()
	tok, err := s.issuer.IssueAppToken(app, audience)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok.Token
}

// user creates a user and returns it.
func (s *stack) user(alias string) identity.User {
	s.t.Helper()
	u, err := s.dir.CreateUser(s.t.Context(), s.inst.TenantID, identity.UserInput{
		DisplayName: alias, UserPrincipalName: alias + "@contoso.com", MailNickname: alias, Password: "Pa55word!" + alias, AccountEnabled: true,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return u
}

// userToken is a token of u for the audience, as the Azure CLI gets one.
func (s *stack) userToken(u identity.User, audience string) string {
	s.t.Helper()
	tok, err := s.issuer.IssueUserToken(u, "04b07795-8ddb-461a-bbee-02f9e1bf7b46", audience, false)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok.Token
}

// group creates a security group with these members.
func (s *stack) group(name string, members ...string) string {
	s.t.Helper()
	g, err := s.dir.CreateGroup(s.t.Context(), s.inst.TenantID, identity.GroupInput{DisplayName: name, MailNickname: strings.ReplaceAll(name, " ", "")})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, m := range members {
		if err := s.dir.AddMember(s.t.Context(), s.inst.TenantID, g.ID, m); err != nil {
			s.t.Fatal(err)
		}
	}
	return g.ID
}

// response is an answer of either plane.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// errCode is the error code of an ARM or data-plane error body.
func (r response) errCode() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("not JSON: %s", r.Body)
	}
	return v
}

// do sends a request with a bearer token to base+path (Host: host when
// set) and waits for the operation a 201/202 answer points to, so the next
// request does not race it.
func (s *stack) do(base, host, token, method, path string, body any) response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	r := response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if op := resp.Header.Get("Azure-AsyncOperation"); op != "" && base == s.arm.URL {
		s.wait(token, op)
	}
	return r
}

// wait polls an operation until it ends.
func (s *stack) wait(token, opURL string) {
	s.t.Helper()
	path := strings.TrimPrefix(opURL, s.arm.URL)
	for range 200 {
		r := s.do(s.arm.URL, "", token, http.MethodGet, path, nil)
		if st, _ := r.json(s.t)["status"].(string); st != "" && st != "InProgress" && st != "Accepted" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("operation %s did not end", opURL)
}

// armDo is a control-plane request.
func (s *stack) armDo(token, method, path string, body any) response {
	s.t.Helper()
	return s.do(s.arm.URL, "", token, method, path, body)
}

// must is a control-plane request that must answer want.
func (s *stack) must(token string, want int, method, path string, body any) response {
	s.t.Helper()
	r := s.armDo(token, method, path, body)
	if r.Status != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// assign gives principal the role at scope, as the administrator, and
// waits until both planes decide with it.
func (s *stack) assign(scope, roleGUID, principalID string) {
	s.t.Helper()
	id := scope + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString()
	s.must(s.admin, http.StatusCreated, http.MethodPut, id+raAPI, map[string]any{"properties": map[string]string{
		"roleDefinitionId": s.sub() + "/providers/Microsoft.Authorization/roleDefinitions/" + roleGUID, "principalId": principalID}})
	s.settle()
}

// settle waits until the snapshot the gateway uses includes every commit
// made so far.
func (s *stack) settle() {
	s.t.Helper()
	if _, err := s.snaps.Fresh(s.t.Context()); err != nil {
		s.t.Fatal(err)
	}
}

// chat sends a chat completion to the account with this subdomain through
// the gateway, with a data-plane token.
func (s *stack) chat(subdomain, token string) response {
	s.t.Helper()
	return s.do(s.gateway.URL, subdomain+".cognitiveservices."+DefaultBaseDomain, token, http.MethodPost,
		"/openai/deployments/chat/chat/completions"+chatAPI, map[string]any{"messages": []map[string]string{{"role": "user", "content": "hi"}}})
}

// account is an AIServices account body.
func account(subdomain string, props map[string]any) map[string]any {
	p := map[string]any{"customSubDomainName": subdomain}
	for k, v := range props {
		p[k] = v
	}
	return map[string]any{"location": "eastus", "kind": "AIServices", "sku": map[string]any{"name": "S0"}, "properties": p}
}

// chatDeployment is a deployment of the built-in mock model.
var chatDeployment = map[string]any{
	"sku":        map[string]any{"name": "Standard", "capacity": 1},
	"properties": map[string]any{"model": map[string]any{"format": "Perimeter", "name": "mock", "version": "1"}},
}

// memLog keeps the gateway's access-log records.
type memLog struct {
	mu   sync.Mutex
	recs []accesslog.Record
}

func (l *memLog) Log(r accesslog.Record) {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
}

// keep writes the records so far to the store, where the control plane
// reads the access log (Run's logger does it in batches).
func (l *memLog) keep(t *testing.T, st store.Store) int {
	t.Helper()
	l.mu.Lock()
	recs := slices.Clone(l.recs)
	l.mu.Unlock()
	if err := st.(accesslog.Sink).AppendLogs(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

// find returns the record of a request, waiting for it: the gateway writes
// it as its handler returns, which may be just after the client has its
// answer.
func (l *memLog) find(t *testing.T, r response) accesslog.Record {
	t.Helper()
	id := r.Header.Get("apim-request-id")
	for range 500 {
		l.mu.Lock()
		for _, rec := range l.recs {
			if rec.RequestID == id {
				l.mu.Unlock()
				return rec
			}
		}
		l.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no access-log record for request %q", id)
	return accesslog.Record{}
}
