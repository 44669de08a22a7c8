package storetest

import (
	"testing"

	"github.com/perimeterhq/perimeter/internal/store"
)

// RunShared checks two stores opened on the same database, as two Perimeter
// processes sharing it would be. open must return two fresh stores over one
// new, empty database and be safe to call from parallel tests.
func RunShared(t *testing.T, open func(t *testing.T) (a, b store.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b store.Store)
	}{
		{"WritesVisibleToTheOther", testSharedVisibility},
		{"SubscribeWakesOnOtherStoresCommit", testSharedSubscribe},
		{"ConcurrentWritersAcrossStores", func(t *testing.T, a, b store.Store) {
			concurrentCounter(t, []store.Store{a, b}, 3, 20)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			tc.fn(t, a, b)
		})
	}
}

func testSharedVisibility(t *testing.T, a, b store.Store) {
	d := put(t, a, doc("/shared", "t", "", `{"from":"a"}`))
	sameDoc(t, "b reads a's write", get(t, b, "/shared"), d)
	if rev := revision(t, b); rev != d.Revision {
		t.Fatalf("b's revision %d, want a's %d", rev, d.Revision)
	}
	d2, err := store.Put(t.Context(), b, doc("/shared", "t", "", `{"from":"b"}`), store.Precondition{IfMatch: d.ETag})
	if err != nil {
		t.Fatalf("b replaces a's write with IfMatch: %v", err)
	}
	if d2.Revision != d.Revision+1 {
		t.Fatalf("b's write got revision %d, want %d", d2.Revision, d.Revision+1)
	}
	sameDoc(t, "a reads b's write", get(t, a, "/shared"), d2)
	if cs := changes(t, a, 0); len(cs) != 2 {
		t.Fatalf("a sees %d change entries, want 2", len(cs))
	}
}

func testSharedSubscribe(t *testing.T, a, b store.Store) {
	ch, cancel := b.Subscribe()
	defer cancel()
	drain(ch)
	put(t, a, doc("/tree/from-a", "t", "/tree", `{}`))
	wantWake(t, ch, "commit by the other store")
	drain(ch)
	if n, err := a.DeleteTree(t.Context(), "/tree"); err != nil || n != 1 {
		t.Fatalf("delete tree = (%d, %v), want (1, nil)", n, err)
	}
	wantWake(t, ch, "delete tree by the other store")
}
