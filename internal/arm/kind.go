package arm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/store"
)

// A Kind plugs one resource type into the generic ARM handler. Spec says
// what the type is; optional interfaces (Preparer, Provisioner,
// DeleteChecker, Actioner, Reader) add behaviour where the generic
// document handling is not enough.
type Kind interface {
	Spec() Spec
}

// Preparer validates a create or update and fills in defaults. It may change
// w.New (never w.Old) and add store ops that must commit with the write.
// Returning an *Error refuses the request; nothing is written.
type Preparer interface {
	Prepare(ctx context.Context, w *Write) error
}

// Provisioner does the slow part of a create or update after the PUT has
// been answered (Spec.AsyncProvisioning). It returns the properties to
// store, or an error that fails the operation and sets provisioningState
// to Failed.
type Provisioner interface {
	Provision(ctx context.Context, r *Resource) (json.RawMessage, error)
}

// DeleteChecker may refuse a delete, for example of a subnet still in use.
type DeleteChecker interface {
	CheckDelete(ctx context.Context, d *Delete) error
}

// Cleaner is implemented by kinds whose resources own or mirror documents
// outside their subtree: a globally reserved name, a managed identity's
// service principal, a copy in the parent's body. Cleanup returns the ops
// that remove or update those documents (only ones that exist, so a resumed
// delete finds nothing left to do); they commit atomically with the delete.
// root is the id of the resource being deleted - r itself, or an ancestor
// when r goes with its parent or resource group; documents at or below
// root are deleted anyway and must not be written.
type Cleaner interface {
	Cleanup(ctx context.Context, r *Resource, root string) ([]store.Op, error)
}

// Actioner answers POST actions on a resource (Spec.Actions), such as
// listKeys or register.
type Actioner interface {
	Action(ctx context.Context, a *Action) (*Result, error)
}

// Reader serves types that are not stored documents but views computed on
// request (resource providers, features). Kinds implementing Reader do not
// support PUT, PATCH or DELETE unless they also implement Preparer.
type Reader interface {
	Get(ctx context.Context, r *Request) (any, error)
	List(ctx context.Context, r *Request) ([]any, error)
}

// Spec describes a resource type to the generic handler.
type Spec struct {
	// Type is the canonical fully qualified type, e.g.
	// "Microsoft.CognitiveServices/accounts/deployments".
	Type string
	// APIVersions are the api-version values accepted for the type.
	APIVersions []string
	// ParentType is the type of the resource or scope that contains this
	// one (Microsoft.Resources/resourceGroups for most tracked resources).
	// Empty means the root of the tenant.
	ParentType string
	// ListUnder are ancestor types whose scope may also list this type, for
	// example subscriptions for accounts (GET
	// /subscriptions/{s}/providers/Microsoft.CognitiveServices/accounts).
	ListUnder []string
	// Location says whether a location is required, forbidden or inherited
	// from the parent.
	Location LocationPolicy
	// Tracked resources appear in /resources listings and carry tags.
	Tracked bool
	// Name checks a resource name; nil means DefaultName.
	Name func(name string) error
	// BodyETag puts "etag" in the body too (the ETag header is always sent).
	BodyETag bool
	// AsyncProvisioning answers PUT with provisioningState Accepted and an
	// operation, then runs the kind's Provisioner.
	AsyncProvisioning bool
	// AsyncDelete answers DELETE with 202 and an operation.
	AsyncDelete bool
	// DeleteNoContent answers a delete that finished before the response
	// (a synchronous one, or an operation done within InlineWait) with 204
	// instead of 200. The SDKs differ: armcognitiveservices'
	// ProjectsClient.BeginDelete accepts only 202/204, armresources'
	// ResourceGroupsClient.BeginDelete only 200/202.
	DeleteNoContent bool
	// ReadOnly types cannot be written by clients (subscriptions).
	ReadOnly bool
	// NoProperties types have no "properties" object and no
	// provisioningState.
	NoProperties bool
	// Actions are the POST actions the kind's Actioner answers on a
	// resource. The empty action "" means POST on the collection path itself,
	// for subscription-level actions such as
	// .../providers/Microsoft.CognitiveServices/checkDomainAvailability.
	Actions []string
	// ActionOperations maps an action of Actions to the Azure operation
	// RBAC checks for it, when that is not "{Operation}/{action}/action":
	// creating a managed identity's workload binding is allowed by
	// "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", the
	// permission Azure asks of whoever hands an identity to a workload.
	ActionOperations map[string]string
	// InUseCode is the error code of a delete refused because other
	// resources reference this one. Empty means "InUseCannotBeDeleted".
	InUseCode string
	// Extension types live under any scope: the root, a subscription, a
	// resource group or any resource (role assignments). ParentType is
	// ignored for them.
	Extension bool
	// Operation is the prefix of the type's Azure operation names when it
	// differs from Type: resource groups are
	// "Microsoft.Resources/subscriptions/resourceGroups" ("/read",
	// "/write", "/delete", "/{action}/action" are appended).
	Operation string
	// HonoursMayRead says a Reader kind's List leaves out what
	// Request.MayRead refuses. A caller who holds a role only below the
	// scope of a list is then shown the items it may read; without it,
	// such a caller is refused 403 (a view computed on request cannot be
	// filtered by the generic handler, and showing all of it would leak).
	HonoursMayRead bool
}

// LocationPolicy says how a type treats "location".
type LocationPolicy int

const (
	// LocationNone: the type has no location; one in the body is ignored.
	LocationNone LocationPolicy = iota
	// LocationRequired: the body must name a known location.
	LocationRequired
	// LocationInherited: the resource takes its parent's location.
	LocationInherited
)

// Request is what the generic handler learned about an incoming request.
type Request struct {
	HTTP       *http.Request
	APIVersion string
	Caller     Caller
	// Elems is the target: the resource for GET/PUT/PATCH/DELETE/POST, or
	// the scope for a list.
	Elems []Elem
	// ID is the canonical id of Elems.
	ID   string
	Spec *Spec
	// MayRead, when not nil, says whether the caller may read a resource;
	// a Lister uses it to leave out what RBAC hides (nil: all readable).
	MayRead func(id, typ string) bool

	perms Permissions // the caller's, when an Authorizer is configured
}

// SubscriptionID returns the subscription the request addresses, or "".
func (r *Request) SubscriptionID() string { return SubscriptionOf(r.Elems) }

// Write is a create or update on its way to the store.
type Write struct {
	*Request
	// Old is the stored resource; nil on create.
	Old *Resource
	// New is the resource to store. Prepare may change it.
	New *Resource
	// Parent is the stored parent resource, nil when the parent is a
	// subscription or the root.
	Parent *Resource
	// Ops are extra writes that commit atomically with this one.
	Ops []store.Op
	// References are the ids of resources this one depends on. They must
	// exist when the write commits, and cannot be deleted while this
	// resource references them (see references.go).
	References []string

	// scopeChecks assert at commit that the scope Prepare saw is unchanged.
	scopeChecks []store.Op
}

// Delete is a delete on its way to the store.
type Delete struct {
	*Request
	Old *Resource
	// Ops are checks (or writes) that must hold (commit) with the first
	// step of the delete, which marks the resource Deleting: what the
	// DeleteChecker read is then unchanged when the delete is decided.
	Ops []store.Op
}

// Action is a POST action on a resource, or on a collection (Name "").
type Action struct {
	*Request
	Name string
	// Resource is the stored resource the action applies to; nil for
	// resources served by a Reader and for collection actions.
	Resource *Resource
	Body     []byte
}

// Result is an action's answer.
type Result struct {
	Status int // zero means 200
	Body   any // nil means no body
}

// Resource is the ARM resource envelope; Properties stay raw JSON so each
// kind decodes its own.
type Resource struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Kind       string            `json:"kind,omitempty"`
	Location   string            `json:"location,omitempty"`
	ManagedBy  string            `json:"managedBy,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	SKU        json.RawMessage   `json:"sku,omitempty"`
	Identity   json.RawMessage   `json:"identity,omitempty"`
	Properties json.RawMessage   `json:"properties,omitempty"`
	ETag       string            `json:"etag,omitempty"`
	SystemData *SystemData       `json:"systemData,omitempty"`
}

// SystemData records who created and last modified a resource.
type SystemData struct {
	CreatedBy          string    `json:"createdBy,omitempty"`
	CreatedByType      string    `json:"createdByType,omitempty"`
	CreatedAt          time.Time `json:"createdAt"`
	LastModifiedBy     string    `json:"lastModifiedBy,omitempty"`
	LastModifiedByType string    `json:"lastModifiedByType,omitempty"`
	LastModifiedAt     time.Time `json:"lastModifiedAt"`
}

// ProvisioningState reads properties.provisioningState ("" when absent).
func (r *Resource) ProvisioningState() string {
	var p struct {
		ProvisioningState string `json:"provisioningState"`
	}
	_ = json.Unmarshal(r.Properties, &p)
	return p.ProvisioningState
}

// SetProperty sets one top-level field of properties.
func (r *Resource) SetProperty(name string, value any) error {
	props := map[string]json.RawMessage{}
	if len(r.Properties) > 0 && string(r.Properties) != "null" {
		if err := json.Unmarshal(r.Properties, &props); err != nil {
			return fmt.Errorf("properties of %s: %w", r.ID, err)
		}
	}
	v, err := json.Marshal(value)
	if err != nil {
		return err
	}
	props[name] = v
	r.Properties, err = json.Marshal(props)
	return err
}

// DecodeProperties decodes a resource's properties into v, reporting type
// errors with their JSON path under "properties".
func DecodeProperties(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		ae := decodeError(raw, err)
		if ae.Target != "" {
			ae.Target = "properties." + ae.Target
			ae.Message = strings.Replace(ae.Message, "property '", "property 'properties.", 1)
		}
		return ae
	}
	return nil
}

var defaultNameRE = regexp.MustCompile(`^[^<>%&:\\?/#*\x00-\x1f]{1,260}$`)

// DefaultName accepts 1-260 characters without the ones ARM forbids in
// names (<>%&:\?/#* and control characters), not ending in '.' or ' '.
func DefaultName(name string) error {
	if !defaultNameRE.MatchString(name) || strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return BadRequest(CodeInvalidResourceName,
			"The resource name '%s' is invalid. Use 1 to 260 characters, none of <>%%&:\\?/#* or control characters, and do not end with '.' or a space.", name)
	}
	return nil
}

// NameRule builds a name check from a pattern and a description of it.
func NameRule(pattern, describe string) func(string) error {
	re := regexp.MustCompile(pattern)
	return func(name string) error {
		if !re.MatchString(name) {
			return BadRequest(CodeInvalidResourceName, "The resource name '%s' is invalid. %s", name, describe)
		}
		return nil
	}
}
