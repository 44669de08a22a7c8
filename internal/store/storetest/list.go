package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/perimeterhq/perimeter/internal/store"
)

func listTests() []test {
	return []test{
		{"ListFilters", testListFilters},
		{"ListPaging", testListPaging},
	}
}

func testListFilters(t *testing.T, s store.Store) {
	for _, d := range []store.Document{
		doc("/z", "T1", "", `{}`),
		doc("/a", "T1", "", `{}`),
		doc("/a/b", "T2", "/a", `{}`),
		doc("/a/b/c", "T3", "/a/b", `{}`),
		doc("/a/b/c/d", "T3", "/a/b/c", `{}`),
		doc("/a/b/e", "T2", "/a/b", `{}`),
		// Siblings of /a/b whose ids share its prefix but are not below it:
		// '-' and '.' sort before '/', '0' right after it, 'c' well after.
		doc("/a/b-x", "T2", "/a", `{}`),
		doc("/a/b.x", "T2", "/a", `{}`),
		doc("/a/b0", "T2", "/a", `{}`),
		doc("/a/bc", "T2", "/a", `{}`),
		doc("/a/bc/d", "T3", "/a/bc", `{}`),
	} {
		put(t, s, d)
	}
	all := []string{"/a", "/a/b", "/a/b-x", "/a/b.x", "/a/b/c", "/a/b/c/d", "/a/b/e", "/a/b0", "/a/bc", "/a/bc/d", "/z"}
	wantIDs(t, "list all", list(t, s, store.ListOptions{}), all...)
	wantIDs(t, "type", list(t, s, store.ListOptions{Type: "t2"}),
		"/a/b", "/a/b-x", "/a/b.x", "/a/b/e", "/a/b0", "/a/bc")
	wantIDs(t, "parent", list(t, s, store.ListOptions{Parent: "/A"}),
		"/a/b", "/a/b-x", "/a/b.x", "/a/b0", "/a/bc")
	wantIDs(t, "under /a/b excludes itself and its prefix siblings",
		list(t, s, store.ListOptions{Under: "/a/b"}), "/a/b/c", "/a/b/c/d", "/a/b/e")
	wantIDs(t, "under /a/bc", list(t, s, store.ListOptions{Under: "/A/BC"}), "/a/bc/d")
	wantIDs(t, "under /a", list(t, s, store.ListOptions{Under: "/a"}), all[1:len(all)-1]...)
	wantIDs(t, "under a leaf", list(t, s, store.ListOptions{Under: "/z"}))
	wantIDs(t, "under a missing id", list(t, s, store.ListOptions{Under: "/nothing"}))
	wantIDs(t, "under and type", list(t, s, store.ListOptions{Under: "/a/b", Type: "t3"}), "/a/b/c", "/a/b/c/d")
	wantIDs(t, "under, type and parent",
		list(t, s, store.ListOptions{Under: "/a/b", Type: "T3", Parent: "/a/b/C"}), "/a/b/c/d")
	wantIDs(t, "type and parent", list(t, s, store.ListOptions{Type: "t2", Parent: "/a/b"}), "/a/b/e")
	wantIDs(t, "after", list(t, s, store.ListOptions{After: "/A/B/C"}), "/a/b/c/d", "/a/b/e", "/a/b0", "/a/bc", "/a/bc/d", "/z")
	wantIDs(t, "after an absent id", list(t, s, store.ListOptions{After: "/a/b/ca"}), "/a/b/e", "/a/b0", "/a/bc", "/a/bc/d", "/z")
	wantIDs(t, "limit", list(t, s, store.ListOptions{Limit: 2}), "/a", "/a/b")
	wantIDs(t, "under, after and limit", list(t, s, store.ListOptions{Under: "/a", After: "/a/b/e", Limit: 2}), "/a/b0", "/a/bc")

	// Listed documents are complete.
	for _, d := range list(t, s, store.ListOptions{Under: "/a/b"}) {
		sameDoc(t, "listed "+d.ID, d, get(t, s, d.ID))
	}
}

func testListPaging(t *testing.T, s store.Store) {
	const n = 150
	var want, wantEven []string
	var ops []store.Op
	for i := range n {
		id := fmt.Sprintf("/page/item-%03d", i)
		typ := "odd"
		if i%2 == 0 {
			typ = "even"
			wantEven = append(wantEven, id)
		}
		want = append(want, id)
		ops = append(ops, store.Op{Put: ptr(doc(id, typ, "/page", fmt.Sprintf(`{"i":%d}`, i)))})
	}
	// Insertion order must not matter, and neighbours must not leak in.
	rand.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	ops = append(ops,
		store.Op{Put: ptr(doc("/page", "even", "", `{}`))},
		store.Op{Put: ptr(doc("/pagex/item", "even", "/pagex", `{}`))},
		store.Op{Put: ptr(doc("/other", "even", "", `{}`))},
	)
	if _, err := s.Apply(t.Context(), ops...); err != nil {
		t.Fatalf("apply %d puts: %v", len(ops), err)
	}
	pageAll := func(opts store.ListOptions) []string {
		var got []string
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatalf("paging %+v does not terminate", opts)
			}
			page := list(t, s, opts)
			if len(page) > opts.Limit {
				t.Fatalf("page of %d documents exceeds limit %d", len(page), opts.Limit)
			}
			if len(page) == 0 {
				return got
			}
			got = append(got, ids(page)...)
			opts.After = page[len(page)-1].ID
		}
	}
	if got := pageAll(store.ListOptions{Under: "/page", Limit: 7}); !slices.Equal(got, want) {
		t.Fatalf("paging under /page returned %d ids %q..., want %d", len(got), got[:min(len(got), 5)], len(want))
	}
	if got := pageAll(store.ListOptions{Parent: "/PAGE", Type: "even", Limit: 10}); !slices.Equal(got, wantEven) {
		t.Fatalf("paging even children returned %d ids, want %d", len(got), len(wantEven))
	}
	if got := ids(list(t, s, store.ListOptions{Under: "/page"})); !slices.Equal(got, want) {
		t.Fatalf("listing without limit returned %d ids, want %d", len(got), len(want))
	}
}
