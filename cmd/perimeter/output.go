package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// column is one column of table output: a header and the dotted path of
// the value in each item ("properties.provisioningState").
type column struct {
	header string
	path   string
}

// writeOutput renders v, a decoded JSON value, as az renders results:
// json/jsonc (indented, keys sorted), table, tsv, or nothing.
func writeOutput(w io.Writer, format string, v any, cols []column) error {
	switch format {
	case "none":
		return nil
	case "table":
		return writeTable(w, v, cols)
	case "tsv":
		return writeTSV(w, v)
	}
	return writeJSONValue(w, v)
}

// decodeValue decodes JSON keeping numbers exact.
func decodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func writeJSONValue(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeTable prints a plain aligned table: a header, a rule of dashes and
// one row per item, columns two spaces apart. Without columns it shows
// the scalar top-level fields, as az's automatic table does.
func writeTable(w io.Writer, v any, cols []column) error {
	var items []any
	switch t := v.(type) {
	case []any:
		items = t
	case map[string]any:
		items = []any{t}
		if page, ok := t["value"].([]any); ok && (len(t) == 1 || (len(t) == 2 && t["nextLink"] != nil)) {
			items = page // a list page (perimeter rest): tabulate its items
		}
	default:
		items, cols = []any{map[string]any{"result": t}}, []column{{"Result", "result"}}
	}
	if len(items) == 0 {
		return nil
	}
	if cols == nil {
		cols = autoColumns(items)
	}
	if len(cols) == 0 {
		return nil
	}
	rows := make([][]string, 0, len(items)+2)
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.header
	}
	rows = append(rows, header, nil)
	for _, it := range items {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = cell(lookup(it, c.path))
		}
		rows = append(rows, row)
	}
	widths := make([]int, len(cols))
	for _, r := range rows {
		for i, s := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(s))
		}
	}
	rows[1] = make([]string, len(cols))
	for i, n := range widths {
		rows[1][i] = strings.Repeat("-", n)
	}
	var b strings.Builder
	for _, r := range rows {
		var line strings.Builder
		for i, s := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			line.WriteString(s + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s)))
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// autoColumns are the scalar top-level fields of the items except id, type
// and etag, in key order, with capitalised headers.
func autoColumns(items []any) []column {
	seen := map[string]bool{}
	for _, it := range items {
		obj, _ := it.(map[string]any)
		for k, v := range obj {
			switch k {
			case "id", "type", "etag":
				continue
			}
			switch v.(type) {
			case map[string]any, []any, nil:
				continue
			}
			seen[k] = true
		}
	}
	cols := make([]column, 0, len(seen))
	for _, k := range slices.Sorted(maps.Keys(seen)) {
		cols = append(cols, column{header: strings.ToUpper(k[:1]) + k[1:], path: k})
	}
	return cols
}

// lookup follows a dotted path through nested objects.
func lookup(v any, path string) any {
	for _, key := range strings.Split(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[key]
	}
	return v
}

// cell renders one value for table and tsv output.
func cell(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		if t {
			return "True"
		}
		return "False"
	case json.Number:
		return t.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// writeTSV prints tab-separated values without headers, as az does: one
// line per item with its top-level values in key order; nested objects
// print empty and lists print their length, so columns stay aligned.
func writeTSV(w io.Writer, v any) error {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	var b strings.Builder
	for _, it := range items {
		obj, isObj := it.(map[string]any)
		if !isObj {
			b.WriteString(cell(it) + "\n")
			continue
		}
		fields := make([]string, 0, len(obj))
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			switch t := obj[k].(type) {
			case map[string]any:
				fields = append(fields, "")
			case []any:
				fields = append(fields, fmt.Sprint(len(t)))
			default:
				fields = append(fields, cell(t))
			}
		}
		b.WriteString(strings.Join(fields, "\t") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// toValue turns a Go value into the decoded-JSON form that output renders
// (objects as maps, so tables can look fields up).
func toValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	out, err := decodeValue(b)
	if err != nil {
		return v
	}
	return out
}
