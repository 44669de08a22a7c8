package arm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/store"
)

// Operation states, as ARM's async operation resource reports them.
const (
	OpInProgress = "InProgress"
	OpSucceeded  = "Succeeded"
	OpFailed     = "Failed"
	OpCanceled   = "Canceled"
)

const (
	opDelete    = "delete"
	opProvision = "provision"

	// operationType is the store type of every operation document,
	// whatever namespace its URL uses, so unfinished ones can be found at
	// start-up with one query.
	operationType = "Perimeter/operations"
)

// Operation is a long-running operation. The public fields are ARM's
// operation resource; the Perimeter* ones let a restarted process resume it.
type Operation struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Status    string     `json:"status"`
	StartTime time.Time  `json:"startTime"`
	EndTime   *time.Time `json:"endTime,omitempty"`
	Error     *Error     `json:"error,omitempty"`

	Action       string `json:"perimeterAction"`
	ResourceID   string `json:"perimeterResourceId"`
	ResourceType string `json:"perimeterResourceType"`
	APIVersion   string `json:"perimeterApiVersion"`
	ErrorStatus  int    `json:"perimeterErrorStatus,omitempty"`
	// CallerID is the object id of the caller who started the operation:
	// it may follow it whatever its roles. Empty in operations stored
	// before it was recorded.
	CallerID string `json:"perimeterCallerId,omitempty"`
}

// public is the operation as clients see it.
func (o *Operation) public() any {
	return struct {
		ID        string     `json:"id"`
		Name      string     `json:"name"`
		Status    string     `json:"status"`
		StartTime time.Time  `json:"startTime"`
		EndTime   *time.Time `json:"endTime,omitempty"`
		Error     *Error     `json:"error,omitempty"`
	}{o.ID, o.Name, o.Status, o.StartTime, o.EndTime, o.Error}
}

func (s *Server) newOperation(req *Request, res *Resource, action string) *Operation {
	name := uuid.NewString()
	loc := res.Location
	if loc == "" {
		loc = "global"
	}
	sub := req.SubscriptionID()
	return &Operation{
		ID:   fmt.Sprintf("/subscriptions/%s/providers/%s/locations/%s/operationStatuses/%s", sub, Namespace(req.Spec.Type), loc, name),
		Name: name, Status: OpInProgress, StartTime: s.timeNow(),
		Action: action, ResourceID: res.ID, ResourceType: req.Spec.Type, APIVersion: req.APIVersion,
		CallerID: req.Caller.ObjectID,
	}
}

func (o *Operation) storeOp() store.Op {
	body, _ := json.Marshal(o)
	return store.Op{Put: &store.Document{ID: o.ID, Type: operationType, Body: body}}
}

// resultURL is the Location of an operation: where its final result is.
func (o *Operation) resultURL() string {
	return strings.TrimSuffix(o.ID, "/operationStatuses/"+o.Name) + "/operationResults/" + o.Name
}

// advertise sets the headers that tell a client how to follow an operation.
func (s *Server) advertise(w http.ResponseWriter, req *Request, op *Operation) {
	base := BaseURL(req.HTTP)
	q := "?api-version=" + url.QueryEscape(req.APIVersion)
	w.Header().Set("Azure-AsyncOperation", base+op.ID+q)
	w.Header().Set("Location", base+op.resultURL()+q)
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(s.cfg.RetryAfter/time.Second))))
}

// BaseURL is the scheme and host the client used, for URLs that point
// back at the listener (nextLink, operation URLs, endpoints).
func BaseURL(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

// run executes an operation in the background and returns a channel closed
// when it ends. Shutdown waits for it; if the process dies first, Start
// resumes it.
func (s *Server) run(op *Operation) <-chan struct{} {
	done := make(chan struct{})
	if s.baseCtx.Err() != nil {
		return done // never closed: the next start resumes it
	}
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		defer close(done)
		s.execute(s.baseCtx, op)
	}()
	return done
}

// waitInline waits up to Config.InlineWait for an operation and reports
// whether it finished; op may then be read.
func (s *Server) waitInline(ctx context.Context, done <-chan struct{}) bool {
	if s.cfg.InlineWait <= 0 {
		return false
	}
	t := time.NewTimer(s.cfg.InlineWait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func (s *Server) execute(ctx context.Context, op *Operation) {
	var err error
	switch op.Action {
	case opDelete:
		err = s.deleteResource(ctx, op.ResourceID)
	case opProvision:
		err = s.provision(ctx, op)
	default:
		err = fmt.Errorf("unknown operation action %q", op.Action)
	}
	if ctx.Err() != nil {
		return // shutting down: leave it InProgress to resume
	}
	end := s.timeNow()
	op.EndTime = &end
	op.Status = OpSucceeded
	if err != nil {
		ae, public := asError(err)
		if !public {
			s.log.Error("operation failed", "operation", op.ID, "resource", op.ResourceID, "err", err)
		}
		op.Status, op.Error, op.ErrorStatus = OpFailed, ae, ae.Status
		if op.Action == opDelete {
			s.undoDeleting(ctx, op.ResourceID)
		}
	}
	if _, err := s.cfg.Store.Apply(context.WithoutCancel(ctx), op.storeOp()); err != nil {
		s.log.Error("record operation result", "operation", op.ID, "err", err)
	}
}

// undoDeleting returns a resource whose delete failed from "Deleting" to
// "Succeeded", so that it can be used, and deleted, again.
func (s *Server) undoDeleting(ctx context.Context, id string) {
	doc, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return
	}
	res, err := decodeResource(doc)
	if err != nil || res.ProvisioningState() != "Deleting" {
		return
	}
	if res.SetProperty("provisioningState", "Succeeded") != nil {
		return
	}
	res.ETag = ""
	body, err := json.Marshal(res)
	if err != nil {
		return
	}
	if _, err := s.cfg.Store.Apply(ctx, store.Op{Put: &store.Document{ID: doc.ID, Type: doc.Type, Parent: doc.Parent, Body: body}, If: store.Precondition{IfMatch: doc.ETag}}); err != nil {
		s.log.Error("restore resource after failed delete", "resource", id, "err", err)
	}
}

// provision runs a kind's Provisioner and records the outcome in the
// resource's provisioningState.
func (s *Server) provision(ctx context.Context, op *Operation) error {
	k := s.kind(op.ResourceType)
	if k == nil {
		return fmt.Errorf("type %s is no longer registered", op.ResourceType)
	}
	for {
		doc, err := s.cfg.Store.Get(ctx, op.ResourceID)
		if errors.Is(err, store.ErrNotFound) {
			return Errorf(http.StatusNotFound, CodeResourceNotFound, "'%s' was deleted before provisioning finished.", op.ResourceID)
		}
		if err != nil {
			return err
		}
		res, err := decodeResource(doc)
		if err != nil {
			return err
		}
		if res.ProvisioningState() == "Deleting" {
			return Errorf(http.StatusConflict, "ResourceBeingDeleted", "'%s' is being deleted; provisioning stopped.", op.ResourceID)
		}
		props, perr := k.kind.(Provisioner).Provision(ctx, res)
		state := "Succeeded"
		if perr != nil {
			state = "Failed"
		} else if props != nil {
			res.Properties = props
		}
		if err := res.SetProperty("provisioningState", state); err != nil {
			return err
		}
		res.ETag = ""
		body, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = s.cfg.Store.Apply(ctx, store.Op{Put: &store.Document{ID: doc.ID, Type: doc.Type, Parent: doc.Parent, Body: body}, If: store.Precondition{IfMatch: doc.ETag}})
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue // changed meanwhile: provision the newer version
		}
		if err != nil {
			return err
		}
		return perr
	}
}

// resumeOperations restarts operations left InProgress by a previous
// process (both actions are idempotent, so running one twice is safe) and
// removes finished operations past their retention.
func (s *Server) resumeOperations(ctx context.Context) error {
	docs, err := s.cfg.Store.List(ctx, store.ListOptions{Type: operationType})
	if err != nil {
		return fmt.Errorf("list operations: %w", err)
	}
	expired := s.cfg.Now().Add(-s.cfg.OperationRetention)
	var prune []store.Op
	for _, d := range docs {
		var op Operation
		if err := json.Unmarshal(d.Body, &op); err != nil {
			return fmt.Errorf("operation %s: %w", d.ID, err)
		}
		switch {
		case op.Status == OpInProgress:
			s.log.Info("resuming operation", "operation", op.ID, "action", op.Action, "resource", op.ResourceID)
			s.run(&op)
		case op.EndTime != nil && op.EndTime.Before(expired):
			prune = append(prune, store.Op{Delete: d.ID, If: store.Precondition{IfMatch: d.ETag}})
		}
	}
	if len(prune) > 0 {
		if _, err := s.cfg.Store.Apply(ctx, prune...); err != nil && !errors.Is(err, store.ErrPreconditionFailed) && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("remove expired operations: %w", err)
		}
	}
	return nil
}

// serveOperation answers GETs of operationStatuses (the operation resource)
// and operationResults (202 while running, then the final result) to the
// callers mayFollow admits; others get the answer of an unknown operation.
func (s *Server) serveOperation(w http.ResponseWriter, r *http.Request, caller Caller, t target) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r.Method, "an operation", "GET")
	}
	n := len(t.elems)
	name := t.elems[n-1].Name
	statusID := FormatID(t.elems[:n-1]) + "/operationStatuses/" + name
	doc, err := s.cfg.Store.Get(r.Context(), statusID)
	if errors.Is(err, store.ErrNotFound) {
		return operationNotFound(name)
	}
	if err != nil {
		return err
	}
	var op Operation
	if err := json.Unmarshal(doc.Body, &op); err != nil {
		return fmt.Errorf("operation %s: %w", doc.ID, err)
	}
	ok, err := s.mayFollow(r.Context(), caller, &op)
	if err != nil {
		return err
	}
	if !ok {
		return operationNotFound(name)
	}
	if t.op == "operationStatuses" {
		writeJSON(w, http.StatusOK, op.public())
		return nil
	}
	switch op.Status {
	case OpInProgress:
		w.Header().Set("Location", BaseURL(r)+r.URL.RequestURI())
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(s.cfg.RetryAfter/time.Second))))
		w.WriteHeader(http.StatusAccepted)
		return nil
	case OpFailed, OpCanceled:
		e := op.Error
		if e == nil {
			e = Errorf(http.StatusInternalServerError, CodeInternalServerError, "The operation failed.")
		}
		if op.ErrorStatus != 0 {
			e.Status = op.ErrorStatus
		}
		return e
	}
	if op.Action == opDelete {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	res, err := s.cfg.Store.Get(r.Context(), op.ResourceID)
	if err != nil {
		return err
	}
	k := s.kind(op.ResourceType)
	if k == nil {
		return fmt.Errorf("type %s is no longer registered", op.ResourceType)
	}
	return s.writeDoc(w, http.StatusOK, &k.spec, res)
}

// operationNotFound is the 404 of an operation that does not exist, or
// that the caller may not follow: the two are not told apart.
func operationNotFound(name string) *Error {
	return Errorf(http.StatusNotFound, CodeOperationNotFound, "The operation '%s' was not found.", name)
}

// mayFollow reports whether caller may read op's status and result: the
// caller who started it, or one who may read the resource it acts on. The
// URL alone is not enough: it is logged, it may be shared, and the result
// is the resource's current document for as long as the operation is
// kept, whatever happened to the roles of whoever holds it.
func (s *Server) mayFollow(ctx context.Context, caller Caller, op *Operation) (bool, error) {
	if s.cfg.Authorizer == nil || (op.CallerID != "" && strings.EqualFold(op.CallerID, caller.ObjectID)) {
		return true, nil
	}
	if op.ResourceID == "" {
		return false, nil
	}
	perms, err := s.cfg.Authorizer.Permissions(ctx, caller)
	if err != nil {
		return false, fmt.Errorf("permissions of %s: %w", caller.ObjectID, err)
	}
	return perms.Allows(s.readAccess(op.ResourceID, op.ResourceType)), nil
}
