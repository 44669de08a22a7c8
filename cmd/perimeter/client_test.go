package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeARM is a scripted control plane for client behaviour the real server
// cannot show yet (no namespace needs registration, operations finish in
// milliseconds). It records every request and issues numbered tokens.
type fakeARM struct {
	*httptest.Server
	mu       sync.Mutex
	log      []string
	tokens   int
	handlers map[string]http.HandlerFunc // by "METHOD /path"
	// valid is the only token accepted; empty accepts any.
	valid string
}

const fakeSub = "00000000-0000-0000-0000-0000000000aa"

func newFakeARM(t *testing.T) *fakeARM {
	f := &fakeARM{handlers: map[string]http.HandlerFunc{}}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.log = append(f.log, r.Method+" "+r.URL.Path)
		if r.URL.Path == "/tenant/oauth2/v2.0/token" {
			f.tokens++
			n := f.tokens
			f.mu.Unlock()
			if r.PostFormValue("client_secret") != "s3cret" || r.PostFormValue("scope") != managementScope {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
				return
			}
			fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3600,"access_token":"tok-%d"}`, n)
			return
		}
		h, valid := f.handlers[r.Method+" "+r.URL.Path], f.valid
		f.mu.Unlock()
		if auth := r.Header.Get("Authorization"); auth == "" || (valid != "" && auth != "Bearer "+valid) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"code":"InvalidAuthenticationToken","message":"The access token is invalid."}}`)
			return
		}
		if h == nil {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":{"code":"NotScripted","message":"%s %s"}}`, r.Method, r.URL.Path)
			return
		}
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeARM) handle(route string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[route] = h
}

func (f *fakeARM) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// profile is a profile for the fake server, trusting exactly its
// certificate.
func (f *fakeARM) profile() *profile {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Certificate().Raw})
	return &profile{Name: "default", Endpoint: f.URL, CACertificate: string(ca), TenantID: "tenant",
		SubscriptionID: fakeSub, ClientID: "app", ClientSecret: "s3cret"}
}

// sequence answers with each handler in turn, repeating the last.
func sequence(hs ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(i, len(hs)-1)]
		i++
		mu.Unlock()
		h(w, r)
	}
}

func reply(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// terminal is a stderr that says it is a terminal.
type terminal struct{ bytes.Buffer }

func (*terminal) IsTerminal() bool { return true }

func TestClientRegistersMissingProviderAndFollowsAsyncOperation(t *testing.T) {
	f := newFakeARM(t)
	const thing = "/subscriptions/" + fakeSub + "/resourceGroups/g/providers/Microsoft.Fake/things/x"
	const provider = "/subscriptions/" + fakeSub + "/providers/Microsoft.Fake"
	const op = "/subscriptions/" + fakeSub + "/providers/Microsoft.Fake/locations/eastus/operationStatuses/op1"
	f.handle("PUT "+thing, sequence(
		reply(409, `{"error":{"code":"MissingSubscriptionRegistration","message":"The subscription is not registered to use namespace 'Microsoft.Fake'."}}`),
		reply(201, `{"name":"x","properties":{"provisioningState":"Accepted"}}`,
			"Azure-AsyncOperation", f.URL+op+"?api-version=1", "Location", f.URL+"/elsewhere", "Retry-After", "0"),
	))
	f.handle("POST "+provider+"/register", reply(200, `{"namespace":"Microsoft.Fake","registrationState":"Registering"}`))
	f.handle("GET "+provider, reply(200, `{"namespace":"Microsoft.Fake","registrationState":"Registered"}`))
	f.handle("GET "+op, sequence(
		reply(200, `{"status":"InProgress"}`, "Retry-After", "0"),
		reply(200, `{"status":"Succeeded"}`),
	))
	f.handle("GET "+thing, reply(200, `{"name":"x","properties":{"provisioningState":"Succeeded"}}`))

	var stderr terminal
	c, err := newClient(f.profile(), &stderr, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.do(context.Background(), &request{method: http.MethodPut, url: thing, query: apiVersion("1"), body: []byte(`{}`)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := decodeValue(resp.body); str(v, "properties.provisioningState") != "Succeeded" {
		t.Errorf("final result %s, want the resource after the operation succeeded", resp.body)
	}
	want := []string{
		"POST /tenant/oauth2/v2.0/token", // one token for the whole invocation
		"PUT " + thing,                   // 409 MissingSubscriptionRegistration
		"POST " + provider + "/register",
		"GET " + provider, // until Registered
		"PUT " + thing,    // retried once: 201 + Azure-AsyncOperation
		"GET " + op,       // InProgress
		"GET " + op,       // Succeeded
		"GET " + thing,    // the final resource, not Location, for a PUT
	}
	if got := f.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	errOut := stderr.String()
	if !strings.Contains(errOut, "Resource provider 'Microsoft.Fake' used by this operation is not registered. We are registering for you.\n") ||
		!strings.Contains(errOut, "Registration succeeded.\n") {
		t.Errorf("stderr does not tell about the registration: %q", errOut)
	}
	if !strings.Contains(errOut, "- Running ..") {
		t.Errorf("no progress on a terminal stderr: %q", errOut)
	}
}

func TestClientNoProgressWhenStderrIsNotATerminal(t *testing.T) {
	f := newFakeARM(t)
	f.handle("DELETE /thing", reply(202, ``, "Location", f.URL+"/result", "Retry-After", "0"))
	f.handle("GET /result", sequence(reply(202, ``, "Retry-After", "0"), reply(200, ``)))
	var stderr bytes.Buffer
	c, err := newClient(f.profile(), &stderr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.do(context.Background(), &request{method: http.MethodDelete, url: "/thing"}, false); err != nil {
		t.Fatal(err)
	}
	if got := f.requests(); len(got) != 4 || got[2] != "GET /result" || got[3] != "GET /result" {
		t.Errorf("requests %v: want Location polled until it stops answering 202", got)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q, want nothing when it is not a terminal", stderr.String())
	}
}

func TestClientNoWaitAndFailedOperation(t *testing.T) {
	f := newFakeARM(t)
	f.handle("DELETE /thing", reply(202, ``, "Azure-AsyncOperation", f.URL+"/op", "Retry-After", "0"))
	f.handle("GET /op", reply(200, `{"status":"Failed","error":{"code":"Conflict","message":"The thing is in use."}}`))
	c, err := newClient(f.profile(), &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.do(context.Background(), &request{method: http.MethodDelete, url: "/thing"}, true)
	if err != nil || resp.status != 202 || len(resp.body) != 0 {
		t.Fatalf("--no-wait: %v, %+v", err, resp)
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("--no-wait polled: %v", f.requests())
	}
	_, err = c.do(context.Background(), &request{method: http.MethodDelete, url: "/thing"}, false)
	if err == nil || err.Error() != "(Conflict) The thing is in use." {
		t.Errorf("failed operation: error %v, want (Conflict) The thing is in use.", err)
	}
}

func TestClientTokenCacheAndOrigin(t *testing.T) {
	f := newFakeARM(t)
	f.handle("GET /ping", reply(200, `{}`))
	cache := &tokenFile{path: t.TempDir() + "/token.json"}
	p := f.profile()
	for range 2 { // two invocations share the cached token
		c, err := newClient(p, &bytes.Buffer{}, cache)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.get(context.Background(), "/ping", nil); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	tokens := f.tokens
	f.mu.Unlock()
	if tokens != 1 {
		t.Errorf("%d tokens fetched for two invocations, want 1 (cached)", tokens)
	}

	// A refused cached token is replaced once.
	f.mu.Lock()
	f.valid = "tok-2"
	f.mu.Unlock()
	c, err := newClient(p, &bytes.Buffer{}, cache)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.get(context.Background(), "/ping", nil); err != nil {
		t.Fatalf("after the cached token was refused: %v", err)
	}
	if t2, _ := cache.load(); t2.AccessToken != "tok-2" {
		t.Errorf("cache holds %q, want the new token", t2.AccessToken)
	}

	// The token never goes to another origin, even one the CA trusts.
	var gotAuth string
	other := httptest.NewTLSServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { gotAuth = r.Header.Get("Authorization") }))
	defer other.Close()
	if _, err := c.send(context.Background(), &request{method: http.MethodGet, url: other.URL + "/x"}); err != nil {
		t.Fatal(err)
	}
	if gotAuth != "" {
		t.Errorf("the token was sent to %s", other.URL)
	}
}

func TestClientListFollowsNextLink(t *testing.T) {
	// ARM's "nextLink" and Microsoft Graph's "@odata.nextLink".
	for _, field := range []string{"nextLink", "@odata.nextLink"} {
		f := newFakeARM(t)
		f.handle("GET /items", func(w http.ResponseWriter, r *http.Request) {
			page := map[string]any{"value": []map[string]string{{"name": "a"}, {"name": "b"}}, field: f.URL + "/items?page=2"}
			if r.URL.Query().Get("page") == "2" {
				page = map[string]any{"value": []map[string]string{{"name": "c"}}}
			}
			_ = json.NewEncoder(w).Encode(page)
		})
		c, err := newClient(f.profile(), &bytes.Buffer{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		items, err := c.list(context.Background(), "/items", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(items); strings.Join(got, ",") != "a,b,c" {
			t.Errorf("%s: list = %v, want a,b,c", field, got)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	prev := 3 * time.Second
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", prev},
		{"2", 2 * time.Second},
		{"0", 0},
		{"60", maxPoll},
		{"soon", prev},
		{time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), maxPoll},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Retry-After", tc.header)
		}
		if got := retryAfter(h, prev); got != tc.want {
			t.Errorf("Retry-After %q: %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestTableOutput(t *testing.T) {
	var b bytes.Buffer
	v := toValue([]map[string]any{
		{"name": "ä-long-name", "location": "eastus", "properties": map[string]any{"provisioningState": "Succeeded"}},
		{"name": "b", "location": "westus", "properties": map[string]any{}},
	})
	if err := writeTable(&b, v, []column{{"Name", "name"}, {"Location", "location"}, {"Status", "properties.provisioningState"}}); err != nil {
		t.Fatal(err)
	}
	want := "Name         Location  Status\n" +
		"-----------  --------  ---------\n" +
		"ä-long-name  eastus    Succeeded\n" +
		"b            westus\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
