package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// stsError is a refusal rendered the way Entra renders them: an OAuth 2.0
// error code, an "AADSTSnnnn: ..." description and the trace fields.
type stsError struct {
	status int
	code   string // OAuth 2.0 "error"
	aadsts int    // 0 when Entra has no code for the case
	msg    string
	// basic asks for a WWW-Authenticate challenge (RFC 6749 §5.2: a
	// failed HTTP Basic client authentication answers one).
	basic bool
	// allow is the Allow header of a 405; "" means POST.
	allow string
}

func (e *stsError) Error() string { return fmt.Sprintf("%s: %s", e.code, e.msg) }

func newSTSError(status int, code string, aadsts int, format string, args ...any) *stsError {
	return &stsError{status: status, code: code, aadsts: aadsts, msg: fmt.Sprintf(format, args...)}
}

// The refusals the endpoints use, with the codes and wording Entra uses.
func unknownTenantError(tenant string) *stsError {
	return newSTSError(http.StatusNotFound, "invalid_tenant", 90002,
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", clip(tenant))
}

func missingParameterError(name string) *stsError {
	return newSTSError(http.StatusBadRequest, "invalid_request", 900144,
		"The request body must contain the following parameter: '%s'.", name)
}

func invalidClientSecretError(appID string) *stsError {
	return newSTSError(http.StatusUnauthorized, "invalid_client", 7000215,
		"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clip(appID))
}

// errorBody is Entra's error response.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

// handlerFunc is an endpoint that returns its failure instead of writing it,
// so that one place (serve) renders every error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// serve adapts h: *stsError values are shown to the client as Entra would
// show them; anything else is logged and answered with a bare server error.
func (i *Issuer) serve(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var se *stsError
		switch {
		case errors.As(err, &se):
		case errors.Is(err, errNoBaseURL):
			se = newSTSError(http.StatusServiceUnavailable, "temporarily_unavailable", 0, "The token service is starting; try again shortly.")
		default:
			i.log.ErrorContext(r.Context(), "identity endpoint failed", slog.String("path", r.URL.Path), slog.Any("error", err))
			se = newSTSError(http.StatusInternalServerError, "server_error", 0, "The token service failed to process the request.")
		}
		i.writeError(w, r, se)
	}
}

func (i *Issuer) writeError(w http.ResponseWriter, r *http.Request, se *stsError) {
	traceID := newGUID()
	correlationID := correlationID(r)
	ts := i.now().UTC().Format("2006-01-02 15:04:05Z")
	desc := se.msg
	codes := []int{}
	if se.aadsts != 0 {
		desc = fmt.Sprintf("AADSTS%d: %s", se.aadsts, se.msg)
		codes = append(codes, se.aadsts)
	}
	desc += "\r\nTrace ID: " + traceID + "\r\nCorrelation ID: " + correlationID + "\r\nTimestamp: " + ts
	if se.basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="perimeter"`)
	}
	if se.status == http.StatusMethodNotAllowed {
		allow := se.allow
		if allow == "" {
			allow = http.MethodPost
		}
		w.Header().Set("Allow", allow)
	}
	w.Header().Set("x-ms-request-id", traceID)
	writeJSON(w, se.status, errorBody{
		Error:            se.code,
		ErrorDescription: desc,
		ErrorCodes:       codes,
		Timestamp:        ts,
		TraceID:          traceID,
		CorrelationID:    correlationID,
	})
}

// correlationID echoes the client's client-request-id (MSAL sends one) when
// it is a GUID, as Entra does, and makes one up otherwise.
func correlationID(r *http.Request) string {
	if id, ok := canonicalGUID(r.Header.Get("client-request-id")); ok {
		return id
	}
	return newGUID()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own plain structs are encoded here.
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// clip bounds client input echoed in error descriptions.
func clip(s string) string {
	const maxEcho = 200
	if len(s) > maxEcho {
		return s[:maxEcho] + "..."
	}
	return s
}
