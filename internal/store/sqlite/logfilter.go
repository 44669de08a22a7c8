package sqlite

import (
	"bytes"
	"strings"

	"github.com/perimeterhq/perimeter/internal/accesslog"
)

// logMatcher applies an accesslog.Filter to batches and their records with
// the semantics of logsql.Select, the SQL PostgreSQL still runs: the
// conformance suite holds both stores to the same answers, and
// TestLogMatcherAgreesWithSQL compares them on random records.
type logMatcher struct {
	f accesslog.Filter
	// want is the filter's value per summary field, "" for fields it
	// leaves open.
	want [numFields]string
	// below is the prefix of the ids below the resource filtered on.
	below string
	// cursorTime is the Time of the record f.Before names (when not 0).
	cursorTime int64
	// allowed is, per field filtered on, whether each of the current
	// batch's values matches (see admit).
	allowed [numFields][]bool
}

func newLogMatcher(f accesslog.Filter) *logMatcher {
	m := &logMatcher{f: f, below: f.Resource + "/"}
	m.want = [numFields]string{f.Subscription, f.Resource, f.Result, f.Rule, f.Host, f.Deployment}
	return m
}

// normalise is v of field f as queries compare it: accesslog.Columns.Lower
// decides, as it does for the columns PostgreSQL stores.
func normalise(f int, v []byte) string {
	var c accesslog.Columns
	*columnFields(&c)[f] = string(v)
	c = c.Lower()
	return *columnFields(&c)[f]
}

// matches reports whether a value of field f, normalised, passes the
// filter.
func (m *logMatcher) matches(f int, v string) bool {
	switch f {
	case fieldResource:
		// The resource itself or an id below it (longer than the prefix:
		// the SQL's resource > prefix).
		return v == m.f.Resource || len(v) > len(m.below) && strings.HasPrefix(v, m.below)
	case fieldRule:
		return strings.Contains(v, m.f.Rule)
	default:
		return v == m.want[f]
	}
}

// admit prepares for the records of a batch and reports whether any of
// them can pass: false when, for a field filtered on, none of the batch's
// values matches, or no source in the batch falls in the filter's range.
func (m *logMatcher) admit(s *batchSummary) bool {
	for f := range numFields {
		if m.want[f] == "" {
			continue
		}
		ok := m.allowed[f][:0]
		some := false
		for _, v := range s.dicts[f] {
			match := m.matches(f, normalise(f, v))
			ok = append(ok, match)
			some = some || match
		}
		m.allowed[f] = ok
		if !some {
			return false
		}
	}
	if m.f.SourceLo != nil {
		if s.srcLo == nil || bytes.Compare(s.srcHi, m.f.SourceLo) < 0 || bytes.Compare(s.srcLo, m.f.SourceHi) > 0 {
			return false
		}
	}
	return true
}

// keep reports whether the record of k, in the batch last admitted, with
// Seq seq, passes the filter.
func (m *logMatcher) keep(k *logKey, seq int64) bool {
	f := &m.f
	if f.From != 0 && k.time < f.From || f.To != 0 && k.time >= f.To {
		return false
	}
	if f.Before != 0 && (k.time > m.cursorTime || k.time == m.cursorTime && seq >= f.Before) {
		return false
	}
	for i := range numFields {
		if m.want[i] != "" && !m.allowed[i][k.fields[i]] {
			return false
		}
	}
	if f.SourceLo != nil {
		if k.source == nil || bytes.Compare(k.source, f.SourceLo) < 0 || bytes.Compare(k.source, f.SourceHi) > 0 {
			return false
		}
	}
	return true
}
