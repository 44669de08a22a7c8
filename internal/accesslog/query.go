package accesslog

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Sink is where the log is kept and read: the store. Implementations are
// safe for concurrent use.
type Sink interface {
	// AppendLogs stores records, all or none. It does not touch documents,
	// revisions or the change feed.
	AppendLogs(ctx context.Context, records []Record) error
	// QueryLogs returns the records q selects, newest first.
	QueryLogs(ctx context.Context, q Query) ([]Record, error)
	// PruneLogs removes the records whose Time is before the given time and
	// returns how many it removed.
	PruneLogs(ctx context.Context, before time.Time) (int64, error)
}

// Query selects records. Zero fields do not filter; string filters ignore
// case.
type Query struct {
	// SubscriptionID keeps records whose SubscriptionID is this one.
	SubscriptionID string
	// ResourceID keeps records whose target is this resource or lies below
	// it: a resource group finds its accounts, an account its projects.
	ResourceID string
	// Result is Allowed or Denied.
	Result string
	// Rule keeps records whose Rule contains this text.
	Rule string
	// Source is an IP address or a CIDR that SourceIP must fall in.
	Source string
	// Host and Deployment must equal the record's.
	Host       string
	Deployment string
	// From and To bound Time: From <= Time < To.
	From, To time.Time
	// Limit caps the records returned: 0 means DefaultLimit; more than
	// MaxLimit means MaxLimit.
	Limit int
	// Before is a keyset cursor: the Seq of the last record of the previous
	// page. Only records after it in the order of results (older, or as old
	// and stored earlier) are returned; none if it no longer exists (it was
	// pruned, and so was everything older).
	Before int64
}

// Page sizes of Query.Limit.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Filter is a Query checked and normalised for a store: lower-cased
// strings, the source as a byte range, times as Unix nanoseconds. Both
// stores build their SQL from it, so they select the same records.
type Filter struct {
	Subscription, Resource, Result, Rule, Host, Deployment string
	// SourceLo and SourceHi bound the 16-byte source key (SourceKey),
	// inclusive; nil when Source is empty.
	SourceLo, SourceHi []byte
	// From and To are Unix nanoseconds; 0 means unbounded.
	From, To int64
	Limit    int
	Before   int64
}

// Filter checks q and returns its normalised form. Errors name the field
// and say what is expected, so the REST endpoint can show them as they are.
func (q Query) Filter() (Filter, error) {
	f := Filter{
		Subscription: strings.ToLower(strings.TrimSpace(q.SubscriptionID)),
		Resource:     strings.ToLower(strings.TrimSuffix(strings.TrimSpace(q.ResourceID), "/")),
		Rule:         strings.ToLower(q.Rule),
		Host:         strings.ToLower(strings.TrimSpace(q.Host)),
		Deployment:   strings.ToLower(strings.TrimSpace(q.Deployment)),
		Before:       q.Before,
	}
	switch {
	case q.Result == "":
	case strings.EqualFold(q.Result, Allowed):
		f.Result = Allowed
	case strings.EqualFold(q.Result, Denied):
		f.Result = Denied
	default:
		return Filter{}, fmt.Errorf("result %q is not valid: use Allowed or Denied", q.Result)
	}
	if q.Source != "" {
		lo, hi, err := SourceRange(q.Source)
		if err != nil {
			return Filter{}, err
		}
		f.SourceLo, f.SourceHi = lo, hi
	}
	if !q.From.IsZero() {
		f.From = unixNano(q.From)
	}
	if !q.To.IsZero() {
		f.To = unixNano(q.To)
	}
	if f.From != 0 && f.To != 0 && f.From >= f.To {
		return Filter{}, fmt.Errorf("the time window is empty: from (%s) must be before to (%s)",
			q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano))
	}
	if q.Before < 0 {
		return Filter{}, fmt.Errorf("before %d is not valid: use the seq of a record", q.Before)
	}
	switch {
	case q.Limit <= 0:
		f.Limit = DefaultLimit
	case q.Limit > MaxLimit:
		f.Limit = MaxLimit
	default:
		f.Limit = q.Limit
	}
	return f, nil
}

// SourceKey is how a store keeps a source address so that a CIDR is a
// range of keys: a family byte (4 or 6) followed by the address bytes
// (IPv4-mapped IPv6 unmapped first). Keys sort bytewise in address order
// within a family, in SQLite BLOBs and PostgreSQL bytea alike, and the
// families never interleave, so an IPv6 prefix (even ::/0) matches no IPv4
// source, as netip.Prefix.Contains. It is nil when ip is not an address.
func SourceKey(ip string) []byte {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil
	}
	return sourceKey(a.Unmap())
}

func sourceKey(a netip.Addr) []byte {
	if a.Is4() {
		b := a.As4()
		return append([]byte{4}, b[:]...)
	}
	b := a.As16()
	return append([]byte{6}, b[:]...)
}

// SourceRange returns the inclusive range of source keys an IP address or
// CIDR covers. An IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) is read as
// the IPv4 prefix it maps (10.0.0.0/8).
func SourceRange(source string) (lo, hi []byte, err error) {
	s := strings.TrimSpace(source)
	bad := fmt.Errorf("source %q is not an IP address or CIDR (such as 203.0.113.7 or 10.0.0.0/8)", source)
	var p netip.Prefix
	if strings.Contains(s, "/") {
		if p, err = netip.ParsePrefix(s); err != nil {
			return nil, nil, bad
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, nil, bad
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	addr, bits := p.Addr(), p.Bits()
	if addr.Is4In6() {
		if bits < 96 {
			return nil, nil, fmt.Errorf("source %q spans IPv4-mapped and other IPv6 addresses: use an IPv4 CIDR or a prefix of /96 or longer", source)
		}
		addr, bits = addr.Unmap(), bits-96
	}
	l := sourceKey(netip.PrefixFrom(addr, bits).Masked().Addr())
	h := slices.Clone(l)
	for i := 1; i < len(h); i++ {
		keep := min(max(bits-8*(i-1), 0), 8) // prefix bits in this byte
		h[i] |= byte(0xff) >> keep
	}
	return l, h, nil
}

// Columns are the values a store keeps beside the JSON of a record, to
// filter and order on.
type Columns struct {
	// Time is Unix nanoseconds.
	Time int64
	// Subscription, Resource, Rule, Host and Deployment are lower-cased,
	// Resource without a trailing slash, as Encode returns them (see
	// Lower); Result is as recorded.
	Subscription, Resource, Result, Rule, Host, Deployment string
	// Source is SourceKey(SourceIP), nil without an address.
	Source []byte
}

// Encode returns the JSON a store keeps for a record (see Stored) and its
// columns.
func Encode(r Record) ([]byte, Columns, error) {
	r, c := Stored(r)
	b, err := r.AppendJSON(nil)
	if err != nil {
		return nil, Columns{}, fmt.Errorf("encode access log record %s: %w", r.RequestID, err)
	}
	return b, c.Lower(), nil
}

// Stored returns the record as a store keeps it (Seq left out, Time in
// UTC, SubscriptionID taken from ResourceID when empty) and its columns
// with the strings as recorded (see Lower). A store that keeps a batch's
// distinct values normalises only those, not every record's.
func Stored(r Record) (Record, Columns) {
	r.Seq = 0
	r.Time = r.Time.UTC()
	if r.SubscriptionID == "" {
		r.SubscriptionID = SubscriptionOf(r.ResourceID)
	}
	return r, Columns{
		Time:         unixNano(r.Time),
		Subscription: r.SubscriptionID,
		Resource:     r.ResourceID,
		Result:       r.Result,
		Rule:         r.Rule,
		Host:         r.Host,
		Deployment:   r.Deployment,
		Source:       SourceKey(r.SourceIP),
	}
}

// Lower returns c as queries compare it: Subscription, Resource, Rule,
// Host and Deployment lower-cased, Resource without a trailing slash;
// Result as recorded.
func (c Columns) Lower() Columns {
	c.Subscription = strings.ToLower(c.Subscription)
	c.Resource = strings.ToLower(strings.TrimSuffix(c.Resource, "/"))
	c.Rule = strings.ToLower(c.Rule)
	c.Host = strings.ToLower(c.Host)
	c.Deployment = strings.ToLower(c.Deployment)
	return c
}

// Decode reads a record a store kept, with its Seq.
func Decode(seq int64, b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("decode access log record %d: %w", seq, err)
	}
	r.Seq = seq
	return r, nil
}

// unixNano is t in Unix nanoseconds, clamped to what int64 holds (the zero
// time is 0).
func unixNano(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(time.Unix(0, 0)):
		return 0
	case t.After(time.Unix(0, 1<<63-1)):
		return 1<<63 - 1
	}
	return t.UnixNano()
}

// UnixNano is the column value of a time bound (PruneLogs' before).
func UnixNano(t time.Time) int64 { return unixNano(t) }
