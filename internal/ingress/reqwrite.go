package ingress

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// writeRequest writes req as HTTP/1.1 to w. The gateway's upstream
// requests are simple: a known Content-Length (the rewritten body) or no
// body, no trailers, no Expect. For those it writes the request line and
// headers itself, without http.Request.Write's per-request machinery
// (a transfer writer, header sorting, validation the server already did
// when it parsed the client's headers): 4% of the gateway's CPU. Anything
// else, or any header that could not be written safely, goes to
// req.Write, which also reports what is wrong with it.
func writeRequest(w *bufio.Writer, req *http.Request) error {
	if !simpleRequest(req) {
		return req.Write(w)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	uri := req.URL.RequestURI()
	if !safeHeaderText(host) || !safeHeaderText(uri) || strings.IndexByte(uri, ' ') >= 0 {
		return req.Write(w)
	}
	for k, vs := range req.Header {
		if !safeHeaderKey(k) {
			return req.Write(w)
		}
		for _, v := range vs {
			if !safeHeaderText(v) {
				return req.Write(w)
			}
		}
	}
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(uri)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	for k, vs := range req.Header {
		if reqExcluded(k) {
			continue
		}
		for _, v := range vs {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(strings.TrimSpace(v))
			w.WriteString("\r\n")
		}
	}
	if ua := req.Header["User-Agent"]; len(ua) > 0 && ua[0] != "" {
		w.WriteString("User-Agent: ")
		w.WriteString(strings.TrimSpace(ua[0]))
		w.WriteString("\r\n")
	}
	// As req.Write: a length, even zero, for the methods that carry a body.
	if req.ContentLength > 0 || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		w.WriteString("Content-Length: ")
		w.WriteString(strconv.FormatInt(req.ContentLength, 10))
		w.WriteString("\r\n")
	}
	if _, err := w.WriteString("\r\n"); err != nil {
		return err
	}
	if req.ContentLength == 0 {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil
	}
	n, err := io.Copy(w, io.LimitReader(req.Body, req.ContentLength))
	req.Body.Close()
	if err != nil {
		return err
	}
	if n != req.ContentLength {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// simpleRequest: a body of known length (or none), no trailers, no
// transfer coding and no 100-continue handshake.
func simpleRequest(req *http.Request) bool {
	noBody := req.Body == nil || req.Body == http.NoBody
	if req.ContentLength < 0 || (req.ContentLength > 0 && noBody) || (req.ContentLength == 0 && !noBody) ||
		len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 || req.Close || req.Method == "" || req.URL == nil {
		return false
	}
	return len(req.Header["Expect"]) == 0 && len(req.Header["Transfer-Encoding"]) == 0 &&
		len(req.Header["Trailer"]) == 0 && len(req.Header["Connection"]) == 0
}

// reqExcluded are the headers writeRequest writes from the request's
// fields rather than from Header, as req.Write does.
func reqExcluded(k string) bool {
	switch k {
	case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

// safeHeaderText: no byte that could end a header line or the head.
func safeHeaderText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// safeHeaderKey: a token (RFC 9110), in its canonical form or not.
func safeHeaderKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}
