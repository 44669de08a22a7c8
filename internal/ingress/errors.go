package ingress

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/perimeterhq/perimeter/internal/access"
)

// Layers the gateway decides in itself, after (or instead of) the network
// layers of internal/access. They name Record.Layer in the access log.
const (
	LayerAuthentication = "authentication"
	LayerAuthorization  = "authorization"
	LayerRequest        = "request"
	LayerUpstream       = "upstream"
)

// Codes the gateway puts in the access log (Record.Code) for what it
// decides itself; network decisions carry internal/access's codes.
const (
	CodeMisdirectedRequest         = "MisdirectedRequest"
	CodeKeyMissing                 = "CredentialMissing"
	CodeKeyInvalid                 = "KeyInvalid"
	CodeTokenInvalid               = "TokenInvalid"
	CodeAuthenticationTypeDisabled = "AuthenticationTypeDisabled"
	CodePermissionDenied           = "PermissionDenied"
	CodeNotFound                   = "NotFound"
	CodeMethodNotAllowed           = "MethodNotAllowed"
	CodeAPIVersionMissing          = "ApiVersionMissing"
	CodeAPIVersionNotSupported     = "ApiVersionNotSupported"
	CodeBodyTooLarge               = "RequestEntityTooLarge"
	CodeBodyTimeout                = "RequestTimeout"
	CodeBadRequest                 = "BadRequest"
	CodeDeploymentNotFound         = "DeploymentNotFound"
	CodeOperationNotSupported      = "OperationNotSupported"
	CodeUpstreamUnavailable        = "UpstreamUnavailable"
	CodeUpstreamTimeout            = "UpstreamTimeout"
	CodeInternal                   = "InternalError"
)

// refusal is an answer the gateway gives instead of the upstream's. It
// keeps apart what the caller sees (Status, Code, Message: Azure's words)
// and what the log keeps (Layer, Rule, LogCode, Reason, the cause).
// Handlers return refusals; render is the one place that writes them.
type refusal struct {
	Status  int
	Code    string // error.code of the body
	Message string // error.message of the body

	Layer   string
	Rule    string
	LogCode string
	Reason  string
	// TrafficDenied marks network refusals, which Azure answers with
	// policy-id: ThrowExceptionDueToTrafficDenied.
	TrafficDenied bool
	// KeepDecision leaves the access decision of the record as it was: an
	// upstream failure happens to a request the rules allowed.
	KeepDecision bool
	// Header holds extra response headers (Retry-After).
	Header http.Header

	cause error
}

func (e *refusal) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.LogCode, e.Reason, e.cause)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.LogCode, e.Reason)
}

func (e *refusal) Unwrap() error { return e.cause }

// Azure's messages, as its data plane words them.
const (
	msgFirewall        = "Access denied due to Virtual Network/Firewall rules."
	msgPublicDisabled  = "Public access is disabled. Please configure private endpoint."
	msgKeyMissing      = "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
	msgKeyInvalid      = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."
	msgTokenInvalid    = "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."
	msgLocalAuthOff    = "Key based authentication is disabled for this resource."
	msgNotFound        = "Resource not found"
	msgDeploymentGone  = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."
	msgAPIVersionNone  = "Missing required query parameter: api-version"
	msgAPIVersionBad   = "API version not supported"
	msgUpstreamDown    = "The model server for this deployment could not be reached. Please try again later."
	msgUpstreamTimeout = "The operation was timeout."
)

// networkRefusal turns a refusing decision of access.Evaluate into the
// answer Azure gives for it.
func networkRefusal(d access.Decision) *refusal {
	e := &refusal{Layer: d.Layer, Rule: d.Rule, LogCode: d.Code, Reason: d.Reason}
	switch d.Code {
	case access.CodeNoSnapshot:
		e.Status, e.Code, e.Message = http.StatusServiceUnavailable, "ServiceUnavailable",
			"The service is starting and cannot serve requests yet. Please retry shortly."
		e.Header = http.Header{"Retry-After": {"1"}}
	case access.CodeUnknownHost:
		e.Status, e.Code, e.Message = http.StatusNotFound, "404", msgNotFound
	case access.CodePublicNetworkAccessDisabled:
		e.Status, e.Code, e.Message, e.TrafficDenied = http.StatusForbidden, "403", msgPublicDisabled, true
	default:
		// Firewall and private-link refusals (and any code added later)
		// look the same to the caller: the log says which.
		e.Status, e.Code, e.Message, e.TrafficDenied = http.StatusForbidden, "403", msgFirewall, true
	}
	return e
}

func badRequest(logCode, message, reason string) *refusal {
	return &refusal{Status: http.StatusBadRequest, Code: "BadRequest", Message: message, Layer: LayerRequest, LogCode: logCode, Reason: reason}
}

func notFound(reason string) *refusal {
	return &refusal{Status: http.StatusNotFound, Code: "404", Message: msgNotFound, Layer: LayerRequest, LogCode: CodeNotFound, Reason: reason}
}

func deploymentNotFound(reason string) *refusal {
	return &refusal{Status: http.StatusNotFound, Code: "DeploymentNotFound", Message: msgDeploymentGone,
		Layer: LayerRequest, LogCode: CodeDeploymentNotFound, Reason: reason}
}

func internalError(err error) *refusal {
	return &refusal{Status: http.StatusInternalServerError, Code: "InternalServerError",
		Message: "The server had an error while processing your request.", Layer: access.LayerSystem,
		LogCode: CodeInternal, Reason: "internal error", cause: err}
}

// Response headers Azure's data plane sends with every answer.
const (
	headerRequestID   = "Apim-Request-Id"
	headerMSRequestID = "X-Ms-Request-Id"
	headerPolicyID    = "Policy-Id"
	headerHSTS        = "Strict-Transport-Security"
	headerNoSniff     = "X-Content-Type-Options"
	policyDenied      = "ThrowExceptionDueToTrafficDenied"
	hstsValue         = "max-age=31536000; includeSubDomains; preload"
)

// Values every answer carries, shared by all answers (and a request's id
// by its headers): a slice holding one value has no room to grow, so an
// Add to the same key copies it instead of writing into it. Setting them
// this way saves an allocation per header per request.
var (
	hstsValues    = []string{hstsValue}
	noSniffValues = []string{"nosniff"}
)

// setCommonHeaders puts the headers every answer carries; requestID is
// the exchange's ids, one value.
func setCommonHeaders(h http.Header, requestID []string) {
	h[headerRequestID] = requestID
	h[headerMSRequestID] = requestID
	h[headerHSTS] = hstsValues
	h[headerNoSniff] = noSniffValues
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// render writes err as the answer and records it in the exchange. It is
// the only place refusals become responses.
func (g *Gateway) render(w http.ResponseWriter, x *exchange, err error) {
	var e *refusal
	if !errors.As(err, &e) {
		e = internalError(err)
	}
	x.refused(e)
	h := w.Header()
	setCommonHeaders(h, x.ids)
	for k, v := range e.Header {
		h[k] = v
	}
	if e.TrafficDenied {
		h.Set(headerPolicyID, policyDenied)
	}
	var b errorBody
	b.Error.Code, b.Error.Message = e.Code, e.Message
	body, _ := json.Marshal(b)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}
