// Package diagnostics provides Perimeter's own diagnostics types, under the
// Perimeter.Diagnostics namespace: for now accessLogs, the access log of
// every allow and deny decision of the data planes (internal/accesslog),
// read per subscription:
//
//	GET /subscriptions/{s}/providers/Perimeter.Diagnostics/accessLogs
//	    ?api-version=2026-01-01&resourceId=&result=&rule=&source=&host=
//	    &deployment=&from=&to=&$top=&before=
//
// answers {"value": [records...]}, newest first. Azure keeps such logs in
// Log Analytics (NSPAccessLogs), outside ARM; a self-hosted installation
// has no Log Analytics, so the log is read through the same API, scoped by
// subscription like everything else there.
//
// Reading it takes Perimeter.Diagnostics/accessLogs/read (Reader has it):
// at the subscription for every record; a caller holding roles only below
// the subscription reads the records of the resources at which it holds
// that action, and nothing else.
package diagnostics

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/arm"
)

// Names of the namespace and its types.
const (
	Namespace      = "Perimeter.Diagnostics"
	TypeAccessLogs = Namespace + "/accessLogs"
	// APIVersion is the one api-version of the namespace.
	APIVersion = "2026-01-01"
)

// APIVersions are the api-versions served.
var APIVersions = []string{APIVersion}

// CodeInvalidQuery is the error code of a query parameter the access log
// cannot use.
const CodeInvalidQuery = "InvalidQueryParameterValue"

// Kinds returns the kinds of this package. sink is where the access log is
// kept (the store); nil serves an empty log.
func Kinds(_ *arm.Server, sink accesslog.Sink) []arm.Kind {
	return []arm.Kind{&accessLogs{sink: sink}}
}

// accessLogs serves the access log of a subscription: the records whose
// target resource is in it.
type accessLogs struct{ sink accesslog.Sink }

func (*accessLogs) Spec() arm.Spec {
	return arm.Spec{
		Type: TypeAccessLogs, APIVersions: APIVersions, ParentType: arm.TypeSubscription,
		ReadOnly: true, NoProperties: true, HonoursMayRead: true,
	}
}

// Get refuses: records are read as a list, with filters.
func (*accessLogs) Get(context.Context, *arm.Request) (any, error) {
	return nil, arm.Errorf(http.StatusNotFound, arm.CodeResourceNotFound,
		"Access log records are not read one by one. List them with GET /subscriptions/{subscriptionId}/providers/%s/accessLogs and filter with resourceId, result, rule, source, host, deployment, from, to and $top.", Namespace)
}

// List answers the records the query parameters select, newest first.
func (a *accessLogs) List(ctx context.Context, r *arm.Request) ([]any, error) {
	q, err := parseQuery(r)
	if err != nil {
		return nil, err
	}
	if a.sink == nil {
		return []any{}, nil
	}
	var records []accesslog.Record
	if r.MayRead == nil {
		records, err = a.sink.QueryLogs(ctx, q)
	} else {
		records, err = a.readable(ctx, q, r.MayRead)
	}
	if err != nil {
		return nil, err
	}
	out := make([]any, len(records))
	for i, rec := range records {
		out[i] = rec
	}
	return out, nil
}

// readable returns the first records q selects (at most its limit) whose
// resource the caller may read the log of. The store cannot apply RBAC,
// so this reads batch after batch, each twice as large as the last up to
// MaxLimit, until the page is full or the log ends: a page is short only
// at the end, and the seq of its last record pages on as it does
// unfiltered (records skipped after it are read again, and skipped
// again, by the next page).
func (a *accessLogs) readable(ctx context.Context, q accesslog.Query, mayRead func(id, typ string) bool) ([]accesslog.Record, error) {
	f, err := q.Filter()
	if err != nil {
		return nil, arm.BadRequest(CodeInvalidQuery, "The query is invalid: %v.", err)
	}
	want := f.Limit
	known := map[string]bool{} // lower-cased resource id: readable
	allowed := func(id string) bool {
		key := strings.ToLower(id)
		ok, seen := known[key]
		if !seen {
			ok = id != "" && mayRead(id, TypeAccessLogs)
			known[key] = ok
		}
		return ok
	}
	out := make([]accesslog.Record, 0, want)
	for q.Limit = want; ; q.Limit = min(2*q.Limit, accesslog.MaxLimit) {
		batch, err := a.sink.QueryLogs(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, rec := range batch {
			if allowed(rec.ResourceID) {
				if out = append(out, rec); len(out) == want {
					return out, nil
				}
			}
		}
		if len(batch) < q.Limit {
			return out, nil
		}
		last := batch[len(batch)-1].Seq
		if last <= 0 {
			return nil, fmt.Errorf("access log record %s has no seq to page on", batch[len(batch)-1].RequestID)
		}
		q.Before = last
	}
}

// parseQuery reads and checks the query parameters. Every refusal is a
// 400 naming the parameter and what it accepts.
func parseQuery(r *arm.Request) (accesslog.Query, error) {
	v := r.HTTP.URL.Query()
	sub := r.SubscriptionID()
	q := accesslog.Query{
		SubscriptionID: sub,
		ResourceID:     strings.TrimSpace(v.Get("resourceId")),
		Result:         strings.TrimSpace(v.Get("result")),
		Rule:           v.Get("rule"),
		Source:         strings.TrimSpace(v.Get("source")),
		Host:           strings.TrimSpace(v.Get("host")),
		Deployment:     strings.TrimSpace(v.Get("deployment")),
	}
	if q.ResourceID != "" && !strings.EqualFold(accesslog.SubscriptionOf(q.ResourceID), sub) {
		return q, invalid("resourceId", "The resourceId '%s' is not a resource id in subscription '%s'. Use an id that starts with /subscriptions/%s/.", q.ResourceID, sub, sub)
	}
	if q.Result != "" && !strings.EqualFold(q.Result, accesslog.Allowed) && !strings.EqualFold(q.Result, accesslog.Denied) {
		return q, invalid("result", "The value '%s' of result is invalid. Use Allowed or Denied.", q.Result)
	}
	if q.Source != "" {
		if _, _, err := accesslog.SourceRange(q.Source); err != nil {
			return q, invalid("source", "The value '%s' of source is invalid. Use an IP address or a CIDR, such as 203.0.113.7 or 10.0.0.0/8.", q.Source)
		}
	}
	var err error
	if q.From, err = parseTime(v.Get("from"), "from"); err != nil {
		return q, err
	}
	if q.To, err = parseTime(v.Get("to"), "to"); err != nil {
		return q, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, invalid("from", "The time window is empty: from (%s) must be before to (%s).", v.Get("from"), v.Get("to"))
	}
	if top := v.Get("$top"); top != "" {
		n, err := strconv.Atoi(top)
		if err != nil || n < 1 || n > accesslog.MaxLimit {
			return q, invalid("$top", "The value '%s' of $top is invalid. Use an integer from 1 to %d.", top, accesslog.MaxLimit)
		}
		q.Limit = n
	}
	if before := v.Get("before"); before != "" {
		n, err := strconv.ParseInt(before, 10, 64)
		if err != nil || n < 1 {
			return q, invalid("before", "The value '%s' of before is invalid. Use the seq of the last record of the previous page.", before)
		}
		q.Before = n
	}
	// Whatever the checks above missed, the store's own check catches.
	if _, err := q.Filter(); err != nil {
		return q, arm.BadRequest(CodeInvalidQuery, "The query is invalid: %v.", err)
	}
	return q, nil
}

// parseTime reads an RFC 3339 time ("" is no bound).
func parseTime(s, name string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	// A '+' of a zone offset sent unescaped in the query arrives as a space.
	t, err := time.Parse(time.RFC3339Nano, strings.ReplaceAll(s, " ", "+"))
	if err != nil {
		return time.Time{}, invalid(name, "The value '%s' of %s is not a time. Use RFC 3339, such as 2026-01-02T15:04:05Z.", s, name)
	}
	return t, nil
}

func invalid(param, format string, args ...any) *arm.Error {
	e := arm.BadRequest(CodeInvalidQuery, format, args...)
	e.Target = param
	return e
}
