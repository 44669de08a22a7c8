package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TokenVerifier turns a bearer token into a Principal; *Issuer is one.
type TokenVerifier interface {
	VerifyContext(ctx context.Context, token string, audiences ...string) (*Principal, error)
}

var _ TokenVerifier = (*Issuer)(nil)

// GraphConfig configures a Graph.
type GraphConfig struct {
	// Directory holds the objects the endpoints manage. Required.
	Directory *Directory
	// Verifier checks the bearer token of every request, which must be
	// issued for the audience https://graph.microsoft.com (scope
	// https://graph.microsoft.com/.default); the Issuer is one. Required.
	Verifier TokenVerifier
	// Authorize decides whether the caller may make a request, before it
	// is served: write is true for requests that change the directory
	// (POST, PATCH, PUT, DELETE). Nil allows every caller with a valid
	// token. An error refuses the request with 403
	// Authorization_RequestDenied, and its text follows Graph's
	// "Insufficient privileges to complete the operation." in the message
	// the caller sees, so it should say what is missing (a role, say) and
	// nothing internal.
	Authorize func(ctx context.Context, p Principal, write bool) error
	// Logger receives failures that are the server's fault (the caller
	// sees only a bare InternalServerError). Nil means slog.Default().
	Logger *slog.Logger
	// Now stamps error responses. Nil means time.Now.
	Now func() time.Time
}

// Graph serves the directory over HTTP in the shape of Microsoft Graph
// v1.0: applications, service principals, users, groups and their
// members. It is safe for concurrent use.
type Graph struct {
	dir       *Directory
	verifier  TokenVerifier
	authorize func(ctx context.Context, p Principal, write bool) error
	log       *slog.Logger
	now       func() time.Time
	mux       *http.ServeMux
}

// NewGraph returns a Graph. It panics if Directory or Verifier is nil: that
// is a wiring mistake, not a runtime condition.
func NewGraph(cfg GraphConfig) *Graph {
	if cfg.Directory == nil || cfg.Verifier == nil {
		panic("identity: NewGraph needs Directory and Verifier")
	}
	g := &Graph{dir: cfg.Directory, verifier: cfg.Verifier, authorize: cfg.Authorize, log: cfg.Logger, now: cfg.Now}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.now == nil {
		g.now = time.Now
	}
	g.mux = g.routes()
	return g
}

// graphPrefix is the path prefix of every Graph endpoint.
const graphPrefix = "/v1.0/"

// Handler serves the Graph endpoints (see routes in graphapi.go); every
// path under /v1.0/ answers Graph-shaped, unknown ones included. Mount it
// where the control-plane router sends the requests for which Serves
// reports true.
func (g *Graph) Handler() http.Handler { return g.mux }

// Serves reports whether r is addressed to the Graph endpoints: every path
// under /v1.0/, which no ARM path begins with.
func (g *Graph) Serves(r *http.Request) bool {
	return r.URL.Path == "/v1.0" || strings.HasPrefix(r.URL.Path, graphPrefix)
}

// graphError is a refusal rendered the way Graph renders them.
type graphError struct {
	status int
	code   string
	msg    string
}

func (e *graphError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.msg) }

func graphErrorf(status int, code, format string, args ...any) *graphError {
	return &graphError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// Graph's error codes.
const (
	codeBadRequest        = "Request_BadRequest"
	codeNotFound          = "Request_ResourceNotFound"
	codeDuplicate         = "Request_MultipleObjectsWithSameKeyValue"
	codeUnsupportedQuery  = "Request_UnsupportedQuery"
	codeDenied            = "Authorization_RequestDenied"
	codeInvalidToken      = "InvalidAuthenticationToken"
	codeMethodNotAllowed  = "Request_BadRequest"
	codeInternal          = "InternalServerError"
	codeMalformedPayload  = "BadRequest"
	codeUnknownSegment    = "BadRequest"
	messageNotPermitted   = "Insufficient privileges to complete the operation."
	graphScopeForMessages = "https://graph.microsoft.com/.default"
)

// directoryError renders a refusal of the Directory as Graph would.
func directoryError(err error) *graphError {
	var re *RequestError
	if !errors.As(err, &re) {
		return nil
	}
	switch {
	case errors.Is(err, ErrServicePrincipalExists), errors.Is(err, ErrFederatedCredentialExists):
		return graphErrorf(http.StatusConflict, codeDuplicate, "%s", re.Message)
	case errors.Is(err, ErrUserPrincipalNameExists), errors.Is(err, ErrUserIdentityExists), errors.Is(err, ErrMemberExists),
		errors.Is(err, ErrWeakPassword), errors.Is(err, ErrInvalidInput):
		return graphErrorf(http.StatusBadRequest, codeBadRequest, "%s", re.Message)
	case errors.Is(err, ErrTenantNotFound), errors.Is(err, ErrApplicationNotFound), errors.Is(err, ErrObjectNotFound),
		errors.Is(err, ErrCredentialNotFound), errors.Is(err, ErrNotMember), errors.Is(err, ErrFederatedCredentialNotFound):
		return graphErrorf(http.StatusNotFound, codeNotFound, "%s", re.Message)
	}
	return graphErrorf(http.StatusBadRequest, codeBadRequest, "%s", re.Message)
}

// call is one authenticated request.
type call struct {
	p      *Principal
	tenant string
}

type graphHandler func(w http.ResponseWriter, r *http.Request, c *call) error

// serve authenticates the request, asks Authorize (unless the route is
// unknown), runs h, and renders its error: *graphError and Directory
// refusals as Graph would show them, anything else logged and answered
// with a bare server error.
func (g *Graph) serve(authorize bool, h graphHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		requestID := newGUID()
		w.Header().Set("request-id", requestID)
		w.Header().Set("client-request-id", clientRequestID(r, requestID))
		err := g.handle(w, r, authorize, h)
		if err == nil {
			return
		}
		ge := directoryError(err)
		if ge == nil && !errors.As(err, &ge) {
			g.log.ErrorContext(r.Context(), "graph endpoint failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
			ge = graphErrorf(http.StatusInternalServerError, codeInternal, "The directory failed to process the request.")
		}
		g.writeError(w, r, requestID, ge)
	}
}

func (g *Graph) handle(w http.ResponseWriter, r *http.Request, authorize bool, h graphHandler) error {
	p, err := g.authenticate(w, r)
	if err != nil {
		return err
	}
	if authorize && g.authorize != nil {
		write := r.Method != http.MethodGet && r.Method != http.MethodHead
		if err := g.authorize(r.Context(), *p, write); err != nil {
			return graphErrorf(http.StatusForbidden, codeDenied, "%s %s", messageNotPermitted, err.Error())
		}
	}
	return h(w, r, &call{p: p, tenant: p.TenantID})
}

// authenticate verifies the bearer token for the Graph audience.
func (g *Graph) authenticate(w http.ResponseWriter, r *http.Request) (*Principal, error) {
	challenge := func(desc, msg string) error {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="invalid_token", error_description=%q`, desc))
		return graphErrorf(http.StatusUnauthorized, codeInvalidToken, "%s", msg)
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, challenge("missing Authorization header",
			"Access token is empty. Send 'Authorization: Bearer <token>' with a token for the scope "+graphScopeForMessages+".")
	}
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, challenge("not a Bearer token", "The 'Authorization' header must be 'Bearer <token>'.")
	}
	p, err := g.verifier.VerifyContext(r.Context(), token, AudienceGraph)
	if err != nil {
		var te *TokenError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("verify token: %w", err) // never a pass
		}
		msg := "Access token validation failure: " + te.Reason + "."
		switch {
		case te.Reason == reasonAudience:
			msg += " Get a token for the scope " + graphScopeForMessages + " (a management or data-plane token is not valid here)."
		case errors.Is(err, ErrTokenExpired):
			msg = "Lifetime validation failed, the token is expired. Get a new token for the scope " + graphScopeForMessages + "."
		}
		return nil, challenge(te.Reason, msg)
	}
	return p, nil
}

// graphErrorBody is Graph's error envelope.
type graphErrorBody struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			Date            string `json:"date"`
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

func (g *Graph) writeError(w http.ResponseWriter, r *http.Request, requestID string, ge *graphError) {
	var body graphErrorBody
	body.Error.Code, body.Error.Message = ge.code, ge.msg
	body.Error.InnerError.Date = g.now().UTC().Format("2006-01-02T15:04:05")
	body.Error.InnerError.RequestID = requestID
	body.Error.InnerError.ClientRequestID = clientRequestID(r, requestID)
	if ge.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", strings.Join(g.allowedMethods(r), ", "))
	}
	writeGraphJSON(w, ge.status, body)
}

// clientRequestID echoes the caller's client-request-id when it is a GUID,
// as Graph does.
func clientRequestID(r *http.Request, fallback string) string {
	if id, ok := canonicalGUID(r.Header.Get("client-request-id")); ok {
		return id
	}
	return fallback
}

// graphContentType is the media type Graph answers with.
const graphContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

func writeGraphJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own plain structs are encoded here.
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", graphContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// maxGraphBody bounds request bodies; real ones are a few hundred bytes.
const maxGraphBody = 64 << 10

// jsonObject is a decoded request body: property names (as Graph spells
// them) to raw values.
type jsonObject map[string]json.RawMessage

// readObject reads a JSON object body. Every property must be one of
// allowed (compared case-insensitively, as Graph does; OData annotations
// such as "@odata.type" are ignored): a misspelt or unsupported property is
// refused rather than ignored, so the caller never believes it was
// applied. An empty body is an empty object.
func readObject(w http.ResponseWriter, r *http.Request, entity string, allowed ...string) (jsonObject, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxGraphBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, graphErrorf(http.StatusRequestEntityTooLarge, codeBadRequest, "The request body is larger than %d bytes.", maxGraphBody)
		}
		return nil, graphErrorf(http.StatusBadRequest, codeMalformedPayload, "The request body could not be read.")
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return jsonObject{}, nil
	}
	return decodeObject(raw, entity, allowed)
}

func decodeObject(raw []byte, entity string, allowed []string) (jsonObject, error) {
	var in map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil || in == nil {
		detail := "it is not a JSON object"
		if err != nil {
			detail = err.Error()
		}
		return nil, graphErrorf(http.StatusBadRequest, codeMalformedPayload,
			"Unable to read JSON request payload (%s). Send a JSON object with Content-Type: application/json.", detail)
	}
	out := jsonObject{}
	for k, v := range in {
		if strings.HasPrefix(k, "@odata.") && !slices.Contains(allowed, k) {
			continue
		}
		i := slices.IndexFunc(allowed, func(a string) bool { return strings.EqualFold(a, k) })
		if i < 0 {
			return nil, graphErrorf(http.StatusBadRequest, codeBadRequest,
				"Property '%s' does not exist on type '%s' or is not supported by Perimeter. Supported properties: %s.",
				clip(k), entity, strings.Join(allowed, ", "))
		}
		out[allowed[i]] = v
	}
	return out, nil
}

// str returns a string property; "" when absent or null.
func (o jsonObject) str(name string) (string, error) {
	raw, ok := o[name]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", graphErrorf(http.StatusBadRequest, codeBadRequest, "Invalid value for property '%s': expected a string.", name)
	}
	return s, nil
}

// optionalStr returns a string property for a PATCH: nil when absent, so
// that the field stays as it is.
func (o jsonObject) optionalStr(name string) (*string, error) {
	if _, ok := o[name]; !ok {
		return nil, nil
	}
	s, err := o.str(name)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// optionalBool returns a boolean property for a PATCH: nil when absent
// or null, so that the field stays as it is.
func (o jsonObject) optionalBool(name string) (*bool, error) {
	v, present, err := o.boolean(name)
	if err != nil || !present {
		return nil, err
	}
	return &v, nil
}

// strs returns a string array property and whether it was present (null
// counts as absent).
func (o jsonObject) strs(name string) (value []string, present bool, err error) {
	raw, ok := o[name]
	if !ok || string(raw) == "null" {
		return nil, false, nil
	}
	if err := json.Unmarshal(raw, &value); err != nil {
		return nil, true, graphErrorf(http.StatusBadRequest, codeBadRequest, "Invalid value for property '%s': expected an array of strings.", name)
	}
	return value, true, nil
}

// boolean returns a boolean property and whether it was present.
func (o jsonObject) boolean(name string) (value, present bool, err error) {
	raw, ok := o[name]
	if !ok || string(raw) == "null" {
		return false, false, nil
	}
	if err := json.Unmarshal(raw, &value); err != nil {
		return false, true, graphErrorf(http.StatusBadRequest, codeBadRequest, "Invalid value for property '%s': expected true or false.", name)
	}
	return value, true, nil
}

// object returns a nested object property checked like readObject; nil
// when absent.
func (o jsonObject) object(name, entity string, allowed ...string) (jsonObject, error) {
	raw, ok := o[name]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	obj, err := decodeObject(raw, entity, allowed)
	if err != nil {
		var ge *graphError
		if errors.As(err, &ge) && ge.code == codeMalformedPayload {
			return nil, graphErrorf(http.StatusBadRequest, codeBadRequest, "Invalid value for property '%s': expected an object of type '%s'.", name, entity)
		}
		return nil, err
	}
	return obj, nil
}

// required refuses the request when a property is absent.
func (o jsonObject) required(entity string, names ...string) error {
	var missing []string
	for _, n := range names {
		if raw, ok := o[n]; !ok || string(raw) == "null" {
			missing = append(missing, "'"+n+"'")
		}
	}
	if len(missing) > 0 {
		return graphErrorf(http.StatusBadRequest, codeBadRequest, "A %s needs the properties %s; the request did not give %s.",
			entity, strings.Join(quoted(names), ", "), strings.Join(missing, ", "))
	}
	return nil
}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "'" + n + "'"
	}
	return out
}

// listItem is one entity of a collection response, with the properties
// $filter may test.
type listItem struct {
	id     string
	props  map[string]string
	render any
}

// Filter clauses Perimeter understands: one comparison, as Graph spells it.
var (
	filterEqRE         = regexp.MustCompile(`^\s*([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'\s*$`)
	filterStartsWithRE = regexp.MustCompile(`^\s*startswith\(\s*([A-Za-z]+)\s*,\s*'((?:[^']|'')*)'\s*\)\s*$`)
)

// maxTop is Graph's largest page size.
const maxTop = 999

// writeList answers a collection (fragment names it in "@odata.context"):
// $filter (one "prop eq 'v'" or "startswith(prop,'v')" clause on one of
// filterable), $top and $skiptoken paging (ordered by id), $select
// accepted and ignored (every property is returned); other query options
// are refused rather than ignored.
func writeList(w http.ResponseWriter, r *http.Request, fragment string, items []listItem, filterable ...string) error {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "$filter", "$top", "$skiptoken", "$select":
		default:
			if strings.HasPrefix(k, "$") {
				return graphErrorf(http.StatusBadRequest, codeUnsupportedQuery,
					"Perimeter does not support the query option '%s'; it supports $filter, $top and $select.", clip(k))
			}
		}
	}
	if f := q.Get("$filter"); f != "" {
		keep, err := parseFilter(f, filterable)
		if err != nil {
			return err
		}
		items = slices.DeleteFunc(items, func(it listItem) bool { return !keep(it.props) })
	}
	slices.SortFunc(items, func(a, b listItem) int { return strings.Compare(a.id, b.id) })
	if tok := q.Get("$skiptoken"); tok != "" {
		i, _ := slices.BinarySearchFunc(items, tok, func(it listItem, t string) int { return strings.Compare(it.id, t) })
		for i < len(items) && items[i].id <= tok {
			i++
		}
		items = items[i:]
	}
	page := struct {
		Context  string `json:"@odata.context"`
		NextLink string `json:"@odata.nextLink,omitempty"`
		Value    []any  `json:"value"`
	}{Context: odataContext(r, fragment), Value: []any{}}
	if t := q.Get("$top"); t != "" {
		top, err := strconv.Atoi(t)
		if err != nil || top < 1 || top > maxTop {
			return graphErrorf(http.StatusBadRequest, codeBadRequest, "Invalid value '%s' for $top: give a whole number from 1 to %d.", clip(t), maxTop)
		}
		if len(items) > top {
			items = items[:top]
			next := url.Values{}
			for k, vs := range q {
				next[k] = vs
			}
			next.Set("$skiptoken", items[top-1].id)
			page.NextLink = requestBase(r) + r.URL.Path + "?" + next.Encode()
		}
	}
	for _, it := range items {
		page.Value = append(page.Value, it.render)
	}
	writeGraphJSON(w, http.StatusOK, page)
	return nil
}

// parseFilter compiles a $filter of one clause.
func parseFilter(f string, filterable []string) (func(map[string]string) bool, error) {
	unsupported := graphErrorf(http.StatusBadRequest, codeUnsupportedQuery,
		"Unsupported query: $filter=%s. Perimeter filters on one clause, <property> eq '<value>' or startswith(<property>,'<value>'), with property one of %s (compared regardless of case).",
		clip(f), strings.Join(filterable, ", "))
	var prop, value string
	startsWith := false
	if m := filterEqRE.FindStringSubmatch(f); m != nil {
		prop, value = m[1], m[2]
	} else if m := filterStartsWithRE.FindStringSubmatch(f); m != nil {
		prop, value, startsWith = m[1], m[2], true
	} else {
		return nil, unsupported
	}
	i := slices.IndexFunc(filterable, func(p string) bool { return strings.EqualFold(p, prop) })
	if i < 0 {
		return nil, unsupported
	}
	prop, value = filterable[i], strings.ReplaceAll(value, "''", "'")
	if startsWith {
		prefix := strings.ToLower(value)
		return func(props map[string]string) bool { return strings.HasPrefix(strings.ToLower(props[prop]), prefix) }, nil
	}
	return func(props map[string]string) bool { return strings.EqualFold(props[prop], value) }, nil
}

// requestBase is the scheme and host the caller used.
func requestBase(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

// odataContext is the "@odata.context" of a response.
func odataContext(r *http.Request, fragment string) string {
	return requestBase(r) + "/v1.0/$metadata#" + fragment
}
