package mockmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// MaxRequestBody is the largest request body the mock accepts; larger ones
// get 413.
const MaxRequestBody = 4 << 20

// maxInputs bounds the number of prompts or embedding inputs in one request
// (OpenAI's limit for embeddings).
const maxInputs = 2048

// maxStops is OpenAI's limit on stop sequences.
const maxStops = 4

// reqError is a client error, rendered in OpenAI's error shape.
type reqError struct {
	status  int
	message string
	param   string // "" renders as null
	code    string // "" renders as null
}

func badRequest(param, format string, args ...any) *reqError {
	return &reqError{status: http.StatusBadRequest, message: fmt.Sprintf(format, args...), param: param}
}

func missing(param string) *reqError {
	return badRequest(param, "Missing required parameter: '%s'.", param)
}

// readBody reads a request body of at most MaxRequestBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *reqError) {
	if r.ContentLength > MaxRequestBody {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, badRequest("", "We could not read the body of your request: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("", "We could not parse the JSON body of your request: the body is empty. (HINT: send a JSON object with Content-Type: application/json.)")
	}
	return body, nil
}

func tooLarge() *reqError {
	return &reqError{
		status:  http.StatusRequestEntityTooLarge,
		message: fmt.Sprintf("Request body too large: the limit is %d bytes.", MaxRequestBody),
		code:    "request_too_large",
	}
}

// decodeJSON unmarshals data (a part of the whole body doc) into v and turns
// decoding errors into OpenAI-style messages. prefix names the parameter
// data came from ("messages[2]"), so that type errors point at
// "messages[2].role".
func decodeJSON(data []byte, v any, prefix string, doc []byte) *reqError {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		// Syntax errors can only come from the whole body: json.Unmarshal
		// validates all of it before decoding, so raw parts are valid.
		// Offset counts the bytes read, including an offending byte.
		off := int(se.Offset)
		if strings.HasPrefix(se.Error(), "invalid character") && off > 0 {
			off--
		}
		return badRequest("", "We could not parse the JSON body of your request: %s (at line %s, byte offset %d).", se.Error(), where(doc, off), off)
	case errors.As(err, &te):
		param := joinParam(prefix, te.Field)
		if param == "" {
			return badRequest("", "Invalid type for the request body: expected %s, but got %s instead.", expected(te.Type), te.Value)
		}
		return badRequest(param, "Invalid type for '%s': expected %s, but got %s instead.", param, expected(te.Type), te.Value)
	default:
		return badRequest(prefix, "We could not parse the JSON body of your request: %v", err)
	}
}

func joinParam(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	default:
		return prefix + "." + field
	}
}

// where renders a byte offset of doc as "L, column C" (1-based) for
// "line L, column C".
func where(doc []byte, off int) string {
	if off > len(doc) {
		off = len(doc)
	}
	line := 1 + bytes.Count(doc[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(doc[:off], '\n')
	return fmt.Sprintf("%d, column %d", line, col)
}

func expected(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	default:
		return t.String()
	}
}

func firstIndex(b []byte) int {
	for i, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return i
		}
	}
	return len(b)
}

func firstByte(b []byte) byte {
	if i := firstIndex(b); i < len(b) {
		return b[i]
	}
	return 0
}

// jsonKind names the JSON type of a value from its first byte.
func jsonKind(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	default:
		return fmt.Sprintf("%q", c)
	}
}

// isNull reports whether a raw JSON value is absent or null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// input is one prompt or embedding input: text, or token ids decoded to
// text.
type input struct {
	text   string
	tokens int // token count; from the ids when given as ids
	ids    bool
}

// parseInputs decodes OpenAI's prompt/input union: a string, an array of
// strings, an array of token ids, or an array of token-id arrays.
func (s *server) parseInputs(raw json.RawMessage, param string, doc []byte, allowEmpty bool) ([]input, *reqError) {
	if isNull(raw) {
		return nil, missing(param)
	}
	switch firstByte(raw) {
	case '"':
		var str string
		if err := decodeJSON(raw, &str, param, doc); err != nil {
			return nil, err
		}
		if str == "" && !allowEmpty {
			return nil, badRequest(param, "Invalid '%s': string must not be empty.", param)
		}
		return []input{{text: str, tokens: s.tok.Count(str)}}, nil
	case '[':
	default:
		return nil, badRequest(param, "Invalid type for '%s': expected a string, an array of strings, an array of integers or an array of integer arrays, but got %s instead.", param, jsonKind(firstByte(raw)))
	}
	var elems []json.RawMessage
	if err := decodeJSON(raw, &elems, param, doc); err != nil {
		return nil, err
	}
	if len(elems) == 0 {
		return nil, badRequest(param, "Invalid '%s': empty array. Expected an array with minimum length 1, but got an empty array instead.", param)
	}
	switch firstByte(elems[0]) {
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		// One prompt given as token ids.
		in, err := s.parseIDs(raw, param, doc)
		if err != nil {
			return nil, err
		}
		return []input{in}, nil
	}
	if len(elems) > maxInputs {
		return nil, badRequest(param, "Invalid '%s': array too long. Expected an array with maximum length %d, but got an array with length %d instead.", param, maxInputs, len(elems))
	}
	out := make([]input, 0, len(elems))
	for i, e := range elems {
		p := fmt.Sprintf("%s[%d]", param, i)
		switch firstByte(e) {
		case '"':
			var str string
			if err := decodeJSON(e, &str, p, doc); err != nil {
				return nil, err
			}
			if str == "" && !allowEmpty {
				return nil, badRequest(p, "Invalid '%s': string must not be empty.", p)
			}
			out = append(out, input{text: str, tokens: s.tok.Count(str)})
		case '[':
			in, err := s.parseIDs(e, p, doc)
			if err != nil {
				return nil, err
			}
			out = append(out, in)
		default:
			return nil, badRequest(p, "Invalid type for '%s': expected a string or an array of integers, but got %s instead.", p, jsonKind(firstByte(e)))
		}
	}
	return out, nil
}

// parseIDs decodes an array of cl100k_base token ids.
func (s *server) parseIDs(raw json.RawMessage, param string, doc []byte) (input, *reqError) {
	var ids []int
	if err := decodeJSON(raw, &ids, param, doc); err != nil {
		// The element's index is not in the type error; say which array.
		if strings.HasPrefix(err.param, param) {
			err.param = param
			err.message = fmt.Sprintf("Invalid type for '%s': expected an array of integer token ids.", param)
		}
		return input{}, err
	}
	if len(ids) == 0 {
		return input{}, badRequest(param, "Invalid '%s': empty array. Expected an array with minimum length 1, but got an empty array instead.", param)
	}
	text, err := s.tok.decode(ids)
	if err != nil {
		return input{}, badRequest(param, "Invalid '%s': %v.", param, err)
	}
	return input{text: text, tokens: len(ids), ids: true}, nil
}

// parseStop decodes the stop union: null, a string, or up to four strings.
// Empty strings are ignored.
func parseStop(raw json.RawMessage, doc []byte) ([]string, *reqError) {
	if isNull(raw) {
		return nil, nil
	}
	var stops []string
	switch firstByte(raw) {
	case '"':
		var str string
		if err := decodeJSON(raw, &str, "stop", doc); err != nil {
			return nil, err
		}
		stops = []string{str}
	case '[':
		if err := decodeJSON(raw, &stops, "stop", doc); err != nil {
			err.param = "stop"
			err.message = "Invalid type for 'stop': expected a string or an array of strings."
			return nil, err
		}
		if len(stops) > maxStops {
			return nil, badRequest("stop", "Invalid 'stop': array too long. Expected an array with maximum length %d, but got an array with length %d instead.", maxStops, len(stops))
		}
	default:
		return nil, badRequest("stop", "Invalid type for 'stop': expected a string or an array of strings, but got %s instead.", jsonKind(firstByte(raw)))
	}
	out := stops[:0]
	for _, s := range stops {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// streamOptions is the stream_options object.
type streamOptions struct {
	IncludeUsage *bool `json:"include_usage"`
}

// commonParams are the generation parameters shared by chat and text
// completions, after validation.
type commonParams struct {
	maxTokens    int // 0: no limit
	stream       bool
	includeUsage bool
	stops        []string
}

// validateCommon checks the parameters chat and text completions share.
func validateCommon(n *int, stream *bool, opts *streamOptions, stopRaw json.RawMessage, doc []byte, maxTokens ...maxTokensParam) (commonParams, *reqError) {
	var p commonParams
	if n != nil && *n != 1 {
		if *n < 1 {
			return p, badRequest("n", "Invalid 'n': integer below minimum value. Expected a value >= 1, but got %d instead.", *n)
		}
		return p, badRequest("n", "Invalid 'n': the mock model generates one choice per prompt; only n=1 is supported, but got %d.", *n)
	}
	p.stream = stream != nil && *stream
	if opts != nil {
		if !p.stream {
			return p, badRequest("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
		}
		p.includeUsage = opts.IncludeUsage != nil && *opts.IncludeUsage
	}
	for _, m := range maxTokens {
		if m.value == nil {
			continue
		}
		if *m.value < 1 {
			return p, badRequest(m.name, "Invalid '%s': integer below minimum value. Expected a value >= 1, but got %d instead.", m.name, *m.value)
		}
		if p.maxTokens == 0 || *m.value < p.maxTokens {
			p.maxTokens = *m.value
		}
	}
	stops, err := parseStop(stopRaw, doc)
	if err != nil {
		return p, err
	}
	p.stops = stops
	return p, nil
}

type maxTokensParam struct {
	name  string
	value *int
}
