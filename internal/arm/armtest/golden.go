package armtest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current responses")

// A Normaliser rewrites a decoded JSON document (maps, slices and
// scalars) before it is compared, replacing values that differ between
// runs.
type Normaliser func(v any) any

// Mask replaces the value of every object member named key, at any depth,
// with placeholder.
func Mask(key, placeholder string) Normaliser {
	return func(v any) any { return mask(v, key, placeholder) }
}

// MaskKeys masks each key with the placeholder "<key>".
func MaskKeys(keys ...string) Normaliser {
	return func(v any) any {
		for _, k := range keys {
			v = mask(v, k, "<"+k+">")
		}
		return v
	}
}

func mask(v any, key, placeholder string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if k == key {
				x[k] = placeholder
				continue
			}
			x[k] = mask(c, key, placeholder)
		}
	case []any:
		for i, c := range x {
			x[i] = mask(c, key, placeholder)
		}
	}
	return v
}

// Golden compares the JSON document got with testdata/{name}.golden.json,
// after masking ETags (as "<etag>") and applying normalise, indented with
// sorted keys. go test -update rewrites the file instead.
func Golden(t testing.TB, name string, got []byte, normalise ...Normaliser) {
	t.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s: not JSON: %v: %s", name, err, got)
	}
	v = mask(v, "etag", "<etag>")
	for _, n := range normalise {
		v = n(v)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from %s (rerun with -update if the change is intended):\n--- got\n%s--- want\n%s", name, path, buf.Bytes(), want)
	}
}
