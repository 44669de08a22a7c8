package ingress

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestRequestObjectModel(t *testing.T) {
	for _, tc := range []struct {
		body string
		want string
		ok   bool
	}{
		{`{"model":"gpt"}`, "gpt", true},
		{` { "messages" : [ {"role":"user","content":"model"} ] , "model" : "d1" } `, "d1", true},
		{`{"model":"a","model":"b"}`, "b", true}, // the last, as encoding/json decodes
		{`{"mod\u0065l":"esc"}`, "esc", true},
		{`{"model":"say \"hi\" \u00e9"}`, `say "hi" é`, true},
		{`{"Model":"x"}`, "", false},
		{`{"model":1}`, "", false},
		{`{"model":null}`, "", false},
		{`{"x":{"model":"nested"}}`, "", false},
		{`{}`, "", false},
	} {
		got, ok := requestObject(tc.body).model()
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: model() = %q, %v; want %q, %v", tc.body, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRequestObjectWithModel(t *testing.T) {
	for _, tc := range []struct{ body, model, want string }{
		{`{}`, "m", `{"model":"m"}`},
		{`{"model":"client"}`, "m", `{"model":"m"}`},
		{`{ "a" : 1 , "model":"x", "b":[1, {"model":2}] ,"mod\u0065l":"y"}`, "m", `{"model":"m","a" : 1,"b":[1, {"model":2}]}`},
		{`{"a":"\\"}`, `q"\`, `{"model":"q\"\\","a":"\\"}`},
		{`{"a":true}`, "<é\n>", `{"model":"\u003cé\n\u003e","a":true}`},
	} {
		body, err := parseObject([]byte(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if got := string(body.withModel(tc.model)); got != tc.want {
			t.Errorf("%s with %q:\n got %s\nwant %s", tc.body, tc.model, got, tc.want)
		}
	}
}

func TestParseObjectRefuses(t *testing.T) {
	for _, body := range []string{``, ` `, `[]`, `"s"`, `1`, `null`, `{`, `{"a":1}{}`, `{"a":1} x`, `{"a":}`, `{'a':1}`} {
		if _, err := parseObject([]byte(body)); err == nil {
			t.Errorf("%q: accepted", body)
		}
	}
}

func TestUsageMember(t *testing.T) {
	for _, tc := range []struct {
		v          string
		prompt, cc int
		ok         bool
	}{
		{`{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46}`, 12, 34, true},
		{` {"completion_tokens" : 3, "prompt_tokens_details":{"cached_tokens":9}, "prompt_tokens":1}`, 1, 3, true},
		{`{"prompt_tokens":-1,"completion_tokens":1.5}`, 0, 0, true},
		{`{}`, 0, 0, true},
		{`null`, 0, 0, false},
		{`{"prompt_tokens":`, 0, 0, false},
	} {
		p, c, ok := usageMember([]byte(tc.v))
		if p != tc.prompt || c != tc.cc || ok != tc.ok {
			t.Errorf("%s: %d, %d, %v", tc.v, p, c, ok)
		}
	}
}

// FuzzRequestObject checks the byte-level rewrite against encoding/json:
// whatever valid object a client sends, the upstream gets the same object
// with model replaced, and model() reads what a decoder would.
func FuzzRequestObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"model":"a","x":[1,{"y":"}"}]}`, `{"mod\u0065l":"b","model":"c"}`, `{"a":"\\\"","b":null}`, " {\"k\" :\t\"v\"\n}"} {
		f.Add(s, "m")
	}
	f.Fuzz(func(t *testing.T, body, model string) {
		doc, err := parseObject([]byte(body))
		if err != nil {
			return
		}
		var want map[string]any
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Fatalf("parseObject accepted what encoding/json refuses: %v", err)
		}
		name, ok := doc.model()
		wantName, wantOK := want["model"].(string)
		if ok != wantOK || name != wantName {
			t.Fatalf("model() = %q, %v; encoding/json reads %q, %v", name, ok, wantName, wantOK)
		}
		out := doc.withModel(model)
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("withModel wrote invalid JSON %q: %v", out, err)
		}
		// encoding/json replaces invalid UTF-8 on both sides alike.
		var m string
		_ = json.Unmarshal(mustMarshal(t, model), &m)
		want["model"] = m
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("withModel(%q) on %q = %q", model, body, out)
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
