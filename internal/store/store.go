// Package store keeps Perimeter's state: JSON documents keyed by lower-cased
// ARM resource id, every write stamped with a global revision, and a change
// feed ("everything after revision N") that wakes the compilers feeding the
// data planes.
//
// Two implementations satisfy Store: store/sqlite (the embedded default) and
// store/postgres (several replicas sharing one database). Both pass the same
// conformance suite in store/storetest. Both also keep the access log of
// the data planes in a table of its own (accesslog.Sink): records are not
// documents, and take no revision and no change-feed entry.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is returned when a document does not exist.
var ErrNotFound = errors.New("store: document not found")

// ErrPreconditionFailed is returned when an Op's precondition does not hold:
// the ETag differs, the document exists under IfNoneMatch "*", or it is absent
// under IfMatch.
var ErrPreconditionFailed = errors.New("store: precondition failed")

// Document is one stored resource.
type Document struct {
	// ID is the document's key: an ARM resource id (or another absolute,
	// slash-separated path for internal documents). The store lower-cases it;
	// callers may pass any casing.
	ID string
	// Type is the fully qualified resource type, for example
	// "Microsoft.Resources/resourceGroups". Stored lower-cased.
	Type string
	// Parent is the id of the resource or scope that contains this one, used
	// to list children. Stored lower-cased. Empty for top-level documents.
	Parent string
	// Body is the JSON document. The store keeps it byte for byte.
	Body json.RawMessage
	// ETag changes on every write of the document. Set by the store; ignored
	// on input. It is a quoted string, ready for an HTTP ETag header.
	ETag string
	// Revision is the global revision of the write that produced this version
	// of the document. Set by the store; ignored on input.
	Revision int64
}

// Precondition guards a write. The zero value writes unconditionally.
type Precondition struct {
	// IfMatch, when set, requires the current document's ETag to equal it;
	// "*" requires only that the document exists.
	IfMatch string
	// IfNoneMatch "*" requires that the document does not exist. Other values
	// are not supported and fail the precondition.
	IfNoneMatch string
}

// Op is one step of an atomic Apply. Exactly one of Put, Delete and Check
// is set.
type Op struct {
	// Put writes this document (create or replace).
	Put *Document
	// Delete removes the document with this id. Deleting an absent document
	// fails the whole Apply with ErrNotFound.
	Delete string
	// Check asserts If on the document with this id without writing it, so
	// a write can depend on another document at commit time (a child on
	// its parent's existence). It takes no revision and no change entry.
	Check string
	// If guards this op.
	If Precondition
}

// ID is the id of the document the op concerns.
func (op Op) ID() string {
	switch {
	case op.Put != nil:
		return op.Put.ID
	case op.Delete != "":
		return op.Delete
	}
	return op.Check
}

// Writes counts the ops of an Apply that take a revision (all but checks).
func Writes(ops []Op) int {
	n := 0
	for _, op := range ops {
		if op.Check == "" {
			n++
		}
	}
	return n
}

// ListOptions selects documents for List. Zero fields do not filter.
type ListOptions struct {
	// Type keeps only documents of this type (case-insensitive).
	Type string
	// Parent keeps only documents whose Parent equals this (case-insensitive).
	Parent string
	// Under keeps only documents whose id lies strictly below this id
	// (id has the prefix Under + "/"), at any depth.
	Under string
	// After keeps only documents whose lower-cased id sorts after this one
	// (keyset pagination: pass the last id of the previous page).
	After string
	// Limit caps the number of documents returned; 0 means no cap.
	Limit int
}

// Change is one entry of the change feed.
type Change struct {
	Revision int64
	ID       string // lower-cased
	Type     string // lower-cased
	Deleted  bool
	// Body is the document as written; nil when Deleted.
	Body json.RawMessage
}

// Store is the state behind the control plane. Implementations are safe for
// concurrent use. Every Apply is atomic and durable once it returns: a
// process killed at any moment restarts with each document either as before
// the Apply or as after it.
type Store interface {
	// Get returns the current version of a document, or ErrNotFound.
	Get(ctx context.Context, id string) (Document, error)
	// List returns the selected documents ordered by lower-cased id.
	List(ctx context.Context, opts ListOptions) ([]Document, error)
	// Apply performs the ops atomically, all or none, and returns the written
	// documents in op order (for a Delete, the document as it was; for a
	// Check, the current document or a zero Document). Each write gets its
	// own revision, in order, and its own change-feed entry.
	Apply(ctx context.Context, ops ...Op) ([]Document, error)
	// DeleteTree removes every document strictly below the id (prefix
	// id + "/") in one atomic step, with a change-feed entry each, and
	// returns how many it removed.
	DeleteTree(ctx context.Context, id string) (int, error)
	// Changes returns up to limit change-feed entries with revision > after,
	// in revision order; limit <= 0 means no cap, as in ListOptions.
	// Entries are never returned out of order: a reader that saw revision N
	// will not later see a new entry below N.
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
	// Revision returns the latest committed revision (0 for an empty store).
	Revision(ctx context.Context) (int64, error)
	// Subscribe returns a channel that receives a value (coalesced, never
	// blocking the writer) after commits, including commits made by other
	// processes sharing the same database, and a func that ends the
	// subscription. Consumers then read Changes.
	Subscribe() (<-chan struct{}, func())
	// Close releases the store's resources.
	Close() error
}

// Key returns the canonical (lower-cased) form of a document id.
func Key(id string) string { return strings.ToLower(id) }

// Put writes one document; a convenience over Apply.
func Put(ctx context.Context, s Store, doc Document, pre Precondition) (Document, error) {
	docs, err := s.Apply(ctx, Op{Put: &doc, If: pre})
	if err != nil {
		return Document{}, err
	}
	return docs[0], nil
}

// Delete removes one document; a convenience over Apply.
func Delete(ctx context.Context, s Store, id string, pre Precondition) (Document, error) {
	docs, err := s.Apply(ctx, Op{Delete: id, If: pre})
	if err != nil {
		return Document{}, err
	}
	return docs[0], nil
}

// ETagFor returns the ETag a store assigns to a write at the given revision.
// Revisions are global, so an ETag is never reused, even after a delete and
// re-create.
func ETagFor(revision int64) string { return fmt.Sprintf("%q", fmt.Sprintf("%016x", revision)) }

// ValidateOp checks the shape of an op before any store touches it.
func ValidateOp(op Op) error {
	set := 0
	for _, b := range []bool{op.Put != nil, op.Delete != "", op.Check != ""} {
		if b {
			set++
		}
	}
	switch {
	case set != 1:
		return errors.New("store: op must set exactly one of Put, Delete and Check")
	case op.Put != nil && op.Put.ID == "":
		return errors.New("store: document without id")
	case op.Put != nil && !json.Valid(op.Put.Body):
		return fmt.Errorf("store: document %s: body is not valid JSON", op.Put.ID)
	}
	return nil
}

// CheckPrecondition decides whether a write may proceed given the current
// document (nil when absent). Both implementations call it inside their
// transaction so the check and the write are atomic.
func CheckPrecondition(id string, current *Document, pre Precondition) error {
	if pre.IfNoneMatch != "" {
		if pre.IfNoneMatch != "*" || current != nil {
			return fmt.Errorf("%w: %s exists", ErrPreconditionFailed, id)
		}
	}
	if pre.IfMatch != "" {
		if current == nil {
			return fmt.Errorf("%w: %s does not exist", ErrPreconditionFailed, id)
		}
		if pre.IfMatch != "*" && pre.IfMatch != current.ETag {
			return fmt.Errorf("%w: %s has ETag %s, not %s", ErrPreconditionFailed, id, current.ETag, pre.IfMatch)
		}
	}
	return nil
}
