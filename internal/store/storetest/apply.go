package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/perimeterhq/perimeter/internal/store"
)

func applyTests() []test {
	return []test{
		{"ApplyMultiOp", testApplyMultiOp},
		{"ApplySameDocumentTwice", testApplySameDocTwice},
		{"ApplyIsAtomic", testApplyAtomic},
		{"ApplyCheck", testApplyCheck},
		{"ApplyRejectsInvalidOps", testApplyInvalid},
		{"ContextCancelled", testContextCancelled},
	}
}

func testApplyMultiOp(t *testing.T, s store.Store) {
	c := put(t, s, doc("/c", "Old.Type/x", "", `{"c":1}`))
	base := revision(t, s)
	docs, err := s.Apply(t.Context(),
		store.Op{Put: ptr(doc("/A", "T", "/P", `{"a":1}`))},
		store.Op{Put: ptr(doc("/b", "t", "", `{"b":1}`)), If: store.Precondition{IfNoneMatch: "*"}},
		store.Op{Delete: "/C", If: store.Precondition{IfMatch: c.ETag}},
	)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if len(docs) != 3 {
		t.Fatalf("apply returned %d documents, want 3", len(docs))
	}
	for i, want := range []string{"/a", "/b"} {
		d := docs[i]
		if d.ID != want || d.Revision != base+int64(i)+1 || d.ETag != store.ETagFor(d.Revision) {
			t.Fatalf("op %d returned %s, want id %s at revision %d", i, show(d), want, base+int64(i)+1)
		}
		sameDoc(t, "get "+want, get(t, s, want), d)
	}
	sameDoc(t, "delete returns the document as it was", docs[2], c)
	wantAbsent(t, s, "/c")
	if rev := revision(t, s); rev != base+3 {
		t.Fatalf("revision after 3 ops = %d, want %d", rev, base+3)
	}

	cs := changes(t, s, base)
	want := []struct {
		id, typ string
		deleted bool
	}{{"/a", "t", false}, {"/b", "t", false}, {"/c", "old.type/x", true}}
	if len(cs) != len(want) {
		t.Fatalf("apply of 3 ops wrote %d change entries, want 3", len(cs))
	}
	for i, w := range want {
		got := cs[i]
		if got.Revision != base+int64(i)+1 || got.ID != w.id || got.Type != w.typ || got.Deleted != w.deleted {
			t.Fatalf("change %d = %+v, want revision %d %+v", i, got, base+int64(i)+1, w)
		}
		if w.deleted != (got.Body == nil) {
			t.Fatalf("change %d body %q: want nil exactly for deletes", i, got.Body)
		}
	}
}

// testApplySameDocTwice checks that later ops see earlier ops of the same
// Apply, and that each op gets the next revision.
func testApplySameDocTwice(t *testing.T, s store.Store) {
	put(t, s, doc("/other", "t", "", `{}`))
	base := revision(t, s)
	docs, err := s.Apply(t.Context(),
		store.Op{Put: ptr(doc("/x", "t", "", `{"v":1}`)), If: store.Precondition{IfNoneMatch: "*"}},
		store.Op{Put: ptr(doc("/X", "t", "", `{"v":2}`)), If: store.Precondition{IfMatch: store.ETagFor(base + 1)}},
		store.Op{Delete: "/x", If: store.Precondition{IfMatch: store.ETagFor(base + 2)}},
		store.Op{Put: ptr(doc("/x", "t", "", `{"v":4}`)), If: store.Precondition{IfNoneMatch: "*"}},
	)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if string(docs[2].Body) != `{"v":2}` || docs[2].Revision != base+2 {
		t.Fatalf("delete returned %s, want the version written by op 1", show(docs[2]))
	}
	sameDoc(t, "final version", get(t, s, "/x"), docs[3])
	if docs[3].Revision != base+4 {
		t.Fatalf("last op revision %d, want %d", docs[3].Revision, base+4)
	}
	if n := len(changes(t, s, base)); n != 4 {
		t.Fatalf("%d change entries, want 4", n)
	}
}

func testApplyAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := put(t, s, doc("/e", "t", "", `{"v":1}`))
	put(t, s, doc("/e", "t", "", `{"v":2}`))

	snap := snapshot(t, s)
	_, err := s.Apply(ctx,
		store.Op{Put: ptr(doc("/new", "t", "", `{}`))},
		store.Op{Put: ptr(doc("/e", "t", "", `{"v":3}`)), If: store.Precondition{IfMatch: old.ETag}},
	)
	if !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("second op with stale ETag: got %v, want ErrPreconditionFailed", err)
	}
	snap.check(t, s, "apply whose second op fails its precondition")
	wantAbsent(t, s, "/new")

	_, err = s.Apply(ctx,
		store.Op{Put: ptr(doc("/new", "t", "", `{}`))},
		store.Op{Delete: "/e"},
		store.Op{Delete: "/missing"},
	)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("third op deletes an absent document: got %v, want ErrNotFound", err)
	}
	snap.check(t, s, "apply whose last op deletes an absent document")
	wantAbsent(t, s, "/new")
}

// testApplyCheck: a Check asserts a precondition on another document at
// commit time, writes nothing and takes no revision.
func testApplyCheck(t *testing.T, s store.Store) {
	ctx := t.Context()
	parent := put(t, s, doc("/parent", "t", "", `{}`))
	rev, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := s.Apply(ctx,
		store.Op{Check: "/PARENT", If: store.Precondition{IfMatch: "*"}},
		store.Op{Put: ptr(doc("/parent/child", "t", "/parent", `{}`))},
	)
	if err != nil {
		t.Fatalf("check on an existing parent: %v", err)
	}
	if docs[0].ETag != parent.ETag || docs[1].Revision != rev+1 {
		t.Errorf("check returned %+v; child revision %d, want %d (a check takes no revision)", docs[0], docs[1].Revision, rev+1)
	}
	changes, err := s.Changes(ctx, rev, 0)
	if err != nil || len(changes) != 1 || changes[0].ID != "/parent/child" {
		t.Fatalf("change feed after a check and a put: %+v, %v", changes, err)
	}

	if _, err := store.Delete(ctx, s, "/parent", store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, s)
	_, err = s.Apply(ctx,
		store.Op{Check: "/parent", If: store.Precondition{IfMatch: "*"}},
		store.Op{Put: ptr(doc("/parent/orphan", "t", "/parent", `{}`))},
	)
	if !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("check on a deleted parent: got %v, want ErrPreconditionFailed", err)
	}
	snap.check(t, s, "apply whose check fails")
	wantAbsent(t, s, "/parent/orphan")

	// A check alone writes nothing.
	if _, err := s.Apply(ctx, store.Op{Check: "/absent", If: store.Precondition{IfNoneMatch: "*"}}); err != nil {
		t.Fatalf("check that a document is absent: %v", err)
	}
	snap.check(t, s, "apply with only a check")
}

func testApplyInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	put(t, s, doc("/keep", "t", "", `{}`))
	snap := snapshot(t, s)
	docs, err := s.Apply(ctx)
	if err != nil || docs != nil {
		t.Fatalf("apply with no ops = (%v, %v), want (nil, nil)", docs, err)
	}
	snap.check(t, s, "apply with no ops")

	invalid := map[string]store.Op{
		"neither put nor delete": {},
		"both put and delete":    {Put: ptr(doc("/x", "t", "", `{}`)), Delete: "/keep"},
		"both delete and check":  {Delete: "/keep", Check: "/keep"},
		"put without id":         {Put: ptr(doc("", "t", "", `{}`))},
		"body not JSON":          {Put: ptr(doc("/x", "t", "", `{"unterminated":`))},
		"empty body":             {Put: ptr(doc("/x", "t", "", ``))},
	}
	for name, op := range invalid {
		_, err := s.Apply(ctx, store.Op{Put: ptr(doc("/first", "t", "", `{}`))}, op)
		if err == nil {
			t.Fatalf("%s: apply succeeded", name)
		}
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrPreconditionFailed) {
			t.Fatalf("%s: got %v, want a validation error", name, err)
		}
		snap.check(t, s, name)
	}
}

func testContextCancelled(t *testing.T, s store.Store) {
	put(t, s, doc("/tree", "t", "", `{}`))
	put(t, s, doc("/tree/leaf", "t", "/tree", `{}`))
	snap := snapshot(t, s)
	ctx := canceled()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s with a cancelled context: got %v, want context.Canceled", what, err)
		}
	}
	_, err := s.Apply(ctx, store.Op{Put: ptr(doc("/x", "t", "", `{}`))})
	check("apply", err)
	_, err = s.DeleteTree(ctx, "/tree")
	check("delete tree", err)
	_, err = s.Get(ctx, "/tree")
	check("get", err)
	_, err = s.List(ctx, store.ListOptions{})
	check("list", err)
	_, err = s.Changes(ctx, 0, 0)
	check("changes", err)
	_, err = s.Revision(ctx)
	check("revision", err)
	snap.check(t, s, "writes with a cancelled context")
}
