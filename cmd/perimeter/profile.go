package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/identity"
)

// configDirEnv names the directory that holds the CLI's profiles. Unset,
// the profiles live in os.UserConfigDir()/perimeter.
const configDirEnv = "PERIMETER_CONFIG_DIR"

// defaultProfile is the profile `perimeter login` writes when --profile is
// not given.
const defaultProfile = "default"

// profile is one saved login: where the server is, the CA that signed its
// certificate, and the credential used against it: a service principal's
// client secret, or a user's password (Username set). The file holding it
// is mode 0600 because of ClientSecret and Password.
type profile struct {
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
	// CACertificate is the PEM of the CA the CLI trusts for Endpoint, and
	// the only one: a copy, so the profile keeps working when the server's
	// data directory is out of reach.
	CACertificate     string `json:"caCertificate"`
	TenantID          string `json:"tenantId"`
	SubscriptionID    string `json:"subscriptionId"`
	SubscriptionName  string `json:"subscriptionName,omitempty"`
	SubscriptionState string `json:"subscriptionState,omitempty"`
	ClientID          string `json:"clientId"`
	ClientSecret      string `json:"clientSecret"`
	// Username and Password are a user's sign-in (perimeter login
	// --username without --service-principal): tokens come from the
	// password grant through ClientID, the Azure CLI's public client id.
	// The password is kept because Perimeter issues no refresh tokens.
	// Both are empty for a service principal.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// FederatedToken or FederatedTokenFile is a token of an external
	// identity provider that the login signs in with instead of a secret
	// (perimeter login --federated-token): a user's, exchanged with the
	// jwt-bearer grant when ClientID is the Azure CLI's, else a
	// workload's, sent as ClientID's client assertion. A file is read
	// again for every token, so a workload whose token file is rotated
	// (Kubernetes, CI) keeps working; a literal token works until it
	// expires, then log in again.
	FederatedToken     string `json:"federatedToken,omitempty"`
	FederatedTokenFile string `json:"federatedTokenFile,omitempty"`

	// tokenScope is the scope this invocation asks tokens for; "" means
	// the control plane's (managementScope). Never saved.
	tokenScope string
}

// federated reports whether the profile signs in with an identity
// provider's token.
func (p *profile) federated() bool { return p.FederatedToken != "" || p.FederatedTokenFile != "" }

// federatedUser reports whether the profile signs a user in with their
// identity provider's token (through the Azure CLI's client id), rather
// than a workload through its application.
func (p *profile) federatedUser() bool {
	return p.federated() && p.ClientID == identity.AzureCLIClientID
}

// federatedAssertion is the identity provider's token, read from its file
// when the profile names one.
func (p *profile) federatedAssertion() (string, error) {
	if p.FederatedTokenFile == "" {
		return p.FederatedToken, nil
	}
	b, err := os.ReadFile(p.FederatedTokenFile)
	if err != nil {
		return "", fmt.Errorf("read the federated token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("the federated token file %s is empty", p.FederatedTokenFile)
	}
	return tok, nil
}

// principalName is who the profile signs in as: the user's name or the
// service principal's client id.
func (p *profile) principalName() string {
	if p.Username != "" {
		return p.Username
	}
	return p.ClientID
}

// cachedToken is an access token kept between invocations, with what it
// was issued for so a token for another login is never reused.
type cachedToken struct {
	Endpoint string `json:"endpoint"`
	TenantID string `json:"tenantId"`
	ClientID string `json:"clientId"`
	// Username is the user the token was issued to; "" for a service
	// principal.
	Username string `json:"username,omitempty"`
	// Scope is the scope the token was asked for; "" for the control
	// plane's.
	Scope       string    `json:"scope,omitempty"`
	AccessToken string    `json:"accessToken"`
	ExpiresOn   time.Time `json:"expiresOn"`
}

// settings is config.json: which profile commands use without --profile.
type settings struct {
	CurrentProfile string `json:"currentProfile,omitempty"`
}

// profileStore is the directory of saved profiles:
//
//	config.json                     current profile
//	profiles/NAME.json              a profile (mode 0600: it holds a secret)
//	profiles/NAME.token.json        its cached access token (mode 0600)
//	profiles/NAME.graph.token.json  its cached Microsoft Graph token (mode 0600)
type profileStore struct {
	dir string
}

// openProfileStore locates the profile directory; nothing is created until
// something is saved.
func openProfileStore() (*profileStore, error) {
	if d := os.Getenv(configDirEnv); d != "" {
		return &profileStore{dir: d}, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("find the configuration directory (set %s): %w", configDirEnv, err)
	}
	return &profileStore{dir: filepath.Join(base, "perimeter")}, nil
}

var profileNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// checkProfileName keeps names usable as file names, and nothing else.
func checkProfileName(name string) error {
	if !profileNameRE.MatchString(name) {
		return usageErrorf("argument --profile: invalid profile name %q: use 1 to 64 letters, digits, '.', '_' or '-'", name)
	}
	return nil
}

func (s *profileStore) profilePath(name string) string {
	return filepath.Join(s.dir, "profiles", name+".json")
}

func (s *profileStore) tokenPath(name string) string {
	return filepath.Join(s.dir, "profiles", name+".token.json")
}

func (s *profileStore) graphTokenPath(name string) string {
	return filepath.Join(s.dir, "profiles", name+".graph.token.json")
}

func (s *profileStore) settingsPath() string { return filepath.Join(s.dir, "config.json") }

// errNoProfile means nobody has logged in (for the profile asked for).
var errNoProfile = errors.New("please run 'perimeter login' to set up an account")

// resolve returns the name of the profile to use: the one asked for, else
// the current one.
func (s *profileStore) resolve(name string) (string, error) {
	if name != "" {
		return name, checkProfileName(name)
	}
	var st settings
	if err := readJSON(s.settingsPath(), &st); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if st.CurrentProfile == "" {
		return "", errNoProfile
	}
	return st.CurrentProfile, checkProfileName(st.CurrentProfile)
}

// load reads a saved profile.
func (s *profileStore) load(name string) (*profile, error) {
	var p profile
	err := readJSON(s.profilePath(name), &p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no profile %q: %w", name, errNoProfile)
	}
	if err != nil {
		return nil, err
	}
	p.Name = name
	return &p, nil
}

// save writes a profile, forgets any token cached for the previous
// credential, and makes the profile current.
func (s *profileStore) save(p *profile) error {
	if err := writeJSONAtomic(s.profilePath(p.Name), p); err != nil {
		return fmt.Errorf("save profile %q: %w", p.Name, err)
	}
	for _, path := range []string{s.tokenPath(p.Name), s.graphTokenPath(p.Name)} {
		if err := removeIfExists(path); err != nil {
			return err
		}
	}
	return s.setCurrent(p.Name)
}

// remove deletes a profile and its token; if it was current, no profile
// is current afterwards.
func (s *profileStore) remove(name string) error {
	if _, err := os.Stat(s.profilePath(name)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no profile %q: there is nothing to log out of", name)
	}
	for _, path := range []string{s.tokenPath(name), s.graphTokenPath(name), s.profilePath(name)} {
		if err := removeIfExists(path); err != nil {
			return err
		}
	}
	var st settings
	if err := readJSON(s.settingsPath(), &st); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if st.CurrentProfile == name {
		return s.setCurrent("")
	}
	return nil
}

func (s *profileStore) setCurrent(name string) error {
	return writeJSONAtomic(s.settingsPath(), settings{CurrentProfile: name})
}

// tokenCache is the cached token file of one profile.
func (s *profileStore) tokenCache(name string) *tokenFile {
	return &tokenFile{path: s.tokenPath(name)}
}

// graphTokenCache is the cached Microsoft Graph token file of one profile.
func (s *profileStore) graphTokenCache(name string) *tokenFile {
	return &tokenFile{path: s.graphTokenPath(name)}
}

// tokenFile keeps one access token on disk (mode 0600).
type tokenFile struct {
	path string
}

// load returns the cached token, or false if there is none readable.
func (f *tokenFile) load() (cachedToken, bool) {
	var t cachedToken
	if err := readJSON(f.path, &t); err != nil {
		return cachedToken{}, false
	}
	return t, true
}

func (f *tokenFile) save(t cachedToken) error { return writeJSONAtomic(f.path, t) }

func (f *tokenFile) drop() error { return removeIfExists(f.path) }

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s is not valid JSON: %w", path, err)
	}
	return nil
}

// writeJSONAtomic writes v as JSON, mode 0600, in a directory of mode 0700.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o600)
}

// writeFileAtomic writes data so that readers see the old file or the whole
// new one, never a part: a temporary file in the same directory, created
// with the final mode before any byte is written, synced, then renamed.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
