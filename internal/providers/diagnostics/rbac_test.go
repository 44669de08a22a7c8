package diagnostics_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/snapshot/snapshottest"
)

// newRBACEnv is newEnv with role assignments enforced; the harness
// administrator owns the subscription.
func newRBACEnv(t *testing.T) *env {
	t.Helper()
	lookup := func(context.Context, string, string) (string, error) { return "User", nil }
	e := newEnv(t, snapshottest.RBAC(armtest.TenantID, lookup)...)
	e.assign("/subscriptions/"+sub, authz.RoleOwner, armtest.ObjectID)
	return e
}

// assign gives principal role at scope.
func (e *env) assign(scope, role, principal string) {
	e.t.Helper()
	snapshottest.Assign(e.t, e.Store, scope, uuid.NewString(), role, principal, "User")
}

// listAs is list made as principal.
func (e *env) listAs(principal string, filters ...string) []string {
	e.t.Helper()
	e.Token = armtest.As(principal)
	defer func() { e.Token = armtest.Token }()
	ids, _ := e.list(filters...)
	return ids
}

// A caller whose role is below the subscription reads the records of what
// it may read the log of, not the whole subscription's: the list of a
// Reader of one resource group once answered every record, source
// addresses and principal ids of other groups included.
func TestListShowsOnlyRecordsTheCallerMayRead(t *testing.T) {
	e := newRBACEnv(t)
	const (
		groupReader   = "00000000-0000-0000-0000-00000000000a"
		projectReader = "00000000-0000-0000-0000-00000000000b"
		aiUser        = "00000000-0000-0000-0000-00000000000c"
		subReader     = "00000000-0000-0000-0000-00000000000d"
		nobody        = "00000000-0000-0000-0000-00000000000e"
	)
	e.assign("/subscriptions/"+sub+"/resourceGroups/rg", authz.RoleReader, groupReader)
	e.assign(accountA+"/projects/p", authz.RoleReader, projectReader)
	// Azure AI User reads Microsoft.CognitiveServices/*, not the log.
	e.assign(accountA, authz.RoleAzureAIUser, aiUser)
	e.assign("/subscriptions/"+sub, authz.RoleReader, subReader)

	for _, c := range []struct {
		who  string
		want []string
	}{
		{groupReader, []string{"a3", "a2", "a1"}},
		{projectReader, []string{"a3"}},
		{aiUser, []string{}},
		{subReader, []string{"a3", "b2", "b1", "a2", "a1"}},
	} {
		if got := e.listAs(c.who); !slices.Equal(got, c.want) {
			t.Errorf("%s reads %q, want %q", c.who, got, c.want)
		}
	}
	if got := e.listAs(groupReader, "resourceId", accountB); len(got) != 0 {
		t.Errorf("the group reader reads rg2's account: %q", got)
	}
	e.Token = armtest.As(nobody)
	r := e.get(logsPath(sub), url.Values{"api-version": {"2026-01-01"}})
	e.Token = armtest.Token
	if r.status != http.StatusForbidden {
		t.Errorf("no role: %d %s", r.status, r.body)
	}
}

// A filtered page is as full as $top allows while readable records
// remain, and paging on with the seq of its last record skips nothing.
func TestFilteredPagesFillAndPageOn(t *testing.T) {
	e := newRBACEnv(t)
	const groupReader = "00000000-0000-0000-0000-00000000000a"
	e.assign("/subscriptions/"+sub+"/resourceGroups/rg", authz.RoleReader, groupReader)
	e.Token = armtest.As(groupReader)
	var pages [][]string
	before := ""
	for range 5 {
		filters := []string{"$top", "2"}
		if before != "" {
			filters = append(filters, "before", before)
		}
		ids, recs := e.list(filters...)
		pages = append(pages, ids)
		if len(ids) < 2 {
			break
		}
		before = strconv.FormatInt(recs[len(recs)-1].Seq, 10)
	}
	if want := [][]string{{"a3", "a2"}, {"a1"}}; !slices.EqualFunc(pages, want, slices.Equal) {
		t.Errorf("pages %q, want %q", pages, want)
	}
}
