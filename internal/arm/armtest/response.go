package armtest

import (
	"encoding/json"
	"testing"

	"github.com/perimeterhq/perimeter/internal/arm"
)

// JSON decodes the body as a JSON object, failing the test if it is not
// one.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.Status, err, r.Body)
	}
	return m
}

// ARMError returns the error of an ARM error envelope (code, message,
// target, details), failing the test if the body is not one or lacks a
// code or a message.
func (r Response) ARMError(t testing.TB) arm.Error {
	t.Helper()
	var env struct{ Error arm.Error }
	if err := json.Unmarshal(r.Body, &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
		t.Fatalf("status %d: not an ARM error envelope: %s", r.Status, r.Body)
	}
	return env.Error
}

// ErrCode returns the code of an ARM error envelope, as ARMError does.
func (r Response) ErrCode(t testing.TB) string {
	t.Helper()
	return r.ARMError(t).Code
}
