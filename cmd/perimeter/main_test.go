package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/server"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// startServer runs a real Perimeter in-process on loopback with its own
// data directory, and stops it when the test ends.
func startServer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var runErr error
	go func() {
		defer close(stopped)
		runErr = server.Run(ctx, server.Config{
			DataDir: dir, ARMAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0",
			DNSAddr: "127.0.0.1:0", EgressAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
			Logger: slog.New(slog.DiscardHandler),
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
		if runErr != nil {
			t.Errorf("server.Run: %v", runErr)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, server.ReadyFile)); err == nil {
			return dir
		}
		select {
		case <-stopped:
			t.Fatalf("the server stopped before it was ready: %v", runErr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not write ready.json in time")
		}
	}
}

// cli runs commands the way main does, with its own profile directory.
type cli struct {
	t         *testing.T
	configDir string
	// secrets must never appear in any output.
	secrets []string
	// replace normalises volatile values (ids, endpoint) for golden files.
	replace *strings.Replacer
}

type result struct {
	stdout, stderr string
	code           int
}

func newCLI(t *testing.T) *cli {
	dir := t.TempDir()
	t.Setenv(configDirEnv, dir)
	return &cli{t: t, configDir: dir, replace: strings.NewReplacer()}
}

// loggedIn starts a server and logs in to it with --data-dir.
func loggedIn(t *testing.T) (*cli, *serverInfo) {
	t.Helper()
	c := newCLI(t)
	info := readServerInfo(t, startServer(t))
	c.knowServer(info)
	c.ok("login", "--data-dir", info.dir, "-o", "none")
	return c, info
}

// knowServer makes the CLI check that the server's secret is never printed
// and normalise its ids and endpoint in golden files. The stand-ins have
// the same length as what they replace, so tables stay aligned.
func (c *cli) knowServer(info *serverInfo) {
	c.secrets = append(c.secrets, info.ClientSecret)
	host, port, _ := strings.Cut(strings.TrimPrefix(info.ARM, "https://"), ":")
	c.replace = strings.NewReplacer(
		info.SubscriptionID, "11111111-1111-1111-1111-111111111111",
		info.TenantID, "22222222-2222-2222-2222-222222222222",
		info.ClientID, "33333333-3333-3333-3333-333333333333",
		info.ARM, "https://"+host+":"+strings.Repeat("9", len(port)))
}

// serverInfo is what a test knows of its server: ready.json and admin.json.
type serverInfo struct {
	dir            string
	ARM            string `json:"arm"`
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	ClientID       string `json:"clientId"`
	ClientSecret   string `json:"clientSecret"`
}

func readServerInfo(t *testing.T, dir string) *serverInfo {
	t.Helper()
	info := &serverInfo{dir: dir}
	for _, name := range []string{"ready.json", "admin.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, info); err != nil {
			t.Fatal(err)
		}
	}
	return info
}

// run executes one command line with empty, non-interactive stdin.
func (c *cli) run(args ...string) result {
	return c.runWithInput(strings.NewReader(""), args...)
}

// runWithInput executes one command line, reporting its error and exit
// code exactly as main does.
func (c *cli) runWithInput(stdin io.Reader, args ...string) result {
	c.t.Helper()
	root := newRootCommand()
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(&out)
	root.SetErr(&errOut)
	// Cancelled when the command is over, as the process would end.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := 0
	if err := root.ExecuteContext(ctx); err != nil {
		var ce *cliError
		if errors.As(err, &ce) {
			errOut.WriteString(ce.Error() + "\n")
			code = ce.exit
		} else {
			errOut.WriteString("ERROR: " + err.Error() + "\n")
			code = 1
		}
	}
	r := result{stdout: out.String(), stderr: errOut.String(), code: code}
	for _, s := range c.secrets {
		if s != "" && (strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s)) {
			c.t.Errorf("perimeter %s printed a secret", strings.Join(args, " "))
		}
	}
	return r
}

// ok runs a command that must succeed and returns its stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("perimeter %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// okJSON runs a command that must succeed and decodes its JSON output.
func (c *cli) okJSON(args ...string) any {
	c.t.Helper()
	out := c.ok(args...)
	v, err := decodeValue([]byte(out))
	if err != nil {
		c.t.Fatalf("perimeter %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

var timestampRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)

// normalise replaces the values that change from run to run.
func (c *cli) normalise(s string) string {
	return timestampRE.ReplaceAllString(c.replace.Replace(s), "<time>")
}

// golden compares got with testdata/NAME.golden; -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// str reads a string at a dotted path of decoded JSON.
func str(v any, path string) string {
	s, _ := lookup(v, path).(string)
	return s
}

// names returns the "name" of each item of a decoded JSON list.
func names(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, str(it, "name"))
	}
	return out
}
