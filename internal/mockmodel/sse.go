package mockmodel

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// sseWriter writes Server-Sent Events the way OpenAI streams them: each
// event is one "data: <json>" line followed by a blank line, flushed at
// once, and the stream ends with "data: [DONE]".
type sseWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	ctx   context.Context
	timer *time.Timer
}

// startSSE sends the response headers of an event stream.
func startSSE(w http.ResponseWriter, r *http.Request) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell buffering proxies (nginx) not to
	w.WriteHeader(http.StatusOK)
	s := &sseWriter{w: w, rc: http.NewResponseController(w), ctx: r.Context()}
	_ = s.flush()
	return s
}

// event writes one data event holding v as JSON. It fails once the client
// has gone away.
func (s *sseWriter) event(v any) error {
	return s.write(marshal(v))
}

// done writes the terminating [DONE] event.
func (s *sseWriter) done() error {
	return s.write([]byte("[DONE]"))
}

func (s *sseWriter) write(data []byte) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	buf := make([]byte, 0, len(data)+8)
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	if _, err := s.w.Write(buf); err != nil {
		return err
	}
	return s.flush()
}

func (s *sseWriter) flush() error {
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// sleep pauses for d, returning early with an error if the client goes
// away.
func (s *sseWriter) sleep(d time.Duration) error {
	if d <= 0 {
		return s.ctx.Err()
	}
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	select {
	case <-s.timer.C:
		return nil
	case <-s.ctx.Done():
		s.timer.Stop()
		return s.ctx.Err()
	}
}

// stop releases the timer.
func (s *sseWriter) stop() {
	if s.timer != nil {
		s.timer.Stop()
	}
}
