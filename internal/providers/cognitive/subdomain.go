package cognitive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// Codes of refused custom subdomains.
const (
	CodeInvalidSubdomain   = "InvalidCustomSubDomainName"
	CodeSubdomainInUse     = "CustomDomainInUse"
	CodeSubdomainImmutable = "CustomSubDomainNameCannotBeChanged"
	CodeSubdomainRequired  = "CustomSubDomainNameRequired"
)

const (
	subdomainTarget = "properties.customSubDomainName"
	// typeSubdomain is the store type of subdomain reservations.
	typeSubdomain = "Perimeter/subdomains"
	// maxSubdomainLen is the longest DNS label (RFC 1035). Azure documents
	// 64 for account names, but the subdomain becomes a label of the
	// endpoint host names, and a 64-octet label is not a valid host name.
	maxSubdomainLen = 63
)

// subdomainProblem says why name cannot be a custom subdomain, or "" when
// it can: a DNS label of 2 to 63 letters, digits and hyphens, neither
// starting nor ending with a hyphen. Letters may be upper-case (DNS is
// case-insensitive); endpoints use the lower-case form.
func subdomainProblem(name string) string {
	switch {
	case len(name) < 2 || len(name) > maxSubdomainLen:
		return fmt.Sprintf("The custom subdomain name '%s' must be 2 to %d characters long.", name, maxSubdomainLen)
	case name[0] == '-' || name[len(name)-1] == '-':
		return fmt.Sprintf("The custom subdomain name '%s' must not start or end with a hyphen.", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Sprintf("The custom subdomain name '%s' contains '%c'; use only letters, digits and hyphens (it becomes a DNS label).", name, c)
		}
	}
	return ""
}

// A custom subdomain is unique across the installation, whatever the
// subscription: it names the account in its endpoint host names. The
// account that takes a name writes a reservation at
// /perimeter/subdomains/{lower-case name} in the same atomic Apply as
// itself — created with If-None-Match "*", or replaced conditionally on the
// ETag it read — so of two accounts racing for one name exactly one
// commits.
//
// The account's delete removes the reservation in the same Apply
// (Cleanup). Independently of that, a reservation counts only while the
// account it names exists with that subdomain: one left by anything else
// (a store restored from a backup, a delete interrupted by hand) cannot
// lock a name away; the next account to ask for the name takes the
// reservation over, conditionally on its ETag.

// reservation is the body of a subdomain reservation.
type reservation struct {
	SubdomainName string `json:"subdomainName"`
	Account       string `json:"account"`
}

func subdomainDocID(name string) string { return "/perimeter/subdomains/" + strings.ToLower(name) }

// subdomainHolder returns the id of the account holding name ("" when the
// name is free) and the ETag of its reservation ("" when there is none).
func (p *provider) subdomainHolder(ctx context.Context, name string) (holder, etag string, err error) {
	doc, err := p.store().Get(ctx, subdomainDocID(name))
	if errors.Is(err, store.ErrNotFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("read subdomain reservation %s: %w", name, err)
	}
	var r reservation
	if err := json.Unmarshal(doc.Body, &r); err != nil {
		return "", "", fmt.Errorf("subdomain reservation %s: %w", doc.ID, err)
	}
	acct, err := p.store().Get(ctx, r.Account)
	if errors.Is(err, store.ErrNotFound) {
		return "", doc.ETag, nil // the holder was deleted
	}
	if err != nil {
		return "", "", fmt.Errorf("read account %s: %w", r.Account, err)
	}
	var held struct {
		Properties struct {
			CustomSubDomainName string `json:"customSubDomainName"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(acct.Body, &held); err != nil {
		return "", "", fmt.Errorf("account %s: %w", r.Account, err)
	}
	if !strings.EqualFold(held.Properties.CustomSubDomainName, name) {
		return "", doc.ETag, nil // an account re-created at that id without the name
	}
	return r.Account, doc.ETag, nil
}

// claimSubdomain returns the store op that makes accountID the holder of
// name when the account's write commits, or refuses the name when another
// account holds it.
func (p *provider) claimSubdomain(ctx context.Context, accountID, name string) (store.Op, error) {
	holder, etag, err := p.subdomainHolder(ctx, name)
	if err != nil {
		return store.Op{}, err
	}
	id := subdomainDocID(name)
	switch {
	case holder != "" && !strings.EqualFold(holder, accountID):
		// The holder may be in a subscription the caller cannot see: say
		// that the name is taken, not by whom.
		return store.Op{}, arm.InvalidProperty(CodeSubdomainInUse, subdomainTarget,
			"The custom subdomain name '%s' is already used by another account in this installation. Choose a different name (POST .../providers/Microsoft.CognitiveServices/checkDomainAvailability tells whether a name is free).", name)
	case holder != "":
		// Already ours: assert at commit that it still is.
		return store.Op{Check: id, If: store.Precondition{IfMatch: etag}}, nil
	}
	body, err := json.Marshal(reservation{SubdomainName: strings.ToLower(name), Account: accountID})
	if err != nil {
		return store.Op{}, err
	}
	pre := store.Precondition{IfNoneMatch: "*"}
	if etag != "" {
		pre = store.Precondition{IfMatch: etag}
	}
	return store.Op{Put: &store.Document{ID: id, Type: typeSubdomain, Body: body}, If: pre}, nil
}

// checkSubdomain validates an account's customSubDomainName against its
// previous value (immutable once set) and returns the op reserving it.
// The op is nil when the account has no custom subdomain.
func (p *provider) checkSubdomain(ctx context.Context, accountID, name, old string) (*store.Op, error) {
	switch {
	case old != "" && !strings.EqualFold(name, old):
		return nil, arm.InvalidProperty(CodeSubdomainImmutable, subdomainTarget,
			"The custom subdomain name of an account cannot be changed or removed once set; it is '%s'. Send '%s', or create a new account for a new name.", old, old)
	case name == "":
		return nil, nil
	}
	if why := subdomainProblem(name); why != "" {
		return nil, arm.InvalidProperty(CodeInvalidSubdomain, subdomainTarget, "%s", why)
	}
	op, err := p.claimSubdomain(ctx, accountID, name)
	if err != nil {
		return nil, err
	}
	return &op, nil
}

// domainAvailability answers POST
// /subscriptions/{s}/providers/Microsoft.CognitiveServices/checkDomainAvailability.
type domainAvailability struct{ *provider }

func (*domainAvailability) Spec() arm.Spec {
	return arm.Spec{
		Type: TypeDomainAvailability, APIVersions: accountAPIVersions(), ParentType: arm.TypeSubscription,
		ReadOnly: true, Actions: []string{""},
	}
}

func (*domainAvailability) Get(context.Context, *arm.Request) (any, error) {
	return nil, arm.Errorf(http.StatusNotFound, arm.CodeResourceNotFound,
		"checkDomainAvailability is an action: POST {\"subdomainName\": ..., \"type\": \"Microsoft.CognitiveServices/accounts\"} to .../providers/Microsoft.CognitiveServices/checkDomainAvailability.")
}

func (*domainAvailability) List(context.Context, *arm.Request) ([]any, error) {
	return nil, arm.Errorf(http.StatusMethodNotAllowed, arm.CodeMethodNotAllowed,
		"checkDomainAvailability is an action: use POST with {\"subdomainName\": ..., \"type\": \"Microsoft.CognitiveServices/accounts\"}.")
}

// domainAvailabilityResult is Azure's DomainAvailability.
type domainAvailabilityResult struct {
	IsSubdomainAvailable bool   `json:"isSubdomainAvailable"`
	Reason               string `json:"reason,omitempty"`
	SubdomainName        string `json:"subdomainName"`
	Type                 string `json:"type"`
	Kind                 string `json:"kind,omitempty"`
}

func (d *domainAvailability) Action(ctx context.Context, a *arm.Action) (*arm.Result, error) {
	var in struct {
		SubdomainName string `json:"subdomainName"`
		Type          string `json:"type"`
		Kind          string `json:"kind"`
	}
	if err := decodeBody(a.Body, `{"subdomainName": "contoso-ai", "type": "Microsoft.CognitiveServices/accounts"}`, &in); err != nil {
		return nil, err
	}
	if in.SubdomainName == "" {
		return nil, arm.InvalidProperty(arm.CodeInvalidRequestContent, "subdomainName",
			"The request must name the subdomain to check: {\"subdomainName\": \"contoso-ai\", \"type\": \"Microsoft.CognitiveServices/accounts\"}.")
	}
	if in.Type == "" {
		in.Type = TypeAccounts
	}
	if !strings.EqualFold(in.Type, TypeAccounts) {
		return nil, arm.InvalidProperty(arm.CodeInvalidResourceType, "type",
			"Custom subdomains belong to '%s'; the type '%s' has none.", TypeAccounts, in.Type)
	}
	out := domainAvailabilityResult{SubdomainName: in.SubdomainName, Type: TypeAccounts, Kind: in.Kind, IsSubdomainAvailable: true}
	if why := subdomainProblem(in.SubdomainName); why != "" {
		out.IsSubdomainAvailable, out.Reason = false, why
		return &arm.Result{Body: out}, nil
	}
	holder, _, err := d.subdomainHolder(ctx, in.SubdomainName)
	if err != nil {
		return nil, err
	}
	if holder != "" {
		out.IsSubdomainAvailable = false
		out.Reason = fmt.Sprintf("The subdomain name '%s' is already used by another account in this installation.", in.SubdomainName)
	}
	return &arm.Result{Body: out}, nil
}
