package models

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "models.json")
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("sk-upstream\n"), 0o600)
	os.WriteFile(path, []byte(`{"models": [
	  {"format": "OpenAI", "name": "llama3", "version": "8b", "upstream": "http://127.0.0.1:11434/v1",
	   "upstreamModel": "llama3:8b", "credential": "file:`+key+`", "capabilities": ["chatCompletion"]},
	  {"format": "OpenAI", "name": "llama3", "version": "70b", "upstream": "https://vllm.internal/v1", "capabilities": ["chatCompletion", "completion"]}
	]}`), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if all := c.All(); len(all) != 3 || !all[0].IsMock() {
		t.Fatalf("catalog = %+v", all)
	}
	m, ok := c.Find("openai", "LLAMA3", "")
	if !ok || m.Version != "8b" {
		t.Fatalf("default version: %+v %v", m, ok)
	}
	if cred, err := m.ResolveCredential(); err != nil || cred != "sk-upstream" {
		t.Fatalf("credential: %q %v", cred, err)
	}
	if _, ok := c.Find("OpenAI", "llama3", "405b"); ok {
		t.Error("found a version that is not listed")
	}
	if m, ok := c.Find("Perimeter", "mock", "1"); !ok || !m.IsMock() {
		t.Error("the mock is missing")
	}
	if c, err := Load(""); err != nil || len(c.All()) != 1 {
		t.Errorf("empty catalog: %v %v", c, err)
	}
}

func TestLoadRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"unknown field":      `{"models": [], "extra": 1}`,
		"missing version":    `{"models": [{"format": "OpenAI", "name": "m", "upstream": "http://h/v1", "capabilities": ["completion"]}]}`,
		"reserved format":    `{"models": [{"format": "Perimeter", "name": "m", "version": "1", "upstream": "http://h/v1", "capabilities": ["completion"]}]}`,
		"relative upstream":  `{"models": [{"format": "OpenAI", "name": "m", "version": "1", "upstream": "/v1", "capabilities": ["completion"]}]}`,
		"credential in URL":  `{"models": [{"format": "OpenAI", "name": "m", "version": "1", "upstream": "http://u:p@h/v1", "capabilities": ["completion"]}]}`,
		"inline credential":  `{"models": [{"format": "OpenAI", "name": "m", "version": "1", "upstream": "http://h/v1", "credential": "sk-123", "capabilities": ["completion"]}]}`,
		"unknown capability": `{"models": [{"format": "OpenAI", "name": "m", "version": "1", "upstream": "http://h/v1", "capabilities": ["dance"]}]}`,
		"duplicate":          `{"models": [{"format": "OpenAI", "name": "m", "version": "1", "upstream": "http://h/v1", "capabilities": ["completion"]}, {"format": "openai", "name": "M", "version": "1", "upstream": "http://h/v1", "capabilities": ["completion"]}]}`,
		"not JSON":           `models: []`,
	} {
		path := filepath.Join(t.TempDir(), "m.json")
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := Load(path); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
}

func TestEnvCredential(t *testing.T) {
	t.Setenv("PERIMETER_TEST_UPSTREAM_KEY", "k")
	m := Model{Name: "m", Credential: "env:PERIMETER_TEST_UPSTREAM_KEY"}
	if v, err := m.ResolveCredential(); err != nil || v != "k" {
		t.Fatalf("%q %v", v, err)
	}
	m.Credential = "env:PERIMETER_TEST_UNSET_KEY"
	if _, err := m.ResolveCredential(); err == nil {
		t.Fatal("unset variable accepted")
	}
}

func TestWithMockUpstream(t *testing.T) {
	c, _ := New(nil)
	served := c.WithMockUpstream("http://127.0.0.1:9999/v1")
	if m, _ := served.Find("Perimeter", "mock", "1"); m.Upstream != "http://127.0.0.1:9999/v1" {
		t.Fatalf("mock upstream %q", m.Upstream)
	}
	if m, _ := c.Find("Perimeter", "mock", "1"); m.Upstream != "" {
		t.Fatal("the original catalog changed")
	}
}
