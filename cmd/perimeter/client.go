package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The api-versions the CLI speaks.
const (
	apiResources     = "2025-04-01" // resource groups and providers
	apiFeatures      = "2021-07-01" // Microsoft.Features
	apiSubscriptions = "2022-12-01"
)

const (
	managementScope = "https://management.azure.com/.default"
	userAgent       = "perimeter-cli"
	// maxPoll caps Retry-After: a client waiting longer between polls only
	// makes the user wait.
	maxPoll = 10 * time.Second
	// defaultPoll is the polling interval when the server names none.
	defaultPoll = time.Second
	// tokenMargin: a cached token closer than this to its expiry is
	// replaced rather than risk it expiring mid-command.
	tokenMargin = 5 * time.Minute
	// registrationTimeout bounds waiting for a provider registration.
	registrationTimeout = 5 * time.Minute
	maxResponseBytes    = 64 << 20
)

// client is the one HTTP client of every command: it trusts exactly the
// profile's CA, gets a token once per invocation (reusing a cached one),
// registers missing resource providers and follows long-running
// operations the way az's SDK pipeline does.
type client struct {
	base  *url.URL // scheme and host of the control plane
	http  *http.Client
	cred  profile
	cache *tokenFile // nil: do not cache tokens
	// tok is the token in use; fromCache says it was read from cache, so
	// a 401 is worth one retry with a fresh token.
	tok       cachedToken
	fromCache bool
	// notices receives az-style notices (provider registration) and
	// warnings; progress receives "- Running .." while waiting, and is nil
	// unless it is a terminal.
	notices  io.Writer
	progress io.Writer
	spins    int
}

// newClient builds a client for a profile. stderr receives notices, and
// progress when it is a terminal.
func newClient(p *profile, stderr io.Writer, cache *tokenFile) (*client, error) {
	base, err := parseEndpoint(p.Endpoint)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(p.CACertificate)) {
		return nil, errors.New("the CA certificate is not a PEM certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c := &client{
		base:    base,
		http:    &http.Client{Transport: tr, Timeout: 2 * time.Minute},
		cred:    *p,
		cache:   cache,
		notices: stderr,
	}
	if isTerminal(stderr) {
		c.progress = stderr
	}
	return c, nil
}

// parseEndpoint checks that an endpoint is an https URL of a host, with no
// path: tokens and secrets never travel in clear text.
func parseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("the endpoint %q must be an https URL of the control plane, such as https://127.0.0.1:8443", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// request is one HTTP request to the server.
type request struct {
	method string
	// url is absolute, or a path (with or without a query) relative to the
	// endpoint.
	url    string
	query  url.Values // merged into the URL's query
	header http.Header
	body   []byte
	// noAuth sends no Authorization header.
	noAuth bool
}

// response is a whole HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// armError is an error answer of the server: the ARM error envelope, or an
// OAuth error of the token endpoint. It prints as az prints them.
type armError struct {
	Status    int
	Code      string
	Message   string
	Target    string
	RequestID string
}

func (e *armError) Error() string {
	var b strings.Builder
	if e.Code != "" {
		fmt.Fprintf(&b, "(%s) ", e.Code)
	}
	b.WriteString(e.Message)
	if e.Target != "" {
		b.WriteString("\nTarget: " + e.Target)
	}
	if e.Status >= 500 && e.RequestID != "" {
		b.WriteString("\nx-ms-request-id: " + e.RequestID)
	}
	return b.String()
}

// apiVersion is the query of an ARM request.
func apiVersion(v string) url.Values { return url.Values{"api-version": {v}} }

// do sends an ARM request and returns its final, successful response:
//   - 409 MissingSubscriptionRegistration registers the namespace, waits
//     until it is Registered and retries once;
//   - a long-running operation (202, or 200/201 with Azure-AsyncOperation)
//     is followed until it ends, unless noWait, which returns the first
//     response with no body;
//   - an error status becomes an *armError.
func (c *client) do(ctx context.Context, r *request, noWait bool) (*response, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	if ae := errorOf(resp); ae != nil {
		if ae.Code != "MissingSubscriptionRegistration" {
			return nil, ae
		}
		if err := c.registerMissing(ctx, r, ae); err != nil {
			return nil, err
		}
		if resp, err = c.send(ctx, r); err != nil {
			return nil, err
		}
		if ae := errorOf(resp); ae != nil {
			return nil, ae
		}
	}
	if !longRunning(resp) {
		return resp, nil
	}
	if noWait {
		return &response{status: resp.status, header: resp.header}, nil
	}
	return c.wait(ctx, r, resp)
}

// get is do for a GET.
func (c *client) get(ctx context.Context, path string, query url.Values) (*response, error) {
	return c.do(ctx, &request{method: http.MethodGet, url: path, query: query}, false)
}

// list GETs a collection and follows nextLink (ARM) or @odata.nextLink
// (Graph) to the last page.
func (c *client) list(ctx context.Context, path string, query url.Values) ([]any, error) {
	items := []any{}
	next := &request{method: http.MethodGet, url: path, query: query}
	seen := map[string]bool{}
	for {
		resp, err := c.do(ctx, next, false)
		if err != nil {
			return nil, err
		}
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"nextLink"`
			// Microsoft Graph names it so.
			ODataNextLink string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(resp.body, &page); err != nil {
			return nil, fmt.Errorf("the list answer of %s is not a page of results: %w", path, err)
		}
		if page.NextLink == "" {
			page.NextLink = page.ODataNextLink
		}
		for _, raw := range page.Value {
			v, err := decodeValue(raw)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		if page.NextLink == "" {
			return items, nil
		}
		if seen[page.NextLink] {
			return nil, fmt.Errorf("the server returned the nextLink %s twice; stopping", page.NextLink)
		}
		seen[page.NextLink] = true
		next = &request{method: http.MethodGet, url: page.NextLink}
	}
}

// send makes one request (two if a cached token is refused) and returns the
// response whatever its status. The token goes only to the control plane's
// own origin.
func (c *client) send(ctx context.Context, r *request) (*response, error) {
	u, err := c.resolve(r.url, r.query)
	if err != nil {
		return nil, err
	}
	auth := !r.noAuth && r.header.Get("Authorization") == "" && c.sameOrigin(u)
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, r.method, u.String(), bytes.NewReader(r.body))
		if err != nil {
			return nil, fmt.Errorf("build the request: %w", err)
		}
		req.Header.Set("User-Agent", userAgent)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("x-ms-client-request-id", newRequestID())
		if len(r.body) > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, vs := range r.header {
			req.Header[http.CanonicalHeaderKey(k)] = vs
		}
		if auth {
			tok, err := c.accessToken(ctx)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.roundTrip(req)
		if err != nil {
			return nil, err
		}
		if resp.status == http.StatusUnauthorized && auth && c.fromCache && attempt == 0 {
			// The cached token was refused (the server's keys changed,
			// say): forget it and try once with a fresh one.
			c.tok, c.fromCache = cachedToken{}, false
			if c.cache != nil {
				_ = c.cache.drop()
			}
			continue
		}
		return resp, nil
	}
}

func (c *client) roundTrip(req *http.Request) (*response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		origin := req.URL.Scheme + "://" + req.URL.Host
		var unknownCA x509.UnknownAuthorityError
		if errors.As(err, &unknownCA) {
			return nil, fmt.Errorf("cannot reach %s: its certificate is not signed by the CA of this profile; log in again with this server's CA (--ca-file or --data-dir): %w", origin, err)
		}
		return nil, fmt.Errorf("cannot reach %s: %w", origin, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("read the answer of %s %s: %w", req.Method, req.URL.Path, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// resolve turns a request URL into an absolute one: paths are relative to
// the endpoint.
func (c *client) resolve(raw string, query url.Values) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("the URL %q is invalid: %w", raw, err)
	}
	if !u.IsAbs() {
		if !strings.HasPrefix(raw, "/") {
			return nil, fmt.Errorf("the URL %q must be absolute or start with '/'", raw)
		}
		u = c.base.ResolveReference(u)
	}
	if len(query) > 0 {
		q := u.Query()
		for k, vs := range query {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	return u, nil
}

func (c *client) sameOrigin(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, c.base.Scheme) && strings.EqualFold(u.Host, c.base.Host)
}

// errorOf returns the error a response carries, or nil when it succeeded.
func errorOf(r *response) *armError {
	if r.status < 400 {
		return nil
	}
	ae := &armError{Status: r.status, RequestID: r.header.Get("x-ms-request-id")}
	var env struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Target  string `json:"target"`
		} `json:"error"`
	}
	if json.Unmarshal(r.body, &env) == nil && env.Error != nil && env.Error.Code != "" {
		ae.Code, ae.Message, ae.Target = env.Error.Code, env.Error.Message, env.Error.Target
		return ae
	}
	ae.Message = fmt.Sprintf("Operation returned an invalid status '%s'", http.StatusText(r.status))
	if body := strings.TrimSpace(string(r.body)); body != "" && len(body) < 1000 {
		ae.Message += ": " + body
	}
	return ae
}

// newRequestID is a random GUID for x-ms-client-request-id.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
