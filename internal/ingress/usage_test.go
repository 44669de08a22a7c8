package ingress

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSSEUsageAcrossReads(t *testing.T) {
	stream := "data: {\"choices\":[{\"delta\":{\"content\":\"usage\"}}]}\n\n" +
		": comment \"usage\"\n" +
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}\r\n\r\n" +
		"data: [DONE]\n\n"
	for _, size := range []int{1, 3, 7, 1000} {
		var u usage
		r := &sseUsage{ReadCloser: io.NopCloser(iotest.OneByteReader(strings.NewReader(stream))), u: &u}
		if size > 1 {
			r.ReadCloser = io.NopCloser(&chunked{s: stream, n: size})
		}
		out, err := io.ReadAll(r)
		if err != nil || string(out) != stream {
			t.Fatalf("size %d: the stream changed: %q %v", size, out, err)
		}
		if !u.Seen || u.Prompt != 12 || u.Completion != 34 {
			t.Errorf("size %d: usage %+v", size, u)
		}
	}
}

func TestSSEUsageBoundsLines(t *testing.T) {
	var u usage
	long := "data: {\"x\":\"" + strings.Repeat("a", maxSSELine) + "\",\"usage\":{\"prompt_tokens\":1}}\n"
	r := &sseUsage{ReadCloser: io.NopCloser(strings.NewReader(long + "data: {\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3}}\n")), u: &u}
	_, _ = io.Copy(io.Discard, r)
	if u.Prompt != 2 || u.Completion != 3 || cap(r.line) > 64<<10 {
		t.Errorf("usage %+v, line buffer %d", u, cap(r.line))
	}
}

func TestJSONUsageFromTheTail(t *testing.T) {
	big := `{"data":[{"embedding":[` + strings.Repeat("0.1,", 100000) + `0.2]}],"model":"m","usage" : {"prompt_tokens":5,"total_tokens":5}}`
	var u usage
	r := &jsonUsage{ReadCloser: io.NopCloser(&chunked{s: big, n: 4096}), u: &u}
	out, _ := io.ReadAll(r)
	if !bytes.Equal(out, []byte(big)) || !u.Seen || u.Prompt != 5 || u.Completion != 0 || len(r.tail) > 2*jsonTail {
		t.Errorf("usage %+v tail %d", u, len(r.tail))
	}
	for _, doc := range []string{`{"usage":null}`, `{"a":"\"usage\": 1"}`, `not json`, ``} {
		p, c, ok := usageFromTail([]byte(doc))
		if ok {
			t.Errorf("%s: usage %d/%d", doc, p, c)
		}
	}
}

// chunked reads s n bytes at a time.
type chunked struct {
	s string
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	n := min(c.n, len(p), len(c.s))
	copy(p, c.s[:n])
	c.s = c.s[n:]
	return n, nil
}
