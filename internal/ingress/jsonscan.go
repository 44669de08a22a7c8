package ingress

import (
	"encoding/json"
	"strconv"
)

// The gateway reads two things out of JSON on every request: the request's
// "model" member (replaced by the upstream's model name) and the usage a
// response reports. Decoding whole documents for that cost a tenth of the
// gateway's CPU under load; these helpers walk the bytes instead. They
// expect valid JSON (checked with json.Valid where the input is the
// client's) and never panic on anything else.

// member is one member of a JSON object: start is the offset of its name's
// opening quote, end the offset just past its value.
type member struct {
	name       []byte // as written, quotes and escapes included
	value      []byte // the raw value
	start, end int
}

// isName reports whether m's name is s once its escapes are decoded.
func (m member) isName(s string) bool {
	if len(m.name) == len(s)+2 && string(m.name[1:len(m.name)-1]) == s {
		return true
	}
	for _, c := range m.name {
		if c == '\\' {
			var name string
			return json.Unmarshal(m.name, &name) == nil && name == s
		}
	}
	return false
}

// objectMembers calls fn for each member of the JSON object that obj
// begins with (after optional white space), in order, until fn returns
// false. It reports false if obj does not begin with a well-formed object.
func objectMembers(obj []byte, fn func(member) bool) bool {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return true
	}
	for i < len(obj) {
		if obj[i] != '"' {
			return false
		}
		start := i
		nameEnd, ok := skipValue(obj, i)
		if !ok {
			return false
		}
		i = skipSpace(obj, nameEnd)
		if i >= len(obj) || obj[i] != ':' {
			return false
		}
		valStart := skipSpace(obj, i+1)
		valEnd, ok := skipValue(obj, valStart)
		if !ok {
			return false
		}
		if !fn(member{name: obj[start:nameEnd], value: obj[valStart:valEnd], start: start, end: valEnd}) {
			return true
		}
		i = skipSpace(obj, valEnd)
		if i >= len(obj) {
			return false
		}
		switch obj[i] {
		case '}':
			return true
		case ',':
			i = skipSpace(obj, i+1)
		default:
			return false
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipValue returns the offset just past the JSON value at b[i:]: a
// string, an object or array (nested to any depth), or a literal.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return end, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return i, false
	default:
		start := i
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return i, i > start
			}
			i++
		}
		return i, i > start
	}
}

// skipString returns the offset just past the string whose opening quote
// is at b[i].
func skipString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return i, false
}

// requestObject is a client's JSON request body: one object, kept as sent.
type requestObject []byte

// model returns the deployment the body's "model" member names: the last
// one, as encoding/json would decode it.
func (o requestObject) model() (name string, ok bool) {
	var raw []byte
	objectMembers(o, func(m member) bool {
		if m.isName("model") {
			raw = m.value
		}
		return true
	})
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &name) != nil {
		return "", false
	}
	return name, true
}

// withModel returns the object with every "model" member removed and one
// naming model first; every other member passes through byte for byte.
func (o requestObject) withModel(model string) []byte {
	out := make([]byte, 0, len(o)+len(model)+16)
	out = append(out, `{"model":`...)
	if isJSONSafe(model) {
		out = strconv.AppendQuote(out, model)
	} else {
		q, _ := json.Marshal(model) // a string always encodes
		out = append(out, q...)
	}
	objectMembers(o, func(m member) bool {
		if !m.isName("model") {
			out = append(out, ',')
			out = append(out, o[m.start:m.end]...)
		}
		return true
	})
	return append(out, '}')
}

// isJSONSafe reports whether strconv.Quote writes s as JSON would: s is
// printable ASCII, where Go escapes only the quote and the backslash.
func isJSONSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// usageMember reads prompt_tokens and completion_tokens out of a usage
// object's raw value.
func usageMember(v []byte) (prompt, completion int, ok bool) {
	ok = objectMembers(v, func(m member) bool {
		switch {
		case m.isName("prompt_tokens"):
			prompt = count(m.value)
		case m.isName("completion_tokens"):
			completion = count(m.value)
		}
		return true
	})
	return prompt, completion, ok
}

// count reads a token count: a non-negative JSON integer, or 0 for
// anything else.
func count(v []byte) int {
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' || n > (1<<62)/10 {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}
