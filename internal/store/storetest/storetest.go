// Package storetest is the conformance suite that every store.Store
// implementation runs from its own tests, plus the harness for the
// crash-safety test (see Crash and CrashHelper).
//
// Run checks the single-store contract; RunShared checks two stores opened
// on the same database, as several Perimeter processes would; RunLogs
// checks the access log the stores keep beside the documents
// (accesslog.Sink).
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/perimeterhq/perimeter/internal/store"
)

// test is one conformance check against a fresh, empty store.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// Run runs the conformance suite. open must return a fresh, empty store
// (registering its cleanup with t.Cleanup) and be safe to call from
// parallel tests.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	var tests []test
	tests = append(tests, crudTests()...)
	tests = append(tests, applyTests()...)
	tests = append(tests, listTests()...)
	tests = append(tests, feedTests()...)
	tests = append(tests, subscribeTests()...)
	tests = append(tests, concurrencyTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// doc builds a document with a JSON body.
func doc(id, typ, parent, body string) store.Document {
	return store.Document{ID: id, Type: typ, Parent: parent, Body: json.RawMessage(body)}
}

// put writes d unconditionally and fails the test on error.
func put(t *testing.T, s store.Store, d store.Document) store.Document {
	t.Helper()
	got, err := store.Put(t.Context(), s, d, store.Precondition{})
	if err != nil {
		t.Fatalf("put %s: %v", d.ID, err)
	}
	return got
}

// get reads id and fails the test on error.
func get(t *testing.T, s store.Store, id string) store.Document {
	t.Helper()
	got, err := s.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return got
}

// wantAbsent fails unless id does not exist.
func wantAbsent(t *testing.T, s store.Store, id string) {
	t.Helper()
	if d, err := s.Get(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get %s: got (%+v, %v), want ErrNotFound", id, d, err)
	}
}

// revision returns the store's revision and fails the test on error.
func revision(t *testing.T, s store.Store) int64 {
	t.Helper()
	rev, err := s.Revision(t.Context())
	if err != nil {
		t.Fatalf("revision: %v", err)
	}
	return rev
}

// changes returns every change after rev and fails the test on error.
func changes(t *testing.T, s store.Store, after int64) []store.Change {
	t.Helper()
	cs, err := s.Changes(t.Context(), after, 0)
	if err != nil {
		t.Fatalf("changes after %d: %v", after, err)
	}
	return cs
}

// list lists and fails the test on error.
func list(t *testing.T, s store.Store, opts store.ListOptions) []store.Document {
	t.Helper()
	docs, err := s.List(t.Context(), opts)
	if err != nil {
		t.Fatalf("list %+v: %v", opts, err)
	}
	return docs
}

// ids returns the ids of docs in order.
func ids(docs []store.Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

// wantIDs fails unless docs have exactly the ids want, in order.
func wantIDs(t *testing.T, what string, docs []store.Document, want ...string) {
	t.Helper()
	got := ids(docs)
	if len(got) != len(want) {
		t.Fatalf("%s: got ids %q, want %q", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: got ids %q, want %q", what, got, want)
		}
	}
}

// sameDoc fails unless got and want are the same stored version.
func sameDoc(t *testing.T, what string, got, want store.Document) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || got.Parent != want.Parent ||
		got.ETag != want.ETag || got.Revision != want.Revision || !bytes.Equal(got.Body, want.Body) {
		t.Fatalf("%s: got %s, want %s", what, show(got), show(want))
	}
}

func show(d store.Document) string {
	b, _ := json.Marshal(struct {
		ID, Type, Parent, ETag string
		Revision               int64
		Body                   string
	}{d.ID, d.Type, d.Parent, d.ETag, d.Revision, string(d.Body)})
	return string(b)
}

// unchanged captures a store's state so a test can check that a failed
// write wrote nothing.
type unchanged struct {
	rev  int64
	docs []store.Document
}

func snapshot(t *testing.T, s store.Store) unchanged {
	t.Helper()
	return unchanged{rev: revision(t, s), docs: list(t, s, store.ListOptions{})}
}

// check fails if anything was written since the snapshot.
func (u unchanged) check(t *testing.T, s store.Store, what string) {
	t.Helper()
	if rev := revision(t, s); rev != u.rev {
		t.Fatalf("%s: revision moved from %d to %d", what, u.rev, rev)
	}
	if cs := changes(t, s, u.rev); len(cs) != 0 {
		t.Fatalf("%s: %d change-feed entries written, want none", what, len(cs))
	}
	docs := list(t, s, store.ListOptions{})
	if len(docs) != len(u.docs) {
		t.Fatalf("%s: %d documents, want %d", what, len(docs), len(u.docs))
	}
	for i := range docs {
		sameDoc(t, what, docs[i], u.docs[i])
	}
}

// canceled returns an already cancelled context.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
