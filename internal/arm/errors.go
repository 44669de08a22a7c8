package arm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error is an ARM error: an HTTP status and the body of the ARM error
// envelope. Handlers return it (possibly wrapped); one place, writeError,
// renders it. Anything that is not an *Error renders as a 500 whose detail
// stays in the server log.
type Error struct {
	Status  int           `json:"-"`
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Target  string        `json:"target,omitempty"`
	Details []ErrorDetail `json:"details,omitempty"`
	// Header holds response headers that go with the error, such as
	// WWW-Authenticate on a 401.
	Header http.Header `json:"-"`
}

// ErrorDetail is one entry of an error's details.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Errorf builds an *Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 with the given code.
func BadRequest(code, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, code, format, args...)
}

// InvalidProperty is a 400 naming the property (a JSON path such as
// "properties.networkAcls.ipRules[2].value") that must change.
func InvalidProperty(code, target, format string, args ...any) *Error {
	e := BadRequest(code, format, args...)
	e.Target = target
	return e
}

// Codes used by the generic machinery. Providers add their own.
const (
	CodeMissingAPIVersion         = "MissingApiVersionParameter"
	CodeInvalidAPIVersion         = "InvalidApiVersionParameter"
	CodeInvalidRequestContent     = "InvalidRequestContent"
	CodeRequestTooLarge           = "RequestContentTooLarge"
	CodeInvalidResourceName       = "InvalidResourceName"
	CodeInvalidResourceID         = "InvalidResourceId"
	CodeInvalidResourceType       = "InvalidResourceType"
	CodeLocationRequired          = "LocationRequired"
	CodeInvalidLocation           = "InvalidLocation"
	CodeResourceNotFound          = "ResourceNotFound"
	CodeResourceGroupNotFound     = "ResourceGroupNotFound"
	CodeParentResourceNotFound    = "ParentResourceNotFound"
	CodeSubscriptionNotFound      = "SubscriptionNotFound"
	CodeMissingRegistration       = "MissingSubscriptionRegistration"
	CodePreconditionFailed        = "PreconditionFailed"
	CodeConflict                  = "Conflict"
	CodeMethodNotAllowed          = "MethodNotAllowed"
	CodeAuthenticationFailed      = "AuthenticationFailed"
	CodeInvalidAuthenticationTok  = "InvalidAuthenticationToken"
	CodeInternalServerError       = "InternalServerError"
	CodeOperationNotFound         = "OperationNotFound"
	CodeInvalidTagName            = "InvalidTagName"
	CodeUnsupportedMediaType      = "UnsupportedMediaType"
	CodeNoRegisteredProviderFound = "NoRegisteredProviderFound"
)

// envelope is the ARM error body: {"error": {...}}.
type envelope struct {
	Error *Error `json:"error"`
}

// asError turns any error into the *Error to render. The second result is
// false when the error was not meant for the caller (an internal failure).
func asError(err error) (*Error, bool) {
	var ae *Error
	if errors.As(err, &ae) {
		return ae, true
	}
	return &Error{
		Status:  http.StatusInternalServerError,
		Code:    CodeInternalServerError,
		Message: "The server encountered an internal error. Retry the request; if it keeps failing, report the x-ms-request-id.",
	}, false
}

// WriteError renders err as an ARM error envelope.
func WriteError(w http.ResponseWriter, err error) {
	ae, _ := asError(err)
	writeJSON(w, ae.Status, envelope{Error: ae})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"InternalServerError","message":"The response could not be encoded."}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// decodeError explains a JSON decoding failure the way a user can act on:
// where the problem is and what was expected.
func decodeError(body []byte, err error) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(body, syn.Offset)
		return BadRequest(CodeInvalidRequestContent,
			"The request content is not valid JSON: %s at line %d, column %d.", syn.Error(), line, col)
	case errors.As(err, &typ):
		line, col := position(body, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "(root)"
		}
		e := BadRequest(CodeInvalidRequestContent,
			"The request content is invalid: property '%s' must be %s, not a JSON %s (line %d, column %d).",
			field, jsonKind(typ.Type.Kind().String()), typ.Value, line, col)
		e.Target = field
		return e
	case strings.Contains(err.Error(), "unexpected end of JSON input"):
		return BadRequest(CodeInvalidRequestContent, "The request content is not valid JSON: it ends before the document is complete.")
	default:
		return BadRequest(CodeInvalidRequestContent, "The request content is invalid: %s.", err.Error())
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return "of type " + goKind
}

// position converts a byte offset into a 1-based line and column.
func position(body []byte, offset int64) (line, col int) {
	if offset > int64(len(body)) {
		offset = int64(len(body))
	}
	line, col = 1, 1
	for _, b := range body[:offset] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
