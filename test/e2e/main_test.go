// Package e2e runs the real perimeter binary and drives it with real
// clients: the official Azure SDK for Go and plain HTTP.
package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	cs "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/cognitiveservices/armcognitiveservices/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/uuid"
)

// binary is the perimeter binary built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "perimeter-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "perimeter")
	build := exec.Command("go", "build", "-o", binary, "../../cmd/perimeter")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build perimeter:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ready mirrors ready.json.
type ready struct {
	ARM            string `json:"arm"`
	Gateway        string `json:"gateway"`
	DNS            string `json:"dns"`
	Egress         string `json:"egress"`
	Admin          string `json:"admin"`
	CACert         string `json:"caCert"`
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	PID            int    `json:"pid"`
}

// admin mirrors admin.json.
type admin struct {
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	ClientID       string `json:"clientId"`
	ClientSecret   string `json:"clientSecret"`
}

// instance is one running perimeter process.
type instance struct {
	t       *testing.T
	dir     string
	cmd     *exec.Cmd
	exited  chan error
	ready   ready
	admin   admin
	client  *http.Client
	logs    *logBuffer
	storeFl []string
}

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) add(s string) { l.mu.Lock(); l.b.WriteString(s + "\n"); l.mu.Unlock() }
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs perimeter serve on dir with every listener on port 0 and
// waits for ready.json.
func start(t *testing.T, dir string, extra ...string) *instance {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dir, "--arm-addr", "127.0.0.1:0", "--gateway-addr", "127.0.0.1:0",
		"--dns-addr", "127.0.0.1:0", "--egress-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(binary, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, dir: dir, cmd: cmd, exited: make(chan error, 1), logs: &logBuffer{}, storeFl: extra}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			in.logs.add(sc.Text())
		}
		in.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-in.exited
		}
		if t.Failed() {
			t.Logf("perimeter logs:\n%s", in.logs)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "ready.json"))
		if err == nil {
			if err := json.Unmarshal(b, &in.ready); err != nil {
				t.Fatalf("ready.json is not valid JSON (it must be written atomically): %v: %s", err, b)
			}
			if in.ready.PID == cmd.Process.Pid {
				break
			} // else: left behind by a killed process
		}
		select {
		case err := <-in.exited:
			t.Fatalf("perimeter exited before ready: %v\n%s", err, in.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready.json after 30s\n%s", in.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, err := os.ReadFile(filepath.Join(dir, "admin.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &in.admin); err != nil {
		t.Fatal(err)
	}
	in.client = httpClient(t, in.ready.CACert)
	return in
}

// stop sends SIGTERM and waits for a clean exit.
func (in *instance) stop() {
	in.t.Helper()
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		in.t.Fatal(err)
	}
	select {
	case err := <-in.exited:
		if err != nil {
			in.t.Fatalf("perimeter did not exit cleanly on SIGTERM: %v\n%s", err, in.logs)
		}
	case <-time.After(20 * time.Second):
		in.t.Fatal("perimeter did not stop within 20s of SIGTERM")
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (in *instance) kill() {
	in.t.Helper()
	_ = in.cmd.Process.Kill()
	<-in.exited
}

// httpClient trusts exactly the server's CA.
func httpClient(t *testing.T, caPath string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caPath)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// credential is the Azure SDK's own client-secret credential pointed at
// Perimeter's token issuer.
func (in *instance) credential() azcore.TokenCredential {
	in.t.Helper()
	cred, err := azidentity.NewClientSecretCredential(in.admin.TenantID, in.admin.ClientID, in.admin.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{
			ClientOptions:            azcore.ClientOptions{Cloud: in.cloud(), Transport: in.client},
			DisableInstanceDiscovery: true,
		})
	if err != nil {
		in.t.Fatal(err)
	}
	return cred
}

func (in *instance) cloud() cloud.Configuration {
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: in.ready.ARM + "/",
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: in.ready.ARM, Audience: "https://management.azure.com"},
		},
	}
}

// armOptions are client options for the official ARM SDK clients.
func (in *instance) armOptions() *azarm.ClientOptions {
	return &azarm.ClientOptions{ClientOptions: azcore.ClientOptions{Cloud: in.cloud(), Transport: in.client}}
}

// token gets a management token with a plain form POST, as scripts do.
func (in *instance) token(scope string) (string, error) {
	form := "grant_type=client_credentials&client_id=" + in.admin.ClientID + "&client_secret=" + in.admin.ClientSecret + "&scope=" + scope
	resp, err := in.client.Post(in.ready.ARM+"/"+in.admin.TenantID+"/oauth2/v2.0/token", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		AccessToken string `json:"access_token"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token endpoint answered %d: %s", resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 || tok.AccessToken == "" {
		return "", fmt.Errorf("token response %s: %v", body, err)
	}
	return tok.AccessToken, nil
}

// call makes a raw ARM request with an optional bearer token.
func (in *instance) call(ctx context.Context, method, path, token string, body io.Reader) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, in.ready.ARM+path, body)
	if err != nil {
		return nil, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// group creates (or updates) a resource group with the SDK.
func (in *instance) group(name, location string) {
	in.t.Helper()
	groups, err := armresources.NewResourceGroupsClient(in.admin.SubscriptionID, in.credential(), in.armOptions())
	if err != nil {
		in.t.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(in.t.Context(), name, armresources.ResourceGroup{Location: &location}, nil); err != nil {
		in.t.Fatalf("create resource group %s: %v", name, err)
	}
}

// cognitive returns the armcognitiveservices clients for the admin's
// subscription.
func (in *instance) cognitive() *cs.ClientFactory {
	in.t.Helper()
	f, err := cs.NewClientFactory(in.admin.SubscriptionID, in.credential(), in.armOptions())
	if err != nil {
		in.t.Fatal(err)
	}
	return f
}

// objectID reads the "oid" claim of a token the credential obtains: the
// principal id role assignments name.
func (in *instance) objectID(cred azcore.TokenCredential) string {
	in.t.Helper()
	tok, err := cred.GetToken(in.t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		in.t.Fatal(err)
	}
	parts := strings.Split(tok.Token, ".")
	if len(parts) != 3 {
		in.t.Fatalf("not a JWT: %q", tok.Token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		in.t.Fatal(err)
	}
	var claims struct {
		OID string `json:"oid"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.OID == "" {
		in.t.Fatalf("token claims %s: %v", payload, err)
	}
	return claims.OID
}

// assign gives principalID the built-in role at scope, as the admin, with
// the official armauthorization client.
func (in *instance) assign(scope, roleGUID, principalID string) {
	in.t.Helper()
	client, err := armauthorization.NewRoleAssignmentsClient(in.admin.SubscriptionID, in.credential(), in.armOptions())
	if err != nil {
		in.t.Fatal(err)
	}
	roleID := "/subscriptions/" + in.admin.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + roleGUID
	if _, err := client.Create(in.t.Context(), scope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{
		Properties: &armauthorization.RoleAssignmentProperties{RoleDefinitionID: &roleID, PrincipalID: &principalID},
	}, nil); err != nil {
		in.t.Fatalf("assign role %s to %s at %s: %v", roleGUID, principalID, scope, err)
	}
}

// eventually retries f for up to two seconds: the data planes enforce a
// change made through the control plane within milliseconds of its commit,
// not in the same instant.
func eventually(f func() error) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
