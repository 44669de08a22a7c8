// Package arm is the generic Azure Resource Manager machinery: resource ids,
// api-version checks, PUT/PATCH/GET/DELETE/list with paging, ETags,
// systemData, provisioningState and long-running operations, request ids and
// the error envelope. Resource types plug in as Kinds; the handler holds no
// per-type switch.
package arm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/store"
)

// Caller is the authenticated principal of a request.
type Caller struct {
	TenantID string
	ObjectID string
	AppID    string
	// Type is the systemData identity type: Application, User,
	// ManagedIdentity.
	Type string
}

// Name is how systemData names the caller.
func (c Caller) Name() string {
	if c.AppID != "" {
		return c.AppID
	}
	return c.ObjectID
}

// Authenticator establishes the caller of a request. It returns an *Error
// (401, with a WWW-Authenticate header) when the request carries no valid
// credential.
type Authenticator interface {
	Authenticate(r *http.Request) (Caller, error)
}

// Config is the plain configuration of a Server.
type Config struct {
	// Store holds every resource. Required.
	Store store.Store
	// Authenticator establishes callers. Required: there is no anonymous
	// access to the control plane.
	Authenticator Authenticator
	// Locations are the location names resources may use. Nil means
	// DefaultLocations.
	Locations []string
	// Logger receives one line per request and operation failures. Nil
	// means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// PageSize is the default number of items per list page. Zero means 100.
	PageSize int
	// MaxBodyBytes caps request bodies. Zero means 4 MiB, as ARM does.
	MaxBodyBytes int64
	// RetryAfter is the polling interval advertised for operations. Zero
	// means 1 second: operations here finish in milliseconds, so ARM's
	// usual 10 s floor would only slow clients down.
	RetryAfter time.Duration
	// InlineWait is how long a request that starts an operation waits for
	// it before answering 202: an operation finished by then is answered
	// with its final result at once (200/201), as ARM allows, sparing
	// clients a polling round trip. Zero answers 202 at once.
	InlineWait time.Duration
	// Authorizer decides what each caller may do (RBAC). Nil allows every
	// authenticated caller everything.
	Authorizer Authorizer
	// OperationRetention is how long finished operations stay readable.
	// Zero means 24 hours; older ones are removed at Start.
	OperationRetention time.Duration
}

// DefaultLocations are the location names known when Config.Locations is nil.
var DefaultLocations = []string{
	"global", "eastus", "eastus2", "westus", "westus2", "westus3", "centralus", "northcentralus",
	"southcentralus", "westcentralus", "canadacentral", "brazilsouth", "northeurope", "westeurope",
	"uksouth", "francecentral", "germanywestcentral", "swedencentral", "switzerlandnorth", "norwayeast",
	"polandcentral", "italynorth", "spaincentral", "uaenorth", "southafricanorth", "australiaeast",
	"japaneast", "koreacentral", "southeastasia", "eastasia", "centralindia", "southindia",
}

// Server serves the ARM REST API for the registered kinds.
type Server struct {
	cfg       Config
	log       *slog.Logger
	kinds     map[string]*registered // by lower-cased type
	locations map[string]bool

	baseCtx context.Context
	cancel  context.CancelFunc
	running sync.WaitGroup
}

type registered struct {
	spec Spec
	kind Kind
}

// NewServer builds a Server. Register kinds before serving.
func NewServer(cfg Config) *Server {
	if cfg.Locations == nil {
		cfg.Locations = DefaultLocations
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = 100
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = time.Second
	}
	if cfg.OperationRetention == 0 {
		cfg.OperationRetention = 24 * time.Hour
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: cfg.Logger, kinds: map[string]*registered{}, locations: map[string]bool{}, baseCtx: ctx, cancel: cancel}
	for _, l := range cfg.Locations {
		s.locations[NormalizeLocation(l)] = true
	}
	_ = s.Register(resourcesView{}) // a valid spec on an empty registry cannot fail
	return s
}

// Register adds resource types. It returns an error for a malformed spec or
// a type registered twice, so wiring mistakes fail at start-up.
func (s *Server) Register(kinds ...Kind) error {
	for _, k := range kinds {
		spec := k.Spec()
		key := strings.ToLower(spec.Type)
		switch {
		case !strings.Contains(spec.Type, "/"):
			return fmt.Errorf("arm: type %q is not fully qualified", spec.Type)
		case len(spec.APIVersions) == 0:
			return fmt.Errorf("arm: type %s has no api-versions", spec.Type)
		case s.kinds[key] != nil:
			return fmt.Errorf("arm: type %s registered twice", spec.Type)
		}
		if spec.Name == nil {
			spec.Name = DefaultName
		}
		if len(spec.Actions) > 0 {
			if _, ok := k.(Actioner); !ok {
				return fmt.Errorf("arm: type %s declares actions but has no Actioner", spec.Type)
			}
		}
		for a := range spec.ActionOperations {
			if !slices.Contains(spec.Actions, a) {
				return fmt.Errorf("arm: type %s maps the operation of action %q, which it does not declare", spec.Type, a)
			}
		}
		if spec.AsyncProvisioning {
			if _, ok := k.(Provisioner); !ok {
				return fmt.Errorf("arm: type %s is async but has no Provisioner", spec.Type)
			}
		}
		s.kinds[key] = &registered{spec: spec, kind: k}
	}
	return nil
}

// Specs returns the registered types, sorted by type.
func (s *Server) Specs() []Spec {
	out := make([]Spec, 0, len(s.kinds))
	for _, r := range s.kinds {
		out = append(out, r.spec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// Now is the server's clock, for kinds that stamp times.
func (s *Server) Now() time.Time { return s.cfg.Now() }

// Locations returns the known location names.
func (s *Server) Locations() []string { return slices.Clone(s.cfg.Locations) }

// Store returns the server's store, for kinds that read other resources.
func (s *Server) Store() store.Store { return s.cfg.Store }

func (s *Server) kind(typ string) *registered { return s.kinds[strings.ToLower(typ)] }

// NormalizeLocation turns "East US" into "eastus", as ARM does.
func NormalizeLocation(l string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(l), " ", ""))
}

// Start resumes operations that a previous process left unfinished and
// removes finished ones older than the retention.
func (s *Server) Start(ctx context.Context) error { return s.resumeOperations(ctx) }

// Shutdown stops starting operations and waits for running ones until ctx
// ends; any still running then are resumed at the next Start.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.running.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		return ctx.Err()
	}
}

// ServeHTTP handles one ARM request: ids and logging around serve, which
// returns an error that is rendered in exactly one place.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := uuid.NewString()
	corr := r.Header.Get("x-ms-correlation-request-id")
	if corr == "" {
		corr = rid
	}
	h := w.Header()
	h.Set("x-ms-request-id", rid)
	h.Set("x-ms-correlation-request-id", corr)
	if cid := r.Header.Get("x-ms-client-request-id"); cid != "" && strings.EqualFold(r.Header.Get("x-ms-return-client-request-id"), "true") {
		h.Set("x-ms-client-request-id", cid)
	}
	rec := &statusRecorder{ResponseWriter: w}
	caller, err := s.serve(rec, r)
	if err != nil {
		ae, public := asError(err)
		for k, v := range ae.Header {
			h[k] = v
		}
		if !public {
			s.log.Error("arm request failed", "requestId", rid, "method", r.Method, "path", r.URL.Path, "err", err)
		}
		WriteError(rec, ae)
	}
	s.log.Info("arm request", "requestId", rid, "correlationId", corr, "method", r.Method, "path", r.URL.Path,
		"status", rec.status, "durationMs", float64(time.Since(start).Microseconds())/1000, "caller", caller.ObjectID)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// target is what a request path resolved to.
type target struct {
	kind   *registered
	elems  []Elem // the resource, or the scope of a collection
	list   bool
	action string
	op     string // "operationStatuses" or "operationResults"
	// filter: the caller may not list the scope as a whole, only the
	// items it may read.
	filter bool
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) (Caller, error) {
	caller, err := s.cfg.Authenticator.Authenticate(r)
	if err != nil {
		return Caller{}, err
	}
	p, err := ParsePath(r.URL.Path)
	if err != nil {
		return caller, err
	}
	apiVersion := r.URL.Query().Get("api-version")
	if apiVersion == "" {
		return caller, BadRequest(CodeMissingAPIVersion,
			"The api-version query parameter (?api-version=) is required for all requests. Add it to the URL, for example ?api-version=2025-04-01.")
	}
	t, err := s.resolve(r.Method, p)
	if err != nil {
		return caller, err
	}
	if t.op != "" {
		return caller, s.serveOperation(w, r, caller, t)
	}
	spec := &t.kind.spec
	if !slices.Contains(spec.APIVersions, apiVersion) {
		return caller, BadRequest(CodeInvalidAPIVersion,
			"The api-version '%s' is not supported for resource type '%s'. Use one of: %s.",
			apiVersion, spec.Type, strings.Join(spec.APIVersions, ", "))
	}
	req := &Request{HTTP: r, APIVersion: apiVersion, Caller: caller, Elems: t.elems, ID: FormatID(t.elems), Spec: spec}
	ctx := r.Context()
	if t.filter, err = s.authorize(ctx, req, t); err != nil {
		return caller, err
	}
	switch {
	case t.list:
		if r.Method == http.MethodPost && containsFold(spec.Actions, "") {
			return caller, s.collectionAction(ctx, w, req, t)
		}
		if r.Method != http.MethodGet {
			return caller, methodNotAllowed(r.Method, "a collection", "GET")
		}
		return caller, s.list(ctx, w, req, t)
	case t.action != "":
		if r.Method != http.MethodPost {
			return caller, methodNotAllowed(r.Method, "action '"+t.action+"'", "POST")
		}
		return caller, s.action(ctx, w, req, t)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return caller, s.get(ctx, w, req, t)
	case http.MethodPut:
		return caller, s.put(ctx, w, req, t)
	case http.MethodPatch:
		return caller, s.patch(ctx, w, req, t)
	case http.MethodDelete:
		return caller, s.delete(ctx, w, req, t)
	}
	return caller, methodNotAllowed(r.Method, "a resource", "GET, HEAD, PUT, PATCH, DELETE")
}

func methodNotAllowed(method, what, allowed string) *Error {
	e := Errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "The method %s is not allowed on %s. Use %s.", method, what, allowed)
	e.Header = http.Header{"Allow": {allowed}}
	return e
}

// resolve decides what a parsed path addresses.
func (s *Server) resolve(method string, p Path) (target, error) {
	if n := len(p.Elems); p.Tail == "" && p.Section == "" && n >= 3 {
		last := p.Elems[n-1].Type
		for _, op := range [...]string{"operationStatuses", "operationResults"} {
			if strings.HasSuffix(strings.ToLower(last), "/locations/"+strings.ToLower(op)) {
				return target{elems: p.Elems, op: op}, nil
			}
		}
	}
	switch {
	case p.Tail != "" && p.Section != "":
		if k := s.kind(p.Section + "/" + p.Tail); k != nil {
			return s.collection(k, p.Elems)
		}
		if k := s.kind(TypeProvider); k != nil {
			elems := append(slices.Clone(p.Elems), Elem{Type: TypeProvider, Name: p.Section})
			return s.actionTarget(k, elems, p.Tail)
		}
	case p.Tail != "":
		if k := s.kind(p.TailType); k != nil {
			return s.collection(k, p.Elems)
		}
		if len(p.Elems) > 0 && method == http.MethodPost {
			if k := s.kind(p.Elems[len(p.Elems)-1].Type); k != nil {
				return s.actionTarget(k, p.Elems, p.Tail)
			}
		}
		return target{}, unknownType(p.TailType)
	case p.Section != "":
		if k := s.kind(TypeProvider); k != nil {
			return target{kind: k, elems: append(slices.Clone(p.Elems), Elem{Type: TypeProvider, Name: p.Section})}, nil
		}
	case len(p.Elems) > 0:
		last := p.Elems[len(p.Elems)-1]
		k := s.kind(last.Type)
		if k == nil {
			return target{}, unknownType(last.Type)
		}
		elems := s.canonical(p.Elems)
		if err := s.checkParentType(k, elems[:len(elems)-1]); err != nil {
			return target{}, err
		}
		return target{kind: k, elems: elems}, nil
	}
	return target{}, Errorf(http.StatusNotFound, CodeInvalidResourceType, "The path does not name an ARM resource or collection.")
}

func unknownType(typ string) *Error {
	return BadRequest(CodeInvalidResourceType,
		"The resource type '%s' is not supported. Check the path: it must alternate resource types and names after '/providers/{namespace}'.", typ)
}

func (s *Server) collection(k *registered, scope []Elem) (target, error) {
	scope = s.canonical(scope)
	if !k.spec.Extension && (k.spec.ParentType != "" || len(scope) > 0) {
		scopeType := ""
		if len(scope) > 0 {
			scopeType = scope[len(scope)-1].Type
		}
		if !strings.EqualFold(scopeType, k.spec.ParentType) && !slices.ContainsFunc(k.spec.ListUnder, func(t string) bool { return strings.EqualFold(t, scopeType) }) {
			return target{}, invalidID(FormatID(scope)+"/.../"+lastSegment(k.spec.Type),
				fmt.Sprintf("%s cannot be listed under a scope of type '%s'", k.spec.Type, orRoot(scopeType)))
		}
	}
	return target{kind: k, elems: scope, list: true}, nil
}

func (s *Server) actionTarget(k *registered, elems []Elem, action string) (target, error) {
	elems = s.canonical(elems)
	for _, a := range k.spec.Actions {
		if strings.EqualFold(a, action) {
			if err := s.checkParentType(k, elems[:len(elems)-1]); err != nil {
				return target{}, err
			}
			return target{kind: k, elems: elems, action: a}, nil
		}
	}
	return target{}, Errorf(http.StatusNotFound, CodeInvalidResourceType,
		"The resource type '%s' has no action or child collection '%s'.", k.spec.Type, action)
}

func (s *Server) checkParentType(k *registered, parent []Elem) error {
	if k.spec.Extension {
		return nil
	}
	parentType := ""
	if len(parent) > 0 {
		parentType = parent[len(parent)-1].Type
	}
	if !strings.EqualFold(parentType, k.spec.ParentType) {
		return invalidID(FormatID(parent)+"/.../"+lastSegment(k.spec.Type),
			fmt.Sprintf("a resource of type '%s' must be placed under a '%s', not under '%s'", k.spec.Type, orRoot(k.spec.ParentType), orRoot(parentType)))
	}
	return nil
}

func orRoot(t string) string {
	if t == "" {
		return "the tenant root"
	}
	return t
}

// canonical replaces the types of elements with their registered casing.
func (s *Server) canonical(elems []Elem) []Elem {
	out := slices.Clone(elems)
	for i, e := range out {
		if k := s.kind(e.Type); k != nil {
			out[i].Type = k.spec.Type
		}
	}
	return out
}

// loadScope checks that every element of elems exists and returns the last
// one stored (nil for virtual elements). Callers pass the ancestors of
// their target, or (whole) the target itself for actions. A resource being
// deleted refuses writes inside it.
func (s *Server) loadScope(ctx context.Context, elems []Elem, write bool) (*Resource, error) {
	sc, err := s.loadElems(ctx, elems, write, false)
	return sc.last, err
}

// scope is what loadElems found.
type scope struct {
	// last is the nearest stored element (nil for virtual elements).
	last *Resource
	// checks assert at commit that every stored element still has the
	// ETag it had when it was read here. A delete first marks its resource
	// Deleting (a new ETag), so a write validated before the mark cannot
	// commit after it.
	checks []store.Op
}

func (s *Server) loadElems(ctx context.Context, elems []Elem, write, whole bool) (scope, error) {
	var sc scope
	for i := range elems {
		e := elems[i]
		k := s.kind(e.Type)
		if k == nil {
			return scope{}, unknownType(e.Type)
		}
		if _, virtual := k.kind.(Reader); virtual {
			sc.last = nil
			continue
		}
		doc, err := s.cfg.Store.Get(ctx, FormatID(elems[:i+1]))
		if errors.Is(err, store.ErrNotFound) {
			nf := notFound(elems[:i+1])
			if nf.Code == CodeResourceNotFound && !whole {
				nf.Code = CodeParentResourceNotFound
				nf.Message = "Can not perform requested operation on nested resource. Parent resource '" + relativeName(resourcePart(elems[:i+1])) + "' not found."
			}
			return scope{}, nf
		}
		if err != nil {
			return scope{}, fmt.Errorf("load %s: %w", FormatID(elems[:i+1]), err)
		}
		res, err := decodeResource(doc)
		if err != nil {
			return scope{}, err
		}
		if write && res.ProvisioningState() == "Deleting" {
			return scope{}, Errorf(http.StatusConflict, "ResourceBeingDeleted",
				"'%s' is being deleted; wait for the deletion to finish before writing inside it.", res.ID)
		}
		sc.last = res
		sc.checks = append(sc.checks, store.Op{Check: doc.ID, If: store.Precondition{IfMatch: doc.ETag}})
	}
	return sc, nil
}

// notFound is the 404 ARM answers for a missing resource.
func notFound(elems []Elem) *Error {
	last := elems[len(elems)-1]
	switch {
	case strings.EqualFold(last.Type, TypeSubscription):
		return Errorf(http.StatusNotFound, CodeSubscriptionNotFound, "The subscription '%s' could not be found.", last.Name)
	case strings.EqualFold(last.Type, TypeResourceGroup):
		return Errorf(http.StatusNotFound, CodeResourceGroupNotFound, "Resource group '%s' could not be found.", last.Name)
	}
	where := ""
	if rg := ResourceGroupOf(elems); rg != "" {
		where = fmt.Sprintf(" under resource group '%s'", rg)
	}
	return Errorf(http.StatusNotFound, CodeResourceNotFound, "The Resource '%s'%s was not found.", relativeName(resourcePart(elems)), where)
}

// resourcePart drops the subscription and resource group from elements.
func resourcePart(elems []Elem) []Elem {
	start := 0
	for i, e := range elems {
		if strings.EqualFold(e.Type, TypeResourceGroup) || strings.EqualFold(e.Type, TypeSubscription) {
			start = i + 1
		}
	}
	return elems[start:]
}

// relativeName renders elements the way ARM messages name resources:
// "Microsoft.CognitiveServices/accounts/a/deployments/d".
func relativeName(elems []Elem) string {
	var b strings.Builder
	for i, e := range elems {
		if i == 0 {
			b.WriteString(e.Type)
		} else {
			b.WriteString("/" + lastSegment(e.Type))
		}
		b.WriteString("/" + e.Name)
	}
	return b.String()
}
