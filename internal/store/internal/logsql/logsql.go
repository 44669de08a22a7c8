// Package logsql builds the access-log queries of a table with a row per
// record: PostgreSQL's, and SQLite's before schema version 4. Placeholders
// and the substring function are the caller's. The SQLite store now keeps
// records in batches and applies the same filters in Go
// (internal/store/sqlite/logfilter.go); its tests hold it to this SQL.
package logsql

import (
	"strconv"
	"strings"

	"github.com/perimeterhq/perimeter/internal/accesslog"
)

// Columns are the names of the columns a store inserts, in the order of
// AppendValues.
var Columns = []string{"time", "subscription", "resource", "result", "rule", "host", "deployment", "source", "record"}

// Values returns the values of one record, in Columns' order.
func Values(c accesslog.Columns, record []byte) []any {
	return AppendValues(make([]any, 0, len(Columns)), c, record)
}

// AppendValues appends the values of one record to dst, in Columns' order,
// so that a multi-row insert can fill one argument slice.
func AppendValues(dst []any, c accesslog.Columns, record []byte) []any {
	var source any // NULL without an address
	if c.Source != nil {
		source = c.Source
	}
	return append(dst, c.Time, c.Subscription, c.Resource, c.Result, c.Rule, c.Host, c.Deployment, source, record)
}

// Select returns the query of a filter, newest first: arg adds an argument
// and returns its placeholder; contains renders "column contains the
// argument" (PostgreSQL: strpos(col, arg) > 0; SQLite: instr(col, arg) > 0).
// It selects seq and record.
func Select(f accesslog.Filter, arg func(any) string, contains func(col, arg string) string) string {
	var where []string
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = "+arg(v))
		}
	}
	eq("subscription", f.Subscription)
	eq("result", f.Result)
	eq("host", f.Host)
	eq("deployment", f.Deployment)
	if f.Resource != "" {
		// The resource itself or anything below it: ids between
		// resource+"/" and resource+"0", '0' being the byte after '/'.
		where = append(where, "(resource = "+arg(f.Resource)+" OR (resource > "+arg(f.Resource+"/")+" AND resource < "+arg(f.Resource+"0")+"))")
	}
	if f.Rule != "" {
		where = append(where, contains("rule", arg(f.Rule)))
	}
	if f.SourceLo != nil {
		where = append(where, "source BETWEEN "+arg(f.SourceLo)+" AND "+arg(f.SourceHi))
	}
	if f.From != 0 {
		where = append(where, "time >= "+arg(f.From))
	}
	if f.To != 0 {
		where = append(where, "time < "+arg(f.To))
	}
	if f.Before != 0 {
		// Keyset on (time, seq), the order of results; the cursor is the
		// seq of the last record seen, whose time is looked up. A cursor
		// that no longer exists selects nothing (NULL compares false).
		cursorTime := func() string {
			return "(SELECT c.time FROM access_log c WHERE c.seq = " + arg(f.Before) + ")"
		}
		where = append(where, "time <= "+cursorTime()+" AND (time < "+cursorTime()+" OR seq < "+arg(f.Before)+")")
	}
	q := "SELECT seq, record FROM access_log"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return q + " ORDER BY time DESC, seq DESC LIMIT " + arg(f.Limit)
}

// PruneChunk is how many records one prune statement removes, so that a
// large prune does not hold the write lock (SQLite) or a huge transaction
// (PostgreSQL) for long.
const PruneChunk = 5000

// Prune returns the statement removing up to PruneChunk records older than
// the argument (Unix nanoseconds), given its placeholder.
func Prune(before string) string {
	return `DELETE FROM access_log WHERE seq IN (SELECT seq FROM access_log WHERE time < ` + before +
		` ORDER BY time, seq LIMIT ` + strconv.Itoa(PruneChunk) + `)`
}
