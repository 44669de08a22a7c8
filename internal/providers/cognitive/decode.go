package cognitive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
)

// decodeField decodes a top-level part of a resource (sku, identity) into
// v, reporting a wrong JSON type with its path under field, as
// arm.DecodeProperties does for properties. Absent or null leaves v as is.
func decodeField(raw json.RawMessage, field string, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] != '{' {
		return arm.InvalidProperty(arm.CodeInvalidRequestContent, field, "The property '%s' must be a JSON object.", field)
	}
	return decodeJSON(raw, field, v)
}

// decodeBody decodes an action's request body, which must be a JSON
// object; example shows what to send.
func decodeBody(body []byte, example string, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return arm.BadRequest(arm.CodeInvalidRequestContent, "The request content must be a JSON object, for example %s.", example)
	}
	return decodeJSON(body, "", v)
}

// decodeJSON decodes raw into v; type errors name their path below prefix.
func decodeJSON(raw []byte, prefix string, v any) error {
	err := json.Unmarshal(raw, v)
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typ):
		target := prefix
		if typ.Field != "" {
			if target != "" {
				target += "."
			}
			target += typ.Field
		}
		return arm.InvalidProperty(arm.CodeInvalidRequestContent, target,
			"The request content is invalid: property '%s' must be %s, not a JSON %s.", target, jsonKind(typ), typ.Value)
	default:
		return arm.InvalidProperty(arm.CodeInvalidRequestContent, prefix, "The request content is invalid: %v.", err)
	}
}

func jsonKind(typ *json.UnmarshalTypeError) string {
	switch typ.Type.Kind().String() {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int32", "int64":
		return "an integer"
	}
	return "of type " + typ.Type.String()
}

// enum matches v against allowed values case-insensitively, as ARM does
// for enums, and returns the canonical spelling.
func enum(v string, allowed ...string) (string, bool) {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, true
		}
	}
	return "", false
}

// oneOf renders allowed values for a message: 'A', 'B' or 'C'.
func oneOf(allowed ...string) string {
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = "'" + a + "'"
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// marshalProps encodes properties for a resource body.
func marshalProps(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode properties: %w", err)
	}
	return b, nil
}
