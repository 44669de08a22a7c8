package arm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/store"
)

func isReader(k *registered) bool { _, ok := k.kind.(Reader); return ok }

func (s *Server) get(ctx context.Context, w http.ResponseWriter, req *Request, t target) error {
	if r, ok := t.kind.kind.(Reader); ok {
		if _, err := s.loadScope(ctx, t.elems[:len(t.elems)-1], false); err != nil {
			return err
		}
		v, err := r.Get(ctx, req)
		if err != nil {
			return err
		}
		if req.HTTP.Method == http.MethodHead {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
	if _, err := s.loadScope(ctx, t.elems[:len(t.elems)-1], false); err != nil {
		return err
	}
	doc, err := s.cfg.Store.Get(ctx, req.ID)
	if errors.Is(err, store.ErrNotFound) {
		f, ok := t.kind.kind.(Finder)
		if !ok {
			return notFound(t.elems)
		}
		v, err := f.Find(ctx, req)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", req.ID, err)
	}
	w.Header().Set("ETag", doc.ETag)
	if req.HTTP.Method == http.MethodHead {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return s.writeDoc(w, http.StatusOK, &t.kind.spec, doc)
}

// writeDoc sends a stored resource, adding its etag to the body when the
// type shows one there.
func (s *Server) writeDoc(w http.ResponseWriter, status int, spec *Spec, doc store.Document) error {
	body := []byte(doc.Body)
	if spec.BodyETag {
		res, err := decodeResource(doc)
		if err != nil {
			return err
		}
		if body, err = json.Marshal(res); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

func decodeResource(doc store.Document) (*Resource, error) {
	var r Resource
	if err := json.Unmarshal(doc.Body, &r); err != nil {
		return nil, fmt.Errorf("stored document %s is not a resource: %w", doc.ID, err)
	}
	r.ETag = doc.ETag
	return &r, nil
}

// current returns the stored resource at id, or nil.
func (s *Server) current(ctx context.Context, id string) (*Resource, error) {
	doc, err := s.cfg.Store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", id, err)
	}
	return decodeResource(doc)
}

// checkConditional applies If-Match and If-None-Match to the stored
// resource (nil when absent).
func checkConditional(r *http.Request, old *Resource) error {
	if im := r.Header.Get("If-Match"); im != "" {
		if old == nil || (im != "*" && !etagListHas(im, old.ETag)) {
			return Errorf(http.StatusPreconditionFailed, CodePreconditionFailed,
				"The If-Match condition '%s' does not match the resource's current ETag. GET the resource again and retry with its ETag.", im)
		}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && old != nil {
		if inm == "*" || etagListHas(inm, old.ETag) {
			return Errorf(http.StatusPreconditionFailed, CodePreconditionFailed,
				"The resource already exists and If-None-Match is '%s'. Remove the header to update it.", inm)
		}
	}
	return nil
}

func etagListHas(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == etag || `"`+v+`"` == etag {
			return true
		}
	}
	return false
}

func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, Errorf(http.StatusRequestEntityTooLarge, CodeRequestTooLarge,
			"The request content is larger than the %d MiB limit. Send a smaller body.", s.cfg.MaxBodyBytes>>20)
	}
	if err != nil {
		return nil, BadRequest(CodeInvalidRequestContent, "The request content could not be read: %v.", err)
	}
	if ct := r.Header.Get("Content-Type"); len(body) > 0 && ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		return nil, Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			"The content type '%s' is not supported. Send the body as application/json.", ct)
	}
	return body, nil
}

// decodeObject decodes a request body that must be one JSON object.
func decodeObject(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return BadRequest(CodeInvalidRequestContent, "The request content is empty. Send the resource as a JSON object.")
	}
	if trimmed[0] != '{' {
		return BadRequest(CodeInvalidRequestContent, "The request content must be a JSON object ('{...}').")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return decodeError(body, err)
	}
	return nil
}

func (s *Server) put(ctx context.Context, w http.ResponseWriter, req *Request, t target) error {
	spec := req.Spec
	if spec.ReadOnly || isReader(t.kind) {
		return methodNotAllowed(http.MethodPut, spec.Type, "GET")
	}
	name := t.elems[len(t.elems)-1].Name
	if err := spec.Name(name); err != nil {
		return err
	}
	sc, err := s.loadElems(ctx, t.elems[:len(t.elems)-1], true, false)
	if err != nil {
		return err
	}
	if err := s.checkRegistered(ctx, req); err != nil {
		return err
	}
	body, err := s.readBody(w, req.HTTP)
	if err != nil {
		return err
	}
	var in Resource
	if err := decodeObject(body, &in); err != nil {
		return err
	}
	old, err := s.current(ctx, req.ID)
	if err != nil {
		return err
	}
	if err := checkConditional(req.HTTP, old); err != nil {
		return err
	}
	return s.write(ctx, w, &Write{Request: req, Old: old, Parent: sc.last, New: &in, scopeChecks: sc.checks})
}

func (s *Server) patch(ctx context.Context, w http.ResponseWriter, req *Request, t target) error {
	spec := req.Spec
	if spec.ReadOnly || isReader(t.kind) {
		return methodNotAllowed(http.MethodPatch, spec.Type, "GET")
	}
	sc, err := s.loadElems(ctx, t.elems[:len(t.elems)-1], true, false)
	if err != nil {
		return err
	}
	if err := s.checkRegistered(ctx, req); err != nil {
		return err
	}
	body, err := s.readBody(w, req.HTTP)
	if err != nil {
		return err
	}
	var patch map[string]json.RawMessage
	if err := decodeObject(body, &patch); err != nil {
		return err
	}
	old, err := s.current(ctx, req.ID)
	if err != nil {
		return err
	}
	if old == nil {
		return notFound(t.elems)
	}
	if err := checkConditional(req.HTTP, old); err != nil {
		return err
	}
	merged, err := applyPatch(old, patch)
	if err != nil {
		return err
	}
	var in Resource
	if err := json.Unmarshal(merged, &in); err != nil {
		return decodeError(merged, err)
	}
	return s.write(ctx, w, &Write{Request: req, Old: old, Parent: sc.last, New: &in, scopeChecks: sc.checks})
}

// applyPatch merges a PATCH body into the stored resource: JSON merge patch
// (RFC 7396) for properties, sku and identity; tags are replaced whole, as
// ARM does; read-only fields are ignored.
func applyPatch(old *Resource, patch map[string]json.RawMessage) ([]byte, error) {
	base, err := json.Marshal(old)
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, err
	}
	for k, v := range patch {
		switch k {
		case "id", "name", "type", "etag", "systemData":
		case "properties", "sku", "identity":
			doc[k] = mergePatch(doc[k], v)
		default:
			doc[k] = v
		}
	}
	return json.Marshal(doc)
}

// mergePatch implements RFC 7396 JSON merge patch.
func mergePatch(target, patch json.RawMessage) json.RawMessage {
	var p map[string]json.RawMessage
	if json.Unmarshal(patch, &p) != nil || p == nil {
		return patch
	}
	var t map[string]json.RawMessage
	if json.Unmarshal(target, &t) != nil || t == nil {
		t = map[string]json.RawMessage{}
	}
	for k, v := range p {
		if string(bytes.TrimSpace(v)) == "null" {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	out, _ := json.Marshal(t)
	return out
}

// write validates and stores a create or update (w.New decoded from the
// body), then answers it.
func (s *Server) write(ctx context.Context, rw http.ResponseWriter, w *Write) error {
	spec := w.Spec
	name := w.Elems[len(w.Elems)-1].Name
	in := w.New
	res := &Resource{
		ID: w.ID, Name: name, Type: spec.Type, Kind: in.Kind, ManagedBy: in.ManagedBy,
		Tags: in.Tags, SKU: in.SKU, Identity: in.Identity, Properties: in.Properties,
	}
	if w.Parent != nil {
		res.ID = w.Parent.ID + idSuffix(w.Parent.Type, spec.Type, name)
	}
	if w.Old != nil {
		if w.Old.ProvisioningState() == "Deleting" {
			return Errorf(http.StatusConflict, "ResourceBeingDeleted", "'%s' is being deleted and cannot be updated.", w.Old.ID)
		}
		res.ID, res.Name = w.Old.ID, w.Old.Name
	}
	if err := s.applyLocation(w, in, res); err != nil {
		return err
	}
	if err := validateTags(res.Tags); err != nil {
		return err
	}
	if spec.NoProperties {
		res.Properties = nil
	} else if err := cleanProperties(res); err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	res.SystemData = &SystemData{
		CreatedBy: w.Caller.Name(), CreatedByType: w.Caller.Type, CreatedAt: now,
		LastModifiedBy: w.Caller.Name(), LastModifiedByType: w.Caller.Type, LastModifiedAt: now,
	}
	if w.Old != nil && w.Old.SystemData != nil {
		res.SystemData.CreatedBy, res.SystemData.CreatedByType, res.SystemData.CreatedAt =
			w.Old.SystemData.CreatedBy, w.Old.SystemData.CreatedByType, w.Old.SystemData.CreatedAt
	}
	w.New = res
	if err := s.checkEarlyAccesses(ctx, w.Request, w.Old, w.New); err != nil {
		return err
	}
	if p, ok := s.kind(spec.Type).kind.(Preparer); ok {
		if err := p.Prepare(ctx, w); err != nil {
			return err
		}
	}
	if err := s.checkAccesses(ctx, "write", w.Request, w.Old, w.New); err != nil {
		return err
	}
	res = w.New
	if !spec.NoProperties {
		state := "Succeeded"
		if spec.AsyncProvisioning {
			state = "Accepted"
		}
		if err := res.SetProperty("provisioningState", state); err != nil {
			return err
		}
	}
	res.ETag = ""
	body, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode %s: %w", res.ID, err)
	}
	doc := store.Document{ID: res.ID, Type: spec.Type, Parent: FormatID(w.Elems[:len(w.Elems)-1]), Body: body}
	if w.Parent != nil {
		doc.Parent = w.Parent.ID
	}
	pre := store.Precondition{IfNoneMatch: "*"}
	if w.Old != nil {
		pre = store.Precondition{IfMatch: w.Old.ETag}
	}
	ops := append([]store.Op{{Put: &doc, If: pre}}, w.Ops...)
	var op *Operation
	if spec.AsyncProvisioning {
		op = s.newOperation(w.Request, res, opProvision)
		ops = append(ops, op.storeOp())
	}
	// Everything this write was validated against must be unchanged at
	// commit: the resource itself, its scope as Prepare saw it (a resource
	// group being marked for deletion changes its ETag), and what it
	// references. Only reference lists, which Prepare does not read, are
	// worth retrying: other documents change them concurrently.
	// Checks go first: ops below may rewrite a document the scope includes
	// (a subnet updates its network's inline list).
	ops = append(slices.Clone(w.scopeChecks), ops...)
	main := len(w.scopeChecks)
	var docs []store.Document
	for attempt := 1; ; attempt++ {
		refOps, err := s.referenceOps(ctx, res.ID, w.References)
		if err != nil {
			return err
		}
		docs, err = s.cfg.Store.Apply(ctx, append(slices.Clone(ops), refOps...)...)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrPreconditionFailed) {
			return fmt.Errorf("store %s: %w", res.ID, err)
		}
		if attempt == refAttempts || !s.holds(ctx, ops) {
			if _, perr := s.loadScope(ctx, w.Elems[:len(w.Elems)-1], true); perr != nil {
				return perr // the parent went away or is being deleted
			}
			return Errorf(http.StatusConflict, CodeConflict, "'%s' or its parent was changed by another request while this one ran. Retry the request.", res.ID)
		}
	}
	status := http.StatusOK
	if w.Old == nil {
		status = http.StatusCreated
	}
	final := docs[main]
	if op != nil {
		if done := s.run(op); s.waitInline(ctx, done) {
			if op.Status != OpSucceeded {
				return op.Error
			}
			if final, err = s.cfg.Store.Get(ctx, res.ID); err != nil {
				return fmt.Errorf("read %s after provisioning: %w", res.ID, err)
			}
		} else {
			s.advertise(rw, w.Request, op)
		}
	}
	rw.Header().Set("ETag", final.ETag)
	return s.writeDoc(rw, status, spec, final)
}

// holds reports whether the preconditions of ops still hold now: if they
// do, a failed Apply failed on something else (a reference list).
func (s *Server) holds(ctx context.Context, ops []store.Op) bool {
	for _, op := range ops {
		if op.If == (store.Precondition{}) {
			continue
		}
		var cur *store.Document
		doc, err := s.cfg.Store.Get(ctx, op.ID())
		switch {
		case err == nil:
			cur = &doc
		case !errors.Is(err, store.ErrNotFound):
			return false
		}
		if store.CheckPrecondition(op.ID(), cur, op.If) != nil {
			return false
		}
	}
	return true
}

// idSuffix is the part of a child's id after its parent's id.
func idSuffix(parentType, childType, name string) string {
	parent := FormatID([]Elem{{Type: parentType, Name: "_"}})
	return strings.TrimPrefix(FormatID([]Elem{{Type: parentType, Name: "_"}, {Type: childType, Name: name}}), parent)
}

func (s *Server) applyLocation(w *Write, in, res *Resource) error {
	switch w.Spec.Location {
	case LocationNone:
		return nil
	case LocationInherited:
		if w.Parent != nil {
			res.Location = w.Parent.Location
		}
		return nil
	}
	if in.Location == "" {
		e := BadRequest(CodeLocationRequired, "The location property is required for this definition. Set 'location', for example \"eastus\".")
		e.Target = "location"
		return e
	}
	loc := NormalizeLocation(in.Location)
	if !s.locations[loc] {
		e := BadRequest(CodeInvalidLocation, "The location '%s' is not available. Use one of: %s.", in.Location, strings.Join(s.cfg.Locations, ", "))
		e.Target = "location"
		return e
	}
	if w.Old != nil && w.Old.Location != "" && w.Old.Location != loc {
		return Errorf(http.StatusConflict, "InvalidResourceLocation",
			"'%s' already exists in location '%s'; a resource cannot move to '%s'. Keep location '%s' or use another name.", w.Old.ID, w.Old.Location, loc, w.Old.Location)
	}
	res.Location = loc
	return nil
}

func validateTags(tags map[string]string) error {
	if len(tags) > 50 {
		return InvalidProperty("InvalidTag", "tags", "A resource can have at most 50 tags; this request has %d.", len(tags))
	}
	for k, v := range tags {
		switch {
		case k == "" || len(k) > 512:
			return InvalidProperty(CodeInvalidTagName, "tags", "The tag name '%s' must be 1 to 512 characters long.", k)
		case strings.ContainsAny(k, "<>%&\\?/"):
			return InvalidProperty("InvalidTagNameCharacters", "tags", "The tag name '%s' must not contain any of <>%%&\\?/.", k)
		case len(v) > 256:
			return InvalidProperty("InvalidTag", "tags", "The value of tag '%s' is longer than 256 characters.", k)
		}
	}
	return nil
}

// cleanProperties checks that properties are an object and drops the
// read-only provisioningState a client may have echoed back.
func cleanProperties(res *Resource) error {
	raw := bytes.TrimSpace(res.Properties)
	if len(raw) == 0 || string(raw) == "null" {
		res.Properties = json.RawMessage("{}")
		return nil
	}
	var props map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &props) != nil {
		return InvalidProperty(CodeInvalidRequestContent, "properties", "The property 'properties' must be a JSON object.")
	}
	if _, ok := props["provisioningState"]; ok {
		delete(props, "provisioningState")
		out, err := json.Marshal(props)
		if err != nil {
			return err
		}
		res.Properties = out
	}
	return nil
}

func (s *Server) delete(ctx context.Context, w http.ResponseWriter, req *Request, t target) error {
	spec := req.Spec
	if spec.ReadOnly || isReader(t.kind) {
		return methodNotAllowed(http.MethodDelete, spec.Type, "GET")
	}
	if _, err := s.loadScope(ctx, t.elems[:len(t.elems)-1], false); err != nil {
		return err
	}
	old, err := s.current(ctx, req.ID)
	if err != nil {
		return err
	}
	if old == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err := checkConditional(req.HTTP, old); err != nil {
		return err
	}
	// Accesses first: a delete check's refusal names other resources (a
	// role's assignments), which only a caller allowed the delete may see.
	if err := s.checkAccesses(ctx, "delete", req, old, nil); err != nil {
		return err
	}
	d := &Delete{Request: req, Old: old}
	if c, ok := t.kind.kind.(DeleteChecker); ok {
		if err := c.CheckDelete(ctx, d); err != nil {
			return err
		}
	}
	if users, err := s.ReferencedBy(ctx, old.ID); err != nil {
		return err
	} else if len(users) > 0 {
		return inUse(spec, old.ID, users)
	}
	if spec.AsyncDelete && old.ProvisioningState() == "Deleting" {
		return Errorf(http.StatusConflict, "ResourceBeingDeleted", "'%s' is already being deleted.", old.ID)
	}
	// Mark the resource Deleting first. That changes its ETag, so writes
	// and references inside it that were validated earlier cannot commit,
	// and later ones are refused; deleteResource's check for references is
	// then final.
	marked := *old
	if !spec.NoProperties {
		if err := marked.SetProperty("provisioningState", "Deleting"); err != nil {
			return err
		}
	}
	marked.ETag = ""
	body, err := json.Marshal(&marked)
	if err != nil {
		return err
	}
	ops := append([]store.Op{{Put: &store.Document{ID: old.ID, Type: spec.Type, Parent: FormatID(t.elems[:len(t.elems)-1]), Body: body}, If: store.Precondition{IfMatch: old.ETag}}}, d.Ops...)
	var op *Operation
	if spec.AsyncDelete {
		op = s.newOperation(req, old, opDelete)
		ops = append(ops, op.storeOp())
	}
	if _, err := s.cfg.Store.Apply(ctx, ops...); errors.Is(err, store.ErrPreconditionFailed) {
		return Errorf(http.StatusConflict, CodeConflict, "'%s' was changed by another request while this one ran. Retry the request.", old.ID)
	} else if err != nil {
		return fmt.Errorf("start deleting %s: %w", old.ID, err)
	}
	if op == nil {
		if err := s.deleteResource(ctx, old.ID); err != nil {
			s.undoDeleting(context.WithoutCancel(ctx), old.ID)
			return err
		}
		w.WriteHeader(deletedStatus(spec))
		return nil
	}
	if done := s.run(op); s.waitInline(ctx, done) {
		if op.Status != OpSucceeded {
			return op.Error
		}
		w.WriteHeader(deletedStatus(spec))
		return nil
	}
	s.advertise(w, req, op)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// deletedStatus is the status of a delete finished before the response.
func deletedStatus(spec *Spec) int {
	if spec.DeleteNoContent {
		return http.StatusNoContent
	}
	return http.StatusOK
}

// deleteResource removes a resource and everything below it. It releases
// the references the subtree holds, then removes the resource itself —
// asserting at commit that nothing references it, and so that no child can
// be created under it afterwards (child writes check their parent at
// commit) — and then its subtree. A crash in between leaves the operation
// to resume, which finishes the subtree.
func (s *Server) deleteResource(ctx context.Context, id string) error {
	// The resource is marked Deleting, so nothing can reference it anew:
	// this check is final.
	if users, err := s.ReferencedBy(ctx, id); err != nil {
		return err
	} else if len(users) > 0 {
		return inUse(s.specOf(ctx, id), id, users)
	}
	if err := s.releaseReferences(ctx, id); err != nil {
		return err
	}
	ops, exists, err := s.cleanupOps(ctx, id)
	if err != nil {
		return err
	}
	if exists {
		ops = append(ops, store.Op{Delete: id}, UnreferencedCheck(id))
	}
	_, err = s.cfg.Store.Apply(ctx, ops...)
	switch {
	case errors.Is(err, store.ErrPreconditionFailed):
		users, uerr := s.ReferencedBy(ctx, id)
		if uerr != nil {
			return uerr
		}
		if len(users) == 0 {
			return Errorf(http.StatusConflict, CodeConflict, "'%s' was changed by another request while it was being deleted. Retry the delete.", id)
		}
		return inUse(s.specOf(ctx, id), id, users)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("delete %s: %w", id, err)
	}
	if _, err := s.cfg.Store.DeleteTree(ctx, id); err != nil {
		return fmt.Errorf("delete below %s: %w", id, err)
	}
	return nil
}

// specOf returns the spec of the stored resource at id (an empty one if it
// is gone or of an unknown type).
func (s *Server) specOf(ctx context.Context, id string) *Spec {
	if doc, err := s.cfg.Store.Get(ctx, id); err == nil {
		if k := s.kind(doc.Type); k != nil {
			return &k.spec
		}
	}
	return &Spec{}
}

// cleanupOps collects the Cleaner ops of the resource at id and of every
// resource below it, and reports whether the resource itself still exists.
func (s *Server) cleanupOps(ctx context.Context, id string) ([]store.Op, bool, error) {
	docs, err := s.cfg.Store.List(ctx, store.ListOptions{Under: id})
	if err != nil {
		return nil, false, fmt.Errorf("list resources below %s: %w", id, err)
	}
	root, err := s.cfg.Store.Get(ctx, id)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, false, fmt.Errorf("get %s: %w", id, err)
	}
	if exists {
		docs = append(docs, root)
	}
	var ops []store.Op
	for _, d := range docs {
		k := s.kind(d.Type)
		if k == nil {
			continue
		}
		c, ok := k.kind.(Cleaner)
		if !ok {
			continue
		}
		res, err := decodeResource(d)
		if err != nil {
			return nil, false, err
		}
		more, err := c.Cleanup(ctx, res, id)
		if err != nil {
			return nil, false, fmt.Errorf("clean up after %s: %w", d.ID, err)
		}
		ops = append(ops, more...)
	}
	return ops, exists, nil
}

// collectionAction answers POST on a collection path.
func (s *Server) collectionAction(ctx context.Context, w http.ResponseWriter, req *Request, t target) error {
	if _, err := s.loadScope(ctx, t.elems, false); err != nil {
		return err
	}
	return s.runAction(ctx, w, &Action{Request: req}, t.kind)
}

func (s *Server) action(ctx context.Context, w http.ResponseWriter, req *Request, t target) error {
	a := &Action{Request: req, Name: t.action}
	if isReader(t.kind) {
		if _, err := s.loadScope(ctx, t.elems[:len(t.elems)-1], false); err != nil {
			return err
		}
	} else {
		sc, err := s.loadElems(ctx, t.elems, false, true)
		if err != nil {
			return err
		}
		a.Resource = sc.last
		if err := s.checkRegistered(ctx, req); err != nil {
			return err
		}
	}
	return s.runAction(ctx, w, a, t.kind)
}

func (s *Server) runAction(ctx context.Context, w http.ResponseWriter, a *Action, k *registered) error {
	body, err := s.readBody(w, a.HTTP)
	if err != nil {
		return err
	}
	a.Body = body
	result, err := k.kind.(Actioner).Action(ctx, a)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if result != nil && result.Status != 0 {
		status = result.Status
	}
	if result == nil || result.Body == nil {
		w.WriteHeader(status)
		return nil
	}
	writeJSON(w, status, result.Body)
	return nil
}

// timeNow is the server clock in UTC, truncated for stable JSON.
func (s *Server) timeNow() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// containsFold reports whether list holds v, ignoring case.
func containsFold(list []string, v string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, v) })
}
