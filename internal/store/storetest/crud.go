package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/perimeterhq/perimeter/internal/store"
)

func crudTests() []test {
	return []test{
		{"GetNotFound", testGetNotFound},
		{"CaseInsensitiveIDs", testCaseInsensitive},
		{"BodyKeptByteForByte", testBodyVerbatim},
		{"PutCreateReplace", testPutCreateReplace},
		{"Delete", testDelete},
		{"Preconditions", testPreconditions},
		{"FailedPreconditionWritesNothing", testFailedPreconditions},
	}
}

func testGetNotFound(t *testing.T, s store.Store) {
	if rev := revision(t, s); rev != 0 {
		t.Fatalf("empty store has revision %d, want 0", rev)
	}
	wantAbsent(t, s, "/subscriptions/nope")
	put(t, s, doc("/subscriptions/one", "t", "", `{}`))
	wantAbsent(t, s, "/subscriptions/on")
	wantAbsent(t, s, "/subscriptions/one/child")
}

func testCaseInsensitive(t *testing.T, s store.Store) {
	const id = "/subscriptions/sub1/resourcegroups/rg-one"
	d := put(t, s, doc("/Subscriptions/SUB1/resourceGroups/RG-One", "Microsoft.Resources/resourceGroups",
		"/Subscriptions/SUB1", `{"name":"RG-One"}`))
	if d.ID != id || d.Type != "microsoft.resources/resourcegroups" || d.Parent != "/subscriptions/sub1" {
		t.Fatalf("put returned %s, want lower-cased id, type and parent", show(d))
	}
	for _, lookup := range []string{id, strings.ToUpper(id), "/subscriptions/SUB1/RESOURCEGROUPS/rg-ONE"} {
		sameDoc(t, "get "+lookup, get(t, s, lookup), d)
	}
	wantIDs(t, "list by type in other casing",
		list(t, s, store.ListOptions{Type: "MICROSOFT.RESOURCES/RESOURCEGROUPS"}), id)
	wantIDs(t, "list by parent in other casing",
		list(t, s, store.ListOptions{Parent: "/SUBSCRIPTIONS/Sub1"}), id)
	wantIDs(t, "list under in other casing",
		list(t, s, store.ListOptions{Under: "/SUBSCRIPTIONS/Sub1"}), id)

	// Writing through another casing replaces the same document.
	d2, err := store.Put(t.Context(), s, doc(strings.ToUpper(id), "T", "", `{"v":2}`), store.Precondition{IfMatch: d.ETag})
	if err != nil {
		t.Fatalf("put through upper-cased id with IfMatch: %v", err)
	}
	wantIDs(t, "list after replace", list(t, s, store.ListOptions{}), id)
	if d2.Type != "t" {
		t.Fatalf("replaced type = %q, want %q", d2.Type, "t")
	}
	if _, err := store.Delete(t.Context(), s, "/SUBSCRIPTIONS/SUB1/resourcegroups/RG-ONE", store.Precondition{}); err != nil {
		t.Fatalf("delete through other casing: %v", err)
	}
	wantAbsent(t, s, id)
	for _, c := range changes(t, s, 0) {
		if c.ID != id || c.Type != strings.ToLower(c.Type) {
			t.Fatalf("change %d has id %q type %q, want lower-cased", c.Revision, c.ID, c.Type)
		}
	}
}

func testBodyVerbatim(t *testing.T, s store.Store) {
	body := "{ \"b\" : [1, 2 ,3],\n\t\"a\":\"x\u00e9\\u00e9\", \"n\": 1.50e3 }"
	d := put(t, s, doc("/verbatim", "t", "", body))
	if string(d.Body) != body {
		t.Fatalf("put returned body %q, want %q", d.Body, body)
	}
	if got := get(t, s, "/verbatim"); string(got.Body) != body {
		t.Fatalf("get returned body %q, want %q", got.Body, body)
	}
	if got := list(t, s, store.ListOptions{}); len(got) != 1 || string(got[0].Body) != body {
		t.Fatalf("list returned %v, want one document with body %q", ids(got), body)
	}
	if cs := changes(t, s, 0); len(cs) != 1 || string(cs[0].Body) != body {
		t.Fatalf("change feed returned %+v, want one entry with body %q", cs, body)
	}
}

func testPutCreateReplace(t *testing.T, s store.Store) {
	d1 := put(t, s, doc("/p", "t", "", `{"v":1}`))
	if d1.Revision <= 0 || d1.ETag != store.ETagFor(d1.Revision) {
		t.Fatalf("created %s: want revision > 0 and ETag = ETagFor(revision)", show(d1))
	}
	if rev := revision(t, s); rev != d1.Revision {
		t.Fatalf("store revision %d after first put, want %d", rev, d1.Revision)
	}
	sameDoc(t, "get after create", get(t, s, "/p"), d1)

	d2 := put(t, s, doc("/p", "t", "", `{"v":2}`))
	if d2.Revision <= d1.Revision || d2.ETag == d1.ETag || d2.ETag != store.ETagFor(d2.Revision) {
		t.Fatalf("replaced %s after %s: want a higher revision and a new ETag", show(d2), show(d1))
	}
	sameDoc(t, "get after replace", get(t, s, "/p"), d2)

	// Rewriting the same body is still a write with a new ETag.
	d3 := put(t, s, doc("/p", "t", "", `{"v":2}`))
	if d3.ETag == d2.ETag || d3.Revision <= d2.Revision {
		t.Fatalf("rewrite of the same body kept ETag %s / revision %d", d3.ETag, d3.Revision)
	}

	// Revisions increase strictly across documents too.
	prev := d3.Revision
	for _, id := range []string{"/q", "/r", "/p/child", "/q"} {
		d := put(t, s, doc(id, "t", "", `{}`))
		if d.Revision <= prev {
			t.Fatalf("put %s got revision %d after %d", id, d.Revision, prev)
		}
		prev = d.Revision
	}
	if rev := revision(t, s); rev != prev {
		t.Fatalf("store revision %d, want latest write %d", rev, prev)
	}

	// A re-created document never gets an ETag it had before.
	if _, err := store.Delete(t.Context(), s, "/p", store.Precondition{}); err != nil {
		t.Fatalf("delete /p: %v", err)
	}
	d4 := put(t, s, doc("/p", "t", "", `{"v":1}`))
	for _, old := range []store.Document{d1, d2, d3} {
		if d4.ETag == old.ETag {
			t.Fatalf("re-created /p reused ETag %s", d4.ETag)
		}
	}
}

func testDelete(t *testing.T, s store.Store) {
	d := put(t, s, doc("/d", "Some.Type/things", "/parent", `{"keep":true}`))
	before := revision(t, s)
	got, err := store.Delete(t.Context(), s, "/D", store.Precondition{})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	sameDoc(t, "delete returns the document as it was", got, d)
	wantAbsent(t, s, "/d")
	if rev := revision(t, s); rev != before+1 {
		t.Fatalf("revision after delete = %d, want %d", rev, before+1)
	}

	snap := snapshot(t, s)
	_, err = store.Delete(t.Context(), s, "/d", store.Precondition{})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting an absent document: got %v, want ErrNotFound", err)
	}
	snap.check(t, s, "deleting an absent document")
}

func testPreconditions(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := put(t, s, doc("/a", "t", "", `{"v":0}`))

	a, err := store.Put(ctx, s, doc("/a", "t", "", `{"v":1}`), store.Precondition{IfMatch: a.ETag})
	if err != nil {
		t.Fatalf("IfMatch with the current ETag: %v", err)
	}
	a, err = store.Put(ctx, s, doc("/a", "t", "", `{"v":2}`), store.Precondition{IfMatch: "*"})
	if err != nil {
		t.Fatalf(`IfMatch "*" on an existing document: %v`, err)
	}
	if string(get(t, s, "/a").Body) != `{"v":2}` {
		t.Fatal("conditional puts did not replace the body")
	}
	b, err := store.Put(ctx, s, doc("/b", "t", "", `{}`), store.Precondition{IfNoneMatch: "*"})
	if err != nil {
		t.Fatalf(`IfNoneMatch "*" on an absent document: %v`, err)
	}
	sameDoc(t, "created with IfNoneMatch", get(t, s, "/b"), b)
	if _, err := store.Delete(ctx, s, "/b", store.Precondition{IfMatch: b.ETag}); err != nil {
		t.Fatalf("delete with IfMatch current ETag: %v", err)
	}
	wantAbsent(t, s, "/b")
	if _, err := store.Delete(ctx, s, "/a", store.Precondition{IfMatch: a.ETag}); err != nil {
		t.Fatalf("delete with IfMatch current ETag: %v", err)
	}
	wantAbsent(t, s, "/a")
}

func testFailedPreconditions(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := put(t, s, doc("/a", "t", "", `{"v":1}`))
	put(t, s, doc("/a", "t", "", `{"v":2}`))
	cases := []struct {
		name string
		op   store.Op
	}{
		{"put IfMatch stale ETag", store.Op{Put: ptr(doc("/a", "t", "", `{"v":3}`)), If: store.Precondition{IfMatch: old.ETag}}},
		{"put IfMatch ETag on absent", store.Op{Put: ptr(doc("/b", "t", "", `{}`)), If: store.Precondition{IfMatch: old.ETag}}},
		{`put IfMatch "*" on absent`, store.Op{Put: ptr(doc("/b", "t", "", `{}`)), If: store.Precondition{IfMatch: "*"}}},
		{`put IfNoneMatch "*" on existing`, store.Op{Put: ptr(doc("/A", "t", "", `{"v":3}`)), If: store.Precondition{IfNoneMatch: "*"}}},
		{"put IfNoneMatch other than *", store.Op{Put: ptr(doc("/b", "t", "", `{}`)), If: store.Precondition{IfNoneMatch: old.ETag}}},
		{"delete IfMatch stale ETag", store.Op{Delete: "/a", If: store.Precondition{IfMatch: old.ETag}}},
		{`delete IfNoneMatch "*" on existing`, store.Op{Delete: "/a", If: store.Precondition{IfNoneMatch: "*"}}},
	}
	for _, tc := range cases {
		snap := snapshot(t, s)
		_, err := s.Apply(ctx, tc.op)
		if !errors.Is(err, store.ErrPreconditionFailed) {
			t.Fatalf("%s: got %v, want ErrPreconditionFailed", tc.name, err)
		}
		snap.check(t, s, tc.name)
		wantAbsent(t, s, "/b")
	}
}

func ptr[T any](v T) *T { return &v }
