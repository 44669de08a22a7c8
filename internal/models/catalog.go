// Package models is the model catalog: the models that deployments may
// name, each with the OpenAI-compatible upstream that serves it (vLLM,
// Ollama, llama.cpp, ...). The catalog always holds the built-in mock
// model, which Perimeter answers itself, so a default install works without
// a model server.
package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
)

// Capabilities of a model, as Azure's model listings name them.
const (
	ChatCompletion = "chatCompletion"
	Completion     = "completion"
	Embeddings     = "embeddings"
)

// Model is one catalog entry.
type Model struct {
	// Format, Name and Version identify the model as deployments name it
	// (properties.model).
	Format  string `json:"format"`
	Name    string `json:"name"`
	Version string `json:"version"`
	// Upstream is the base URL of the OpenAI-compatible server, up to and
	// including its version path (e.g. "http://127.0.0.1:11434/v1"). Empty
	// only for the built-in mock.
	Upstream string `json:"upstream,omitempty"`
	// UpstreamModel is the model name the upstream expects. Empty means Name.
	UpstreamModel string `json:"upstreamModel,omitempty"`
	// Credential refers to the upstream's API key, never holding it:
	// "env:NAME" (an environment variable) or "file:PATH". Empty means the
	// upstream needs none.
	Credential string `json:"credential,omitempty"`
	// Capabilities lists what the model answers: chatCompletion,
	// completion, embeddings.
	Capabilities []string `json:"capabilities"`
	// MaxCapacity caps a deployment's capacity (thousands of tokens per
	// minute for Standard SKUs). Zero means 1000.
	MaxCapacity int `json:"maxCapacity,omitempty"`
}

// Mock is the built-in model.
var Mock = Model{
	Format: "Perimeter", Name: "mock", Version: "1",
	Capabilities: []string{ChatCompletion, Completion, Embeddings},
}

// Catalog is an immutable list of models.
type Catalog struct {
	models []Model
}

// file is the catalog file's shape: {"models": [...]}.
type file struct {
	Models []Model `json:"models"`
}

// New builds a catalog from models, adding the mock, and validates every
// entry.
func New(list []Model) (*Catalog, error) {
	c := &Catalog{models: []Model{Mock}}
	for i, m := range list {
		if err := m.validate(); err != nil {
			return nil, fmt.Errorf("model %d (%s/%s/%s): %w", i, m.Format, m.Name, m.Version, err)
		}
		if _, dup := c.Find(m.Format, m.Name, m.Version); dup {
			return nil, fmt.Errorf("model %d: %s/%s/%s is listed twice", i, m.Format, m.Name, m.Version)
		}
		c.models = append(c.models, m)
	}
	return c, nil
}

// Load reads a catalog file. An empty path gives the catalog with only the
// mock.
func Load(path string) (*Catalog, error) {
	if path == "" {
		return New(nil)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model catalog: %w", err)
	}
	var f file
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("model catalog %s: %w", path, err)
	}
	c, err := New(f.Models)
	if err != nil {
		return nil, fmt.Errorf("model catalog %s: %w", path, err)
	}
	return c, nil
}

func (m Model) validate() error {
	switch {
	case m.Format == "" || m.Name == "" || m.Version == "":
		return errors.New("format, name and version are required")
	case strings.EqualFold(m.Format, Mock.Format):
		return fmt.Errorf("the format %q is reserved for the built-in mock", Mock.Format)
	case m.Upstream == "":
		return errors.New("upstream (the OpenAI-compatible base URL) is required")
	}
	u, err := url.Parse(m.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("upstream %q must be an absolute http(s) URL", m.Upstream)
	}
	if u.User != nil {
		return errors.New("upstream must not embed credentials; use credential: \"env:NAME\" or \"file:PATH\"")
	}
	if m.Credential != "" && !strings.HasPrefix(m.Credential, "env:") && !strings.HasPrefix(m.Credential, "file:") {
		return fmt.Errorf("credential %q must be \"env:NAME\" or \"file:PATH\", never the key itself", m.Credential)
	}
	for _, c := range m.Capabilities {
		if !slices.Contains([]string{ChatCompletion, Completion, Embeddings}, c) {
			return fmt.Errorf("unknown capability %q (use %s, %s or %s)", c, ChatCompletion, Completion, Embeddings)
		}
	}
	if len(m.Capabilities) == 0 {
		return errors.New("capabilities must list at least one of chatCompletion, completion, embeddings")
	}
	return nil
}

// Find returns the model with this format, name and version
// (case-insensitive). An empty version matches the first version listed.
func (c *Catalog) Find(format, name, version string) (Model, bool) {
	for _, m := range c.models {
		if strings.EqualFold(m.Format, format) && strings.EqualFold(m.Name, name) && (version == "" || strings.EqualFold(m.Version, version)) {
			return m, true
		}
	}
	return Model{}, false
}

// WithMockUpstream returns a copy of the catalog whose mock is served at
// url: the built-in mock runs as a loopback server, so the gateway reaches
// it exactly as it reaches any other upstream.
func (c *Catalog) WithMockUpstream(url string) *Catalog {
	out := &Catalog{models: slices.Clone(c.models)}
	for i := range out.models {
		if out.models[i].IsMock() {
			out.models[i].Upstream = url
		}
	}
	return out
}

// All returns every model, the mock first.
func (c *Catalog) All() []Model { return slices.Clone(c.models) }

// IsMock reports whether m is the built-in mock.
func (m Model) IsMock() bool {
	return strings.EqualFold(m.Format, Mock.Format) && strings.EqualFold(m.Name, Mock.Name)
}

// Capacity is the largest capacity a deployment of m may ask for.
func (m Model) Capacity() int {
	if m.MaxCapacity > 0 {
		return m.MaxCapacity
	}
	return 1000
}

// ResolveCredential reads the upstream's API key from where Credential
// points. It is called when a request goes upstream, so a rotated key is
// picked up without a restart.
func (m Model) ResolveCredential() (string, error) {
	switch {
	case m.Credential == "":
		return "", nil
	case strings.HasPrefix(m.Credential, "env:"):
		name := strings.TrimPrefix(m.Credential, "env:")
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("model %s: environment variable %s is not set", m.Name, name)
		}
		return v, nil
	default:
		b, err := os.ReadFile(strings.TrimPrefix(m.Credential, "file:"))
		if err != nil {
			return "", fmt.Errorf("model %s: read credential: %w", m.Name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
}
