package sqlite

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/perimeterhq/perimeter/internal/accesslog"
)

// The access log on SQLite is kept in batches: one row of access_log_batch
// per AppendLogs call (larger calls are cut into batches of at most
// batchSlots records), not one row per record.
//
// Why: a record stored as a row with secondary indexes cost about 17 µs of
// CPU, a third of it keeping the indexes, and capped what the gateway
// could serve. A batch row costs one B-tree insert per index for hundreds
// of records, and its blobs are written as whole pages.
//
// A row holds, besides its id, the time range of its records (min_time,
// max_time, indexed for queries and pruning), their number n, and three
// blobs, in this order so that reading one never reads the ones after it
// (SQLite walks a row's overflow pages only as far as the column asked
// for):
//
//   - summary: per filtered field (subscription, resource, result, rule,
//     host, deployment) the distinct values in the batch, as recorded, and
//     the lowest and highest source key. A query normalises these few
//     values (accesslog.Columns.Lower) and evaluates its filter on them
//     once per batch, rather than every record being lower-cased on its
//     way in, and skips a batch none of whose values match, without
//     reading more.
//   - keys: per record, in the order stored: its slot, its time (a zigzag
//     varint delta from the previous record's), for each field the index
//     of its value in the summary, its source key, and the length of its
//     JSON. A query filters a batch's records on these alone and decodes
//     the JSON only of those it returns.
//   - records: the records' JSON (accesslog.Stored) end to end, without
//     the fields the summary holds: they are over 40% of an ingress
//     record's JSON (the resource id alone is over 100 bytes), and the
//     bytes stored are what most of appending costs once records are
//     batched (SQLite writes each page to the WAL, then again at the
//     checkpoint). Reads put them back from the summary. Batches moved
//     from the per-record table keep whole JSON and lower-cased values
//     (a flag in the summary says which).
//
// A record's Seq is its batch id * batchSlots + its slot. Slots are given
// in append order, so Seq grows in storage order as the keyset cursor
// needs; a slot is kept explicitly because pruning part of a batch leaves
// gaps and the survivors keep their Seq, as do records moved from the old
// per-record table (their Seq was their row id, whose slot and batch it
// gives).

// batchSlots is the most records one batch holds, and the factor between a
// batch id and the Seq of its records.
const batchSlots = 1024

// summaryVersion is the first byte of every summary: the layout of the
// summary and the keys. The second holds flags (flagStripped); the values
// and the source range follow, each length-prefixed. A batch with another version is refused rather
// than misread.
const summaryVersion = 1

// The fields a summary lists distinct values of, in this order.
const (
	fieldSubscription = iota
	fieldResource
	fieldResult
	fieldRule
	fieldHost
	fieldDeployment
	numFields
)

// columnFields are the fields of c that the summary's fields hold, the one
// place that maps a Columns to the summary's order.
func columnFields(c *accesslog.Columns) [numFields]*string {
	return [numFields]*string{&c.Subscription, &c.Resource, &c.Result, &c.Rule, &c.Host, &c.Deployment}
}

// recordFields are the fields of r that the summary's fields hold.
func recordFields(r *accesslog.Record) [numFields]*string {
	return [numFields]*string{&r.SubscriptionID, &r.ResourceID, &r.Result, &r.Rule, &r.Host, &r.Deployment}
}

// Summary flags.
const (
	// flagStripped: the records' JSON leaves out the summary's fields.
	flagStripped = 1 << iota
)

// batchBuilder lays out one batch. It is reused from batch to batch.
type batchBuilder struct {
	n                int
	minTime, maxTime int64
	prevTime         int64
	index            [numFields]map[string]uint32
	dicts            [numFields][]string
	srcLo, srcHi     []byte
	keys             []byte
	sum              []byte // the summary, once sealed
	// stripped says that the records' JSON leaves out the summary's
	// fields (flagStripped).
	stripped bool
	// records is the JSON of the records added, end to end; callers append
	// a record's JSON to it before adding its key.
	records []byte
}

func newBatchBuilder() *batchBuilder {
	b := &batchBuilder{}
	for f := range b.index {
		b.index[f] = make(map[string]uint32)
	}
	return b
}

// reset empties b for the next batch, keeping its buffers.
func (b *batchBuilder) reset() {
	b.n, b.minTime, b.maxTime, b.prevTime = 0, 0, 0, 0
	for f := range b.index {
		clear(b.index[f])
		b.dicts[f] = b.dicts[f][:0]
	}
	b.srcLo, b.srcHi = nil, nil
	b.stripped = false
	b.keys, b.sum = b.keys[:0], b.sum[:0]
	b.records = b.records[:0]
}

// add records the key of a record whose size bytes of JSON the caller has
// just appended to b.records. c.Source is kept, not copied.
func (b *batchBuilder) add(slot int, c *accesslog.Columns, size int) {
	if b.n == 0 || c.Time < b.minTime {
		b.minTime = c.Time
	}
	if b.n == 0 || c.Time > b.maxTime {
		b.maxTime = c.Time
	}
	b.keys = binary.AppendUvarint(b.keys, uint64(slot))
	b.keys = binary.AppendVarint(b.keys, c.Time-b.prevTime)
	b.prevTime = c.Time
	for f, v := range columnFields(c) {
		b.keys = binary.AppendUvarint(b.keys, uint64(b.intern(f, *v)))
	}
	b.keys = binary.AppendUvarint(b.keys, uint64(len(c.Source)))
	b.keys = append(b.keys, c.Source...)
	if c.Source != nil {
		if b.srcLo == nil || bytes.Compare(c.Source, b.srcLo) < 0 {
			b.srcLo = c.Source
		}
		if b.srcHi == nil || bytes.Compare(c.Source, b.srcHi) > 0 {
			b.srcHi = c.Source
		}
	}
	b.keys = binary.AppendUvarint(b.keys, uint64(size))
	b.n++
}

// intern returns the index of v among field f's values in this batch.
func (b *batchBuilder) intern(f int, v string) uint32 {
	if i, ok := b.index[f][v]; ok {
		return i
	}
	i := uint32(len(b.dicts[f]))
	b.index[f][v] = i
	b.dicts[f] = append(b.dicts[f], v)
	return i
}

// seal writes the batch's summary, once every record is added.
func (b *batchBuilder) seal() {
	var flags byte
	if b.stripped {
		flags |= flagStripped
	}
	out := append(b.sum[:0], summaryVersion, flags)
	for _, d := range b.dicts {
		out = binary.AppendUvarint(out, uint64(len(d)))
		for _, v := range d {
			out = appendBytes(out, []byte(v))
		}
	}
	out = appendBytes(out, b.srcLo)
	b.sum = appendBytes(out, b.srcHi)
}

func appendBytes(dst, v []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(v))), v...)
}

// batchSummary is a summary read back. Its slices point into the blob.
type batchSummary struct {
	stripped     bool
	dicts        [numFields][][]byte
	srcLo, srcHi []byte // nil when no record has a source
}

// parseSummary reads a summary blob.
func parseSummary(blob []byte) (batchSummary, error) {
	var s batchSummary
	if len(blob) < 2 || blob[0] != summaryVersion {
		return s, errors.New("unknown summary version")
	}
	if blob[1]&^flagStripped != 0 {
		return s, fmt.Errorf("unknown summary flags %#x", blob[1])
	}
	s.stripped = blob[1]&flagStripped != 0
	r := blobReader{b: blob[2:]}
	for f := range s.dicts {
		n := r.count(len(r.b))
		s.dicts[f] = make([][]byte, n)
		for i := range s.dicts[f] {
			s.dicts[f][i] = r.bytes()
		}
	}
	s.srcLo, s.srcHi = r.bytes(), r.bytes()
	if len(s.srcLo) == 0 {
		s.srcLo, s.srcHi = nil, nil
	}
	return s, r.done("summary")
}

// restore puts back into r, read from the JSON of a stripped batch, the
// fields its summary holds, given its key's indexes.
func (s *batchSummary) restore(r *accesslog.Record, fields *[numFields]uint32) {
	if !s.stripped {
		return
	}
	for f, p := range recordFields(r) {
		*p = string(s.dicts[f][fields[f]])
	}
}

// logKey is one record's entry in a batch's keys.
type logKey struct {
	slot   int
	time   int64
	fields [numFields]uint32 // indexes into the summary's values
	source []byte            // nil without a source
	// offset and size locate the record's JSON in the records blob.
	offset, size int
}

// columns returns the record's columns, given its batch's summary.
func (k *logKey) columns(s *batchSummary) accesslog.Columns {
	c := accesslog.Columns{Time: k.time, Source: k.source}
	for f, p := range columnFields(&c) {
		*p = string(s.dicts[f][k.fields[f]])
	}
	return c
}

// parseKeys reads the n keys of a batch into dst[:0], checking them
// against its summary so that a damaged blob is an error, not a panic.
func parseKeys(dst []logKey, blob []byte, n int, s *batchSummary) ([]logKey, error) {
	if n < 0 || n > batchSlots {
		return dst, fmt.Errorf("%d records in one batch", n)
	}
	r := blobReader{b: blob}
	var prev int64
	offset := 0
	dst = dst[:0]
	for range n {
		var k logKey
		k.slot = r.count(batchSlots - 1)
		prev += r.varint()
		k.time = prev
		for f := range k.fields {
			k.fields[f] = uint32(r.count(len(s.dicts[f]) - 1))
		}
		k.source = r.bytes()
		if len(k.source) == 0 {
			k.source = nil
		}
		k.offset, k.size = offset, r.count(1<<31)
		offset += k.size
		dst = append(dst, k)
	}
	return dst, r.done("keys")
}

// blobReader reads varints and length-prefixed bytes, keeping the first
// error; reads after it return zero values.
type blobReader struct {
	b   []byte
	err error
}

func (r *blobReader) fail(what string) {
	if r.err == nil {
		r.err = errors.New(what)
	}
	r.b = nil
}

// count reads an unsigned varint no larger than max.
func (r *blobReader) count(max int) int {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || max < 0 || v > uint64(max) {
		r.fail("bad count")
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *blobReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes reads a length-prefixed byte string, pointing into the blob.
func (r *blobReader) bytes() []byte {
	n := r.count(len(r.b))
	if r.err == nil && n > len(r.b) { // the count's own bytes are read
		r.fail("bytes past the end")
	}
	if r.err != nil {
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// done returns the first error, or one if bytes are left over.
func (r *blobReader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return fmt.Errorf("%s: %w", what, r.err)
	}
	return nil
}
