package arm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/perimeterhq/perimeter/internal/store"
)

// References are how one resource depends on another: an account's firewall
// rule on a subnet, a private endpoint on its subnet. A kind's Preparer
// lists them in Write.References; the generic handler then guarantees, in
// the same atomic write, that every referenced resource exists and is not
// being deleted, and refuses to delete a resource while others reference it.
//
// Both directions are stored as small documents next to the resources they
// describe, so deleting a subtree removes its bookkeeping with it:
//   - {source}/%outbound lists what the source references;
//   - {target}/%inbound lists who references the target.
// Every change to an inbound list is conditional on its ETag, and a delete
// asserts at commit that the target has no inbound list: a reference and a
// delete racing each other cannot both succeed. ('%' cannot occur in ARM
// names, so these ids never collide with resources.)

const (
	inboundType    = "Perimeter/inbound"
	outboundType   = "Perimeter/outbound"
	inboundSuffix  = "/%inbound"
	outboundSuffix = "/%outbound"
	// refAttempts bounds retries when concurrent writes change the same
	// inbound list.
	refAttempts = 8
)

// refList is the body of an inbound or outbound document.
type refList struct {
	IDs []string `json:"ids"`
}

func (s *Server) readRefs(ctx context.Context, id string) (refList, string, error) {
	doc, err := s.cfg.Store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return refList{}, "", nil
	}
	if err != nil {
		return refList{}, "", fmt.Errorf("read %s: %w", id, err)
	}
	var l refList
	if err := json.Unmarshal(doc.Body, &l); err != nil {
		return refList{}, "", fmt.Errorf("reference list %s: %w", id, err)
	}
	return l, doc.ETag, nil
}

// listOp writes ids as the reference list at id, deleting the document when
// the list is empty; etag is the version read ("" when absent).
func listOp(id, typ, parent string, ids []string, etag string) (store.Op, bool) {
	if len(ids) == 0 {
		if etag == "" {
			return store.Op{}, false
		}
		return store.Op{Delete: id, If: store.Precondition{IfMatch: etag}}, true
	}
	body, _ := json.Marshal(refList{IDs: ids})
	pre := store.Precondition{IfNoneMatch: "*"}
	if etag != "" {
		pre = store.Precondition{IfMatch: etag}
	}
	return store.Op{Put: &store.Document{ID: id, Type: typ, Parent: parent, Body: body}, If: pre}, true
}

func hasFold(ids []string, id string) bool {
	return slices.ContainsFunc(ids, func(x string) bool { return strings.EqualFold(x, id) })
}

// under reports whether id is root or lies below it.
func under(id, root string) bool {
	return strings.EqualFold(id, root) || (len(id) > len(root) && id[len(root)] == '/' && strings.EqualFold(id[:len(root)], root))
}

// referenceOps returns the ops that make source's recorded references equal
// targets: its outbound list, the inbound lists of targets added and
// removed, and a check that every added target exists.
func (s *Server) referenceOps(ctx context.Context, source string, targets []string) ([]store.Op, error) {
	old, oldTag, err := s.readRefs(ctx, source+outboundSuffix)
	if err != nil {
		return nil, err
	}
	var dedup []string
	for _, t := range targets {
		if !hasFold(dedup, t) {
			dedup = append(dedup, t)
		}
	}
	var ops []store.Op
	if !slices.EqualFunc(old.IDs, dedup, strings.EqualFold) {
		if op, ok := listOp(source+outboundSuffix, outboundType, source, dedup, oldTag); ok {
			ops = append(ops, op)
		}
	}
	for _, t := range dedup {
		if hasFold(old.IDs, t) {
			continue
		}
		if under(t, source) {
			return nil, BadRequest("LinkedInvalidPropertyId", "'%s' cannot reference itself or a resource inside it ('%s').", source, t)
		}
		checks, err := s.targetChecks(ctx, t)
		if err != nil {
			return nil, err
		}
		op, err := s.inboundOp(ctx, t, source, true)
		if err != nil {
			return nil, err
		}
		ops = append(append(ops, op), checks...)
	}
	for _, t := range old.IDs {
		if hasFold(dedup, t) {
			continue
		}
		op, err := s.inboundOp(ctx, t, source, false)
		if err != nil {
			return nil, err
		}
		if op.ID() != "" {
			ops = append(ops, op)
		}
	}
	return ops, nil
}

// targetChecks loads a referenced resource and everything above it, refuses
// it if it or an ancestor is missing or being deleted, and returns checks
// that they are unchanged at commit: a delete marks its resource first, so
// a reference validated before the mark cannot commit after it.
func (s *Server) targetChecks(ctx context.Context, target string) ([]store.Op, error) {
	elems, err := ParseID(target)
	if err != nil {
		return nil, BadRequest("LinkedInvalidPropertyId", "'%s' is not a valid resource id.", target)
	}
	sc, err := s.loadElems(ctx, elems, true, true)
	var ae *Error
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound, errors.As(err, &ae) && ae.Code == CodeInvalidResourceType:
		return nil, BadRequest("LinkedInvalidPropertyId", "The resource '%s' does not exist. Create it first or reference an existing resource.", target)
	case errors.As(err, &ae) && ae.Code == "ResourceBeingDeleted":
		return nil, Errorf(http.StatusConflict, "LinkedResourceBeingDeleted", "The resource '%s' is being deleted and cannot be referenced.", target)
	case err != nil:
		return nil, err
	}
	if sc.last == nil {
		return nil, BadRequest("LinkedInvalidPropertyId", "'%s' cannot be referenced.", target)
	}
	return sc.checks, nil
}

// inboundOp adds source to (or removes it from) target's inbound list.
func (s *Server) inboundOp(ctx context.Context, target, source string, add bool) (store.Op, error) {
	l, etag, err := s.readRefs(ctx, target+inboundSuffix)
	if err != nil {
		return store.Op{}, err
	}
	ids := slices.DeleteFunc(slices.Clone(l.IDs), func(x string) bool { return strings.EqualFold(x, source) })
	if add {
		ids = append(ids, source)
	}
	op, _ := listOp(target+inboundSuffix, inboundType, target, ids, etag)
	return op, nil
}

// UnreferencedCheck is an op asserting at commit that nothing references
// id: a write that deletes id outside the generic delete (a vnet PUT
// dropping an inline subnet) includes it so that a racing reference and the
// delete cannot both succeed.
func UnreferencedCheck(id string) store.Op {
	return store.Op{Check: id + inboundSuffix, If: store.Precondition{IfNoneMatch: "*"}}
}

// ReferencedBy returns the resources outside id's subtree that reference id
// or anything below it.
func (s *Server) ReferencedBy(ctx context.Context, id string) ([]string, error) {
	docs, err := s.cfg.Store.List(ctx, store.ListOptions{Type: inboundType, Under: id})
	if err != nil {
		return nil, fmt.Errorf("list references to %s: %w", id, err)
	}
	var users []string
	for _, d := range docs {
		var l refList
		if err := json.Unmarshal(d.Body, &l); err != nil {
			return nil, fmt.Errorf("reference list %s: %w", d.ID, err)
		}
		for _, src := range l.IDs {
			if !under(src, id) && !hasFold(users, src) {
				users = append(users, src)
			}
		}
	}
	return users, nil
}

// inUse is the refusal of a delete while other resources reference the
// resource.
func inUse(spec *Spec, id string, users []string) *Error {
	code := spec.InUseCode
	if code == "" {
		code = "InUseCannotBeDeleted"
	}
	if len(users) > 5 {
		users = append(users[:5:5], fmt.Sprintf("%d more", len(users)-5))
	}
	return Errorf(http.StatusConflict, code, "'%s' is in use by %s and cannot be deleted. Delete those resources or remove their references to it first.",
		id, strings.Join(users, ", "))
}

// releaseReferences removes the references held by the resource at id and
// everything below it from the inbound lists of what they reference, ahead
// of deleting them.
func (s *Server) releaseReferences(ctx context.Context, id string) error {
	docs, err := s.cfg.Store.List(ctx, store.ListOptions{Type: outboundType, Under: id})
	if err != nil {
		return fmt.Errorf("list references held below %s: %w", id, err)
	}
	for _, d := range docs {
		var l refList
		if err := json.Unmarshal(d.Body, &l); err != nil {
			return fmt.Errorf("reference list %s: %w", d.ID, err)
		}
		source := strings.TrimSuffix(d.ID, outboundSuffix)
		for _, t := range l.IDs {
			if err := s.retryRefs(ctx, func() ([]store.Op, error) {
				op, err := s.inboundOp(ctx, t, source, false)
				if err != nil || op.ID() == "" {
					return nil, err
				}
				return []store.Op{op}, nil
			}); err != nil {
				return fmt.Errorf("release reference from %s to %s: %w", source, t, err)
			}
		}
	}
	return nil
}

// retryRefs applies the ops build returns, rebuilding them when a
// concurrent write changed a reference list first.
func (s *Server) retryRefs(ctx context.Context, build func() ([]store.Op, error)) error {
	var err error
	for range refAttempts {
		var ops []store.Op
		if ops, err = build(); err != nil || len(ops) == 0 {
			return err
		}
		if _, err = s.cfg.Store.Apply(ctx, ops...); !errors.Is(err, store.ErrPreconditionFailed) {
			return err
		}
	}
	return err
}
