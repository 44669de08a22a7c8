package armtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// Response is a response read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request to path (relative to the server, or an absolute URL
// such as an operation's Location) and reads the response. body is sent
// as is if it is a string or []byte, as JSON otherwise, and not at all if
// nil; headers are name, value pairs. Every response must carry an
// x-ms-request-id.
func (e *Env) Do(method, path string, body any, headers ...string) Response {
	e.T.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rdr = strings.NewReader(b)
	case []byte:
		rdr = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		rdr = bytes.NewReader(j)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = e.HTTP.URL + path
	}
	req, err := http.NewRequest(method, url, rdr)
	if err != nil {
		e.T.Fatal(err)
	}
	if e.Token != "" {
		req.Header.Set("Authorization", "Bearer "+e.Token)
	}
	if rdr != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("x-ms-request-id") == "" {
		e.T.Errorf("%s %s: no x-ms-request-id header", method, path)
	}
	return Response{resp.StatusCode, resp.Header, b}
}

// Must is Do, failing the test unless the status is want.
func (e *Env) Must(want int, method, path string, body any, headers ...string) Response {
	e.T.Helper()
	r := e.Do(method, path, body, headers...)
	if r.Status != want {
		e.T.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// Revision is the store's revision: tests compare it to show that a
// refused request wrote nothing.
func (e *Env) Revision() int64 {
	e.T.Helper()
	rev, err := e.Store.Revision(e.T.Context())
	if err != nil {
		e.T.Fatal(err)
	}
	return rev
}

// WaitOperation polls an operation's Location until it stops answering
// 202 (each 202 must say Retry-After) and returns the final response.
func (e *Env) WaitOperation(location string) Response {
	e.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r := e.Do(http.MethodGet, location, nil)
		if r.Status != http.StatusAccepted {
			return r
		}
		if r.Header.Get("Retry-After") == "" {
			e.T.Fatalf("202 from %s without Retry-After", location)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.T.Fatalf("operation %s did not finish in 10s", location)
	return Response{}
}

// Register registers a resource provider namespace in SubscriptionID.
func (e *Env) Register(namespace string) {
	e.T.Helper()
	e.RegisterIn(SubscriptionID, namespace)
}

// RegisterIn registers a resource provider namespace in a subscription.
func (e *Env) RegisterIn(subscription, namespace string) {
	e.T.Helper()
	e.Must(http.StatusOK, http.MethodPost, "/subscriptions/"+subscription+"/providers/"+namespace+"/register"+ResourcesAPI, nil)
}
