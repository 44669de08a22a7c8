package ingress

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/models"
)

// operation is one kind of request the gateway serves.
type operation struct {
	// Name is what the access log calls it (Record.Operation).
	Name string
	// Method is the only method allowed.
	Method string
	// UpstreamPath is appended to the model's upstream URL; "" for
	// operations the gateway answers itself.
	UpstreamPath string
	// Capability is what the model must list to serve it.
	Capability string
	// DataAction is the RBAC data action it needs (for the Authorizer).
	DataAction string
	// JSONBody operations carry a JSON object whose "model" the gateway
	// rewrites.
	JSONBody bool
	// WebSocket operations are upgrades to the upstream.
	WebSocket bool
	// List is set for the listings the gateway answers.
	List listing
}

type listing int

const (
	notListing listing = iota
	listDeployments
	listModels
)

const dataActionPrefix = "Microsoft.CognitiveServices/accounts/OpenAI/"

var (
	opChat = &operation{Name: "chat/completions", Method: http.MethodPost, UpstreamPath: "/chat/completions",
		Capability: models.ChatCompletion, DataAction: dataActionPrefix + "deployments/chat/completions/action", JSONBody: true}
	opCompletions = &operation{Name: "completions", Method: http.MethodPost, UpstreamPath: "/completions",
		Capability: models.Completion, DataAction: dataActionPrefix + "deployments/completions/action", JSONBody: true}
	opEmbeddings = &operation{Name: "embeddings", Method: http.MethodPost, UpstreamPath: "/embeddings",
		Capability: models.Embeddings, DataAction: dataActionPrefix + "deployments/embeddings/action", JSONBody: true}
	opRealtime = &operation{Name: "realtime", Method: http.MethodGet, UpstreamPath: "/realtime",
		DataAction: dataActionPrefix + "deployments/realtime/action", WebSocket: true}
	opListDeployments = &operation{Name: "deployments/list", Method: http.MethodGet,
		DataAction: dataActionPrefix + "deployments/read", List: listDeployments}
	opListModels = &operation{Name: "models/list", Method: http.MethodGet,
		DataAction: dataActionPrefix + "models/read", List: listModels}
)

// deploymentOps are the operations under /openai/deployments/{d}/ and
// /openai/v1/.
var deploymentOps = map[string]*operation{
	"chat/completions": opChat,
	"completions":      opCompletions,
	"embeddings":       opEmbeddings,
}

// route is a parsed request path.
type route struct {
	op *operation
	// deployment is the deployment the path or query names; "" on /v1
	// routes that name it in the body, and on listings.
	deployment string
	// v1 routes are the OpenAI-compatible /openai/v1 API: no api-version,
	// the deployment in "model".
	v1 bool
	// bad is why the request cannot be served (nil when it can); it is
	// answered only after the network and credential checks.
	bad *refusal
}

// parseRoute maps a request to its operation. It never fails outright:
// the refusal waits in route.bad, so the log can name the operation of a
// request refused for another reason first.
func parseRoute(r *http.Request) route {
	p := strings.TrimSuffix(r.URL.Path, "/")
	var rt route
	switch {
	case strings.HasPrefix(p, "/openai/v1/"):
		rt.v1 = true
		rest := strings.TrimPrefix(p, "/openai/v1/")
		switch {
		case deploymentOps[rest] != nil:
			rt.op = deploymentOps[rest]
		case rest == "realtime":
			rt.op = opRealtime
			rt.deployment = r.URL.Query().Get("model")
		}
	case p == "/openai/deployments":
		rt.op = opListDeployments
	case p == "/openai/models":
		rt.op = opListModels
	case p == "/openai/realtime":
		rt.op = opRealtime
		rt.deployment = r.URL.Query().Get("deployment")
	case strings.HasPrefix(p, "/openai/deployments/"):
		name, rest, ok := strings.Cut(strings.TrimPrefix(p, "/openai/deployments/"), "/")
		if op := deploymentOps[rest]; ok && name != "" && op != nil {
			rt.op, rt.deployment = op, name
		}
	}
	if rt.op == nil {
		rt.bad = notFound("no operation is served at this path")
		return rt
	}
	if r.Method != rt.op.Method {
		rt.bad = &refusal{Status: http.StatusMethodNotAllowed, Code: "405", Message: "Method not allowed",
			Layer: LayerRequest, LogCode: CodeMethodNotAllowed, Reason: "the operation is " + rt.op.Method + " only",
			Header: http.Header{"Allow": {rt.op.Method}}}
		return rt
	}
	if rt.op.WebSocket && !isWebSocket(r) {
		rt.bad = badRequest(CodeBadRequest, "This endpoint accepts WebSocket connections only.", "a realtime request that is not a WebSocket upgrade")
		return rt
	}
	if rt.op.WebSocket && rt.deployment == "" {
		rt.bad = badRequest(CodeBadRequest, "The deployment query parameter is required.", "a realtime request naming no deployment")
		return rt
	}
	rt.bad = checkAPIVersion(r.URL, rt.v1)
	return rt
}

// isWebSocket reports whether r asks to upgrade to WebSocket.
func isWebSocket(r *http.Request) bool {
	return hasToken(r.Header["Connection"], "upgrade") && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// hasToken reports whether comma-separated header values hold token
// (case-insensitive), as Connection: keep-alive, Upgrade does.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// checkAPIVersion checks the api-version query parameter: required on the
// Azure OpenAI routes and one Azure serves; on /openai/v1 routes absent or
// one of the v1 API's aliases (Azure refuses dated versions there too).
func checkAPIVersion(u *url.URL, v1 bool) *refusal {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return badRequest(CodeBadRequest, "The query string could not be parsed.", "malformed query string")
	}
	versions, present := q["api-version"]
	if v1 {
		if !present || (len(versions) == 1 && v1Versions[strings.ToLower(versions[0])]) {
			return nil
		}
		return badRequest(CodeAPIVersionNotSupported, msgAPIVersionBad, "the /openai/v1 API takes no dated api-version")
	}
	if !present || len(versions) == 0 || versions[0] == "" {
		return badRequest(CodeAPIVersionMissing, msgAPIVersionNone, "no api-version query parameter")
	}
	if len(versions) > 1 || !knownAPIVersion(versions[0]) {
		return badRequest(CodeAPIVersionNotSupported, msgAPIVersionBad, "unknown api-version")
	}
	return nil
}

// v1Versions are what /openai/v1 accepts as api-version.
var v1Versions = map[string]bool{"v1": true, "preview": true, "latest": true}

// apiVersions are the Azure OpenAI data-plane (inference) versions Azure
// has published, GA and preview.
var apiVersions = map[string]bool{
	"2022-12-01": true, "2023-05-15": true, "2024-02-01": true, "2024-06-01": true, "2024-10-21": true,
	"2023-03-15-preview": true, "2023-06-01-preview": true, "2023-07-01-preview": true, "2023-08-01-preview": true,
	"2023-09-01-preview": true, "2023-10-01-preview": true, "2023-12-01-preview": true, "2024-02-15-preview": true,
	"2024-03-01-preview": true, "2024-04-01-preview": true, "2024-05-01-preview": true, "2024-07-01-preview": true,
	"2024-08-01-preview": true, "2024-09-01-preview": true, "2024-10-01-preview": true, "2024-12-01-preview": true,
	"2025-01-01-preview": true, "2025-02-01-preview": true, "2025-03-01-preview": true, "2025-04-01-preview": true,
}

// lastListedVersion is the newest version in apiVersions: later ones,
// which Azure keeps publishing, are accepted by their shape alone.
var lastListedVersion = time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)

// knownAPIVersion accepts a listed version, or a well-formed date
// (YYYY-MM-DD, optionally -preview) after the last listed one.
func knownAPIVersion(v string) bool {
	if apiVersions[v] {
		return true
	}
	date := strings.TrimSuffix(v, "-preview")
	if len(date) != len("2006-01-02") {
		return false
	}
	t, err := time.Parse(time.DateOnly, date)
	return err == nil && t.After(lastListedVersion) && t.Year() < 2100
}
