package storetest

import (
	"testing"

	"github.com/perimeterhq/perimeter/internal/store"
)

func feedTests() []test {
	return []test{
		{"Changes", testChanges},
		{"DeleteTree", testDeleteTree},
	}
}

func testChanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	if cs := changes(t, s, 0); len(cs) != 0 {
		t.Fatalf("empty store has %d change entries", len(cs))
	}
	put(t, s, doc("/a", "T.A", "", `{"v":1}`))
	put(t, s, doc("/b", "T.B", "", `{"b":1}`))
	put(t, s, doc("/a", "T.A", "", `{"v":2}`))
	if _, err := store.Delete(ctx, s, "/b", store.Precondition{}); err != nil {
		t.Fatalf("delete /b: %v", err)
	}
	want := []struct {
		id, typ, body string
		deleted       bool
	}{
		{"/a", "t.a", `{"v":1}`, false},
		{"/b", "t.b", `{"b":1}`, false},
		{"/a", "t.a", `{"v":2}`, false},
		{"/b", "t.b", "", true},
	}
	all := changes(t, s, 0)
	if len(all) != len(want) {
		t.Fatalf("%d change entries, want %d", len(all), len(want))
	}
	for i, w := range want {
		c := all[i]
		if i > 0 && c.Revision <= all[i-1].Revision {
			t.Fatalf("change %d has revision %d after %d", i, c.Revision, all[i-1].Revision)
		}
		if c.ID != w.id || c.Type != w.typ || c.Deleted != w.deleted || string(c.Body) != w.body {
			t.Fatalf("change %d = {%d %s %s deleted=%v %q}, want %+v", i, c.Revision, c.ID, c.Type, c.Deleted, c.Body, w)
		}
		if w.deleted && c.Body != nil {
			t.Fatalf("tombstone %d has body %q, want nil", i, c.Body)
		}
	}
	if rev := revision(t, s); rev != all[3].Revision {
		t.Fatalf("revision %d, want the last change's %d", rev, all[3].Revision)
	}

	page, err := s.Changes(ctx, 0, 2)
	if err != nil {
		t.Fatalf("changes limit 2: %v", err)
	}
	if len(page) != 2 || page[0].Revision != all[0].Revision || page[1].Revision != all[1].Revision {
		t.Fatalf("first page %+v, want the first two entries", page)
	}
	page, err = s.Changes(ctx, page[1].Revision, 2)
	if err != nil {
		t.Fatalf("changes after %d: %v", all[1].Revision, err)
	}
	if len(page) != 2 || page[0].Revision != all[2].Revision || page[1].Revision != all[3].Revision {
		t.Fatalf("second page %+v, want the last two entries", page)
	}
	if cs := changes(t, s, all[0].Revision); len(cs) != 3 || cs[0].Revision != all[1].Revision {
		t.Fatalf("changes after the first entry = %+v, want the last three", cs)
	}
	if cs := changes(t, s, all[3].Revision); len(cs) != 0 {
		t.Fatalf("changes after the latest revision = %+v, want none", cs)
	}
}

func testDeleteTree(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, d := range []store.Document{
		doc("/t", "Root", "", `{}`),
		doc("/t/x", "Child", "/t", `{}`),
		doc("/t/x/y", "Grandchild", "/t/x", `{}`),
		doc("/t/z", "Child", "/t", `{}`),
		doc("/t0", "Root", "", `{}`),
		doc("/tt/w", "Root", "", `{}`),
		doc("/t-sibling", "Root", "", `{}`),
	} {
		put(t, s, d)
	}
	base := revision(t, s)
	n, err := s.DeleteTree(ctx, "/T")
	if err != nil {
		t.Fatalf("delete tree: %v", err)
	}
	if n != 3 {
		t.Fatalf("delete tree removed %d documents, want 3", n)
	}
	for _, id := range []string{"/t/x", "/t/x/y", "/t/z"} {
		wantAbsent(t, s, id)
	}
	wantIDs(t, "survivors", list(t, s, store.ListOptions{}), "/t", "/t-sibling", "/t0", "/tt/w")
	if rev := revision(t, s); rev != base+3 {
		t.Fatalf("revision after deleting 3 = %d, want %d", rev, base+3)
	}
	cs := changes(t, s, base)
	want := []struct{ id, typ string }{{"/t/x", "child"}, {"/t/x/y", "grandchild"}, {"/t/z", "child"}}
	if len(cs) != len(want) {
		t.Fatalf("delete tree wrote %d change entries, want %d", len(cs), len(want))
	}
	for i, w := range want {
		c := cs[i]
		if c.Revision != base+int64(i)+1 || c.ID != w.id || c.Type != w.typ || !c.Deleted || c.Body != nil {
			t.Fatalf("tombstone %d = %+v, want %s (%s) at revision %d with nil body", i, c, w.id, w.typ, base+int64(i)+1)
		}
	}

	snap := snapshot(t, s)
	if n, err := s.DeleteTree(ctx, "/t"); err != nil || n != 0 {
		t.Fatalf("delete of an empty tree = (%d, %v), want (0, nil)", n, err)
	}
	snap.check(t, s, "delete of an empty tree")
}
