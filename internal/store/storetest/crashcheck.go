package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/perimeterhq/perimeter/internal/store"
)

// The crash child's documents: a group rewritten by every generation's
// Apply, and a tree deleted and re-created every crashTreeEvery
// generations.
const (
	crashGroupParent = "/crash/group"
	crashFlip        = "/crash/group/flip" // present exactly in even generations
	crashTreeRoot    = "/crash/tree"
	crashTreeEvery   = 3
	crashPadBytes    = 64 << 10
	feedPage         = 64
)

// crashGroup returns the ids every generation rewrites (besides the flip).
func crashGroup() []string {
	return []string{"/crash/group/m0", "/crash/group/m1", "/crash/group/m2", "/crash/group/m3"}
}

// crashTree returns the ids of the tree, all below crashTreeRoot.
func crashTree() []string {
	return []string{"/crash/tree/a", "/crash/tree/b", "/crash/tree/b/c"}
}

// crashBody is self-consistent: gen, check and every repetition in pad
// must agree, so a torn or mixed body is detected.
type crashBody struct {
	Gen   int    `json:"gen"`
	ID    string `json:"id"`
	Pad   string `json:"pad"`
	Check int    `json:"check"`
}

func crashDoc(id, parent string, gen int) store.Document {
	g := strconv.Itoa(gen)
	body, _ := json.Marshal(crashBody{Gen: gen, ID: id, Pad: strings.Repeat(g, crashPadBytes/len(g)), Check: gen})
	return store.Document{ID: id, Type: "Crash.Test/docs", Parent: parent, Body: body}
}

func parseCrashBody(d store.Document) (crashBody, error) {
	var b crashBody
	if err := json.Unmarshal(d.Body, &b); err != nil {
		return b, fmt.Errorf("document %s: body is not valid JSON (%d bytes): %w", d.ID, len(d.Body), err)
	}
	g := strconv.Itoa(b.Gen)
	if b.Check != b.Gen || b.ID != d.ID || b.Pad != strings.Repeat(g, crashPadBytes/len(g)) {
		return b, fmt.Errorf("document %s: body is not self-consistent (gen %d, check %d, id %q, %d pad bytes)",
			d.ID, b.Gen, b.Check, b.ID, len(b.Pad))
	}
	return b, nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// verifyCrash checks the store a killed writer left behind; committed is
// the last generation the writer reported before it died.
func verifyCrash(t *testing.T, ctx context.Context, s store.Store, committed int) {
	t.Helper()
	group, err := s.List(ctx, store.ListOptions{Parent: crashGroupParent})
	if err != nil {
		t.Fatalf("list group: %v", err)
	}
	gen := verifyGroup(t, group, committed)
	tree, err := s.List(ctx, store.ListOptions{Under: crashTreeRoot})
	if err != nil {
		t.Fatalf("list tree: %v", err)
	}
	verifyTree(t, tree, gen)
	verifyFeed(t, ctx, s)
}

// verifyGroup checks that the group is whole, from a single generation no
// older than the last one reported committed, and returns that generation.
func verifyGroup(t *testing.T, group []store.Document, committed int) int {
	t.Helper()
	gen := -1
	flip := false
	for _, d := range group {
		b, err := parseCrashBody(d)
		if err != nil {
			t.Fatal(err)
		}
		if gen >= 0 && b.Gen != gen {
			t.Fatalf("group mixes generations %d and %d (%s): an Apply was torn", gen, b.Gen, d.ID)
		}
		gen = b.Gen
		flip = flip || d.ID == crashFlip
	}
	want := len(crashGroup())
	if gen%2 == 0 {
		want++
	}
	if len(group) != want {
		t.Fatalf("group of generation %d has %d documents (flip present: %v), want %d: an Apply was torn",
			gen, len(group), flip, want)
	}
	if gen < committed {
		t.Fatalf("group is at generation %d but generation %d was reported committed: a committed Apply was lost", gen, committed)
	}
	return gen
}

// verifyTree checks that the tree is either absent (killed between its
// DeleteTree and re-creation) or whole from a single tree generation.
func verifyTree(t *testing.T, tree []store.Document, groupGen int) {
	t.Helper()
	if len(tree) == 0 {
		return
	}
	if len(tree) != len(crashTree()) {
		t.Fatalf("tree has %d documents %q, want none or %d", len(tree), ids(tree), len(crashTree()))
	}
	gen := -1
	for _, d := range tree {
		b, err := parseCrashBody(d)
		if err != nil {
			t.Fatal(err)
		}
		if gen >= 0 && b.Gen != gen {
			t.Fatalf("tree mixes generations %d and %d: an Apply was torn", gen, b.Gen)
		}
		gen = b.Gen
	}
	if gen%crashTreeEvery != 0 || gen > groupGen {
		t.Fatalf("tree is at generation %d, which never wrote it (group at %d)", gen, groupGen)
	}
}

type replayed struct {
	rev     int64
	deleted bool
	sum     [32]byte
}

// verifyFeed replays the whole change feed and checks that it yields
// exactly the stored documents, and that the latest entry is the store's
// revision.
func verifyFeed(t *testing.T, ctx context.Context, s store.Store) {
	t.Helper()
	state := map[string]replayed{}
	var last store.Change
	for {
		page, err := s.Changes(ctx, last.Revision, feedPage)
		if err != nil {
			t.Fatalf("changes after %d: %v", last.Revision, err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			if c.Revision <= last.Revision {
				t.Fatalf("change feed entry %d follows %d", c.Revision, last.Revision)
			}
			if c.Deleted != (c.Body == nil) {
				t.Fatalf("change %d for %s: deleted=%v with %d body bytes", c.Revision, c.ID, c.Deleted, len(c.Body))
			}
			if !c.Deleted && !json.Valid(c.Body) {
				t.Fatalf("change %d for %s: body is not valid JSON", c.Revision, c.ID)
			}
			state[c.ID] = replayed{rev: c.Revision, deleted: c.Deleted, sum: sha256.Sum256(c.Body)}
			last = c
		}
	}
	rev, err := s.Revision(ctx)
	if err != nil {
		t.Fatalf("revision: %v", err)
	}
	if rev != last.Revision {
		t.Fatalf("store revision %d, but the change feed ends at %d", rev, last.Revision)
	}
	docs, err := s.List(ctx, store.ListOptions{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var maxRev int64
	live := 0
	for _, d := range docs {
		r, ok := state[d.ID]
		if !ok || r.deleted || r.rev != d.Revision || r.sum != sha256.Sum256(d.Body) {
			t.Fatalf("document %s at revision %d does not match the change feed's last entry for it (%+v, found %v)",
				d.ID, d.Revision, r, ok)
		}
		if d.ETag != store.ETagFor(d.Revision) {
			t.Fatalf("document %s has ETag %s for revision %d", d.ID, d.ETag, d.Revision)
		}
		maxRev = max(maxRev, d.Revision)
	}
	for _, r := range state {
		if !r.deleted {
			live++
		}
	}
	if live != len(docs) {
		t.Fatalf("change feed replays to %d documents, store holds %d", live, len(docs))
	}
	if maxRev > last.Revision || (!last.Deleted && maxRev != last.Revision) {
		t.Fatalf("documents' max revision %d does not match the change feed's latest %d (deleted: %v)",
			maxRev, last.Revision, last.Deleted)
	}
}
