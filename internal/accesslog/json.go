package accesslog

import (
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends r's JSON to b: the same bytes json.Marshal gives,
// except that <, > and & are not escaped (both decode to the same
// record). Every data-plane decision is encoded once on its way to the
// store, and encoding/json's reflection cost more than a third of what
// writing a record costs.
func (r *Record) AppendJSON(b []byte) ([]byte, error) {
	if r.Time.Year() < 0 || r.Time.Year() > 9999 {
		return nil, errors.New("accesslog: the record's time is outside years 0-9999")
	}
	if math.IsNaN(r.LatencyMs) || math.IsInf(r.LatencyMs, 0) {
		return nil, errors.New("accesslog: the record's latency is not a number")
	}
	w := jsonObject{b: append(b, '{')}
	if r.Seq != 0 {
		w.int("seq", r.Seq)
	}
	w.key("time")
	w.b = append(w.b, '"')
	w.b = r.Time.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
	w.str("requestId", r.RequestID)
	w.str("plane", r.Plane)
	w.str("direction", r.Direction)
	w.optStr("sourceIp", r.SourceIP)
	w.optInt("sourcePort", int64(r.SourcePort))
	w.optStr("sourceVia", r.SourceVia)
	w.optStr("arrivalPath", r.ArrivalPath)
	w.optStr("subnetId", r.SubnetID)
	w.optStr("privateEndpointId", r.PrivateEndpointID)
	w.optStr("resourceId", r.ResourceID)
	w.optStr("subscriptionId", r.SubscriptionID)
	w.optStr("host", r.Host)
	w.optInt("destinationPort", int64(r.DestinationPort))
	w.optStr("deployment", r.Deployment)
	w.optStr("operation", r.Operation)
	w.str("result", r.Result)
	w.optStr("layer", r.Layer)
	w.optStr("rule", r.Rule)
	w.optStr("code", r.Code)
	w.optStr("reason", r.Reason)
	w.optStr("category", r.Category)
	w.optInt("snapshotRevision", r.SnapshotRevision)
	w.optStr("principalId", r.PrincipalID)
	w.optStr("authType", r.AuthType)
	w.optInt("status", int64(r.Status))
	if r.LatencyMs != 0 {
		w.key("latencyMs")
		w.b = appendFloat(w.b, r.LatencyMs)
	}
	w.optInt("promptTokens", int64(r.PromptTokens))
	w.optInt("completionTokens", int64(r.CompletionTokens))
	return append(w.b, '}'), nil
}

// jsonObject writes the members of one JSON object.
type jsonObject struct {
	b    []byte
	more bool
}

func (w *jsonObject) key(k string) {
	if w.more {
		w.b = append(w.b, ',')
	}
	w.more = true
	w.b = append(w.b, '"')
	w.b = append(w.b, k...) // keys are plain ASCII names
	w.b = append(w.b, '"', ':')
}

func (w *jsonObject) str(k, v string) {
	w.key(k)
	w.b = appendString(w.b, v)
}

func (w *jsonObject) optStr(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *jsonObject) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonObject) optInt(k string, v int64) {
	if v != 0 {
		w.int(k, v)
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// (invalid UTF-8 becomes U+FFFD; U+2028 and U+2029 are escaped for
// JavaScript), except for <, > and &.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat formats f as encoding/json does: the shortest decimal that
// reads back as f, in exponent form only for very small or large values.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
