package ingress

import (
	"bytes"
	"io"
)

// usage is the token usage a model server reported for one request.
type usage struct {
	Prompt, Completion int
	Seen               bool
}

// take notes the usage member of one JSON object (an SSE event's data).
func (u *usage) take(doc []byte) {
	objectMembers(doc, func(m member) bool {
		if !m.isName("usage") {
			return true
		}
		if p, c, ok := usageMember(m.value); ok {
			u.Prompt, u.Completion, u.Seen = p, c, true
		}
		return false
	})
}

// maxSSELine bounds the event line the SSE reader keeps to look for usage;
// a longer line passes through unexamined.
const maxSSELine = 1 << 20

// sseUsage passes a server-sent event stream through unchanged, read by
// read, and notes the usage of any "data:" event that carries one (the
// final chunk when the client asked for stream_options.include_usage). It
// holds at most one incomplete line, never the stream.
type sseUsage struct {
	io.ReadCloser
	u        *usage
	line     []byte
	overflow bool
}

func (s *sseUsage) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	s.scan(p[:n])
	return n, err
}

func (s *sseUsage) scan(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if !s.overflow {
			if len(s.line)+len(chunk) > maxSSELine {
				s.overflow, s.line = true, nil
			} else {
				s.line = append(s.line, chunk...)
			}
		}
		if i < 0 {
			return
		}
		if !s.overflow {
			s.event(bytes.TrimSuffix(s.line, []byte("\r")))
		}
		s.line, s.overflow = s.line[:0], false
		b = b[i+1:]
	}
}

func (s *sseUsage) event(line []byte) {
	data, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok || !bytes.Contains(data, []byte(`"usage"`)) {
		return
	}
	s.u.take(bytes.TrimSpace(data))
}

// jsonTail is how much of the end of a JSON response jsonUsage keeps:
// "usage" comes last or nearly so in every OpenAI-compatible server's
// answer, after choices or embeddings that may be megabytes long.
const jsonTail = 64 << 10

// jsonUsage passes a JSON response through unchanged and, at its end,
// reads the usage object from the last jsonTail bytes.
type jsonUsage struct {
	io.ReadCloser
	u    *usage
	tail []byte
	done bool
}

func (j *jsonUsage) Read(p []byte) (int, error) {
	n, err := j.ReadCloser.Read(p)
	j.tail = append(j.tail, p[:n]...)
	if len(j.tail) > 2*jsonTail {
		j.tail = append(j.tail[:0], j.tail[len(j.tail)-jsonTail:]...)
	}
	if err == io.EOF && !j.done {
		j.done = true
		j.u.Prompt, j.u.Completion, j.u.Seen = usageFromTail(j.tail)
	}
	return n, err
}

// usageFromTail finds the last "usage" member in the end of a JSON
// document and reads its token counts. Inside JSON strings a quote is
// escaped, so `"usage"` followed by a colon is a member name.
func usageFromTail(tail []byte) (prompt, completion int, ok bool) {
	key := []byte(`"usage"`)
	for end := len(tail); ; {
		i := bytes.LastIndex(tail[:end], key)
		if i < 0 {
			return 0, 0, false
		}
		rest := tail[skipSpace(tail, i+len(key)):]
		if len(rest) > 0 && rest[0] == ':' {
			if p, c, ok := usageMember(rest[1:]); ok {
				return p, c, true
			}
		}
		end = i
	}
}
