package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/perimeterhq/perimeter/internal/identity"
)

// loginOptions are the flags of `perimeter login`.
type loginOptions struct {
	dataDir              string
	servicePrincipal     bool
	endpoint             string
	caFile               string
	tenant               string
	username             string
	password             string
	federatedToken       string
	allowNoSubscriptions bool
}

func newLoginCommand() *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a Perimeter server and save the login as a profile",
		Long: `Log in to a Perimeter server, as 'az login --service-principal' or
'az login --username' does, and save the endpoint, the server's CA certificate
and the credential as a profile (mode 0600) in $PERIMETER_CONFIG_DIR, else in
the user configuration directory. The credential is checked by getting a token
before anything is saved.

A service principal logs in with its client id and secret (--service-principal).
A user logs in with their userPrincipalName and password (--username without
--service-principal), through the Azure CLI's public client id; as Perimeter
issues no refresh tokens, the profile keeps the password.

A user of a company identity provider the server trusts (serve
--trusted-issuer) logs in with a token of that provider (--federated-token
TOKEN, @FILE or - for stdin), exchanged with the jwt-bearer grant; the
profile keeps the token, or the file's name so that a rotated file keeps
working. With --service-principal --username APP_ID, --federated-token is
a workload's token that a federated identity credential of the application
trusts.

For a server on this machine, --data-dir reads the endpoint, CA and tenant
from the data directory of 'perimeter serve' (ready.json, admin.json, ca.pem),
and the bootstrap admin's credential unless --username is given.`,
		Example: `  perimeter login --data-dir ./perimeter-data
  perimeter login --data-dir ./perimeter-data --username alice@contoso.com --password -
  perimeter login --service-principal --endpoint https://127.0.0.1:8443 --ca-file ca.pem \
      --tenant TENANT_ID --username CLIENT_ID --password -   # secret read from stdin
  perimeter login --endpoint https://127.0.0.1:8443 --ca-file ca.pem \
      --tenant TENANT_ID --username alice@contoso.com --password -
  perimeter login --endpoint https://127.0.0.1:8443 --ca-file ca.pem \
      --tenant TENANT_ID --federated-token @id-token.jwt
  perimeter login --service-principal --endpoint https://127.0.0.1:8443 --ca-file ca.pem \
      --tenant TENANT_ID --username APP_ID --federated-token @$AZURE_FEDERATED_TOKEN_FILE`,
		Args: noArgs,
	}
	g := addGlobalFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return runLogin(cmd, g, &o) }
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "", "data directory of a local 'perimeter serve'")
	f.BoolVar(&o.servicePrincipal, "service-principal", false, "log in with a service principal's client credential")
	f.StringVar(&o.endpoint, "endpoint", "", "control-plane URL (the 'arm' of ready.json), e.g. https://127.0.0.1:8443")
	f.StringVar(&o.caFile, "ca-file", "", "PEM file of the CA that signed the server's certificate (ca.pem)")
	f.StringVarP(&o.tenant, "tenant", "t", "", "tenant id")
	f.StringVarP(&o.username, "username", "u", "", "client (application) id of the service principal, or the user's userPrincipalName")
	f.StringVarP(&o.password, "password", "p", "", "client secret or user password; '-' reads it from the first line of stdin")
	f.StringVar(&o.federatedToken, "federated-token", "", "an identity provider's token to log in with instead of a password: TOKEN, @FILE (read again for every token) or - (stdin)")
	f.BoolVar(&o.allowNoSubscriptions, "allow-no-subscriptions", false, "log in even if the identity has access to no subscription ('perimeter ad' commands need none)")
	return cmd
}

func runLogin(cmd *cobra.Command, g *globals, o *loginOptions) error {
	name := g.profile
	if name == "" {
		name = defaultProfile
	}
	var (
		p   *profile
		sub string // subscription to select; "" picks the first enabled one
		err error
	)
	if o.federatedToken != "" && o.password != "" {
		return usageErrorf("--federated-token and --password exclude each other: the token is the credential")
	}
	if o.federatedToken != "" && o.username != "" && !o.servicePrincipal {
		return usageErrorf("--federated-token signs in as the user the token names: leave out --username (or add --service-principal for an application's client id)")
	}
	switch {
	case o.dataDir != "":
		if o.servicePrincipal || o.endpoint != "" || o.caFile != "" || o.tenant != "" {
			return usageErrorf("--data-dir reads the endpoint, CA and credential from the data directory: do not combine it with --service-principal, --endpoint, --ca-file or --tenant")
		}
		if o.federatedToken != "" {
			p, sub, err = profileFromDataDir(o.dataDir)
			if err == nil {
				sub = "" // the user need not see the admin's default subscription
				p, err = o.federatedProfile(p.Endpoint, p.CACertificate, p.TenantID, identity.AzureCLIClientID, cmd.InOrStdin())
			}
			break
		}
		if (o.username == "") != (o.password == "") {
			return usageErrorf("with --data-dir, give both --username and --password to log in as a user, or neither to log in as the bootstrap admin")
		}
		p, sub, err = profileFromDataDir(o.dataDir)
		if err == nil && o.username != "" {
			// The user need not see the admin's default subscription.
			sub = ""
			p, err = o.userProfile(p.Endpoint, p.CACertificate, p.TenantID, cmd.InOrStdin())
		}
	case o.servicePrincipal && o.federatedToken != "":
		p, err = o.flagsFederatedProfile(o.username, cmd.InOrStdin(), credentialFlag{"--username/-u", o.username})
	case o.servicePrincipal:
		p, err = o.servicePrincipalProfile(cmd.InOrStdin())
	case o.federatedToken != "":
		p, err = o.flagsFederatedProfile(identity.AzureCLIClientID, cmd.InOrStdin())
	case o.username != "":
		p, err = o.flagsUserProfile(cmd.InOrStdin())
	default:
		return usageErrorf("give --data-dir DIR for a local server, --service-principal with --endpoint, --ca-file, --tenant, --username and --password, --username and --password (a user) with --endpoint, --ca-file and --tenant, or --federated-token with --endpoint, --ca-file and --tenant; Perimeter has no interactive login")
	}
	if err != nil {
		return err
	}
	if g.subscription != "" {
		sub = g.subscription
	}
	p.Name = name
	c, err := newClient(p, cmd.ErrOrStderr(), nil)
	if err != nil {
		return err
	}
	context.AfterFunc(cmd.Context(), c.http.CloseIdleConnections)
	if _, err := c.accessToken(cmd.Context()); err != nil {
		return err
	}
	if p.federatedUser() {
		// The token names the user; the profile shows who that is.
		if p.Username, err = userOfToken(c.tok.AccessToken); err != nil {
			return err
		}
		c.cred.Username, c.tok.Username = p.Username, p.Username
	}
	s, err := c.findSubscription(cmd.Context(), sub)
	switch {
	case o.allowNoSubscriptions && sub == "" && errors.Is(err, errNoSubscriptions):
		// A tenant-level login, enough for the directory.
	case err != nil:
		return err
	default:
		p.SubscriptionID, p.SubscriptionName, p.SubscriptionState = s.SubscriptionID, s.DisplayName, s.State
	}
	store, err := openProfileStore()
	if err != nil {
		return err
	}
	if err := store.save(p); err != nil {
		return err
	}
	if err := store.tokenCache(name).save(c.tok); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: the access token could not be cached: %v\n", err)
	}
	return g.print(cmd, toValue([]accountView{viewAccount(p)}), accountColumns())
}

// servicePrincipalProfile builds a profile from the --service-principal
// flags.
func (o *loginOptions) servicePrincipalProfile(stdin io.Reader) (*profile, error) {
	endpoint, ca, err := o.remoteFlags(credentialFlag{"--username/-u", o.username}, credentialFlag{"--password/-p", o.password})
	if err != nil {
		return nil, err
	}
	secret, err := readPassword(o.password, stdin)
	if err != nil {
		return nil, err
	}
	return &profile{
		Endpoint: endpoint, CACertificate: ca,
		TenantID: o.tenant, ClientID: o.username, ClientSecret: secret,
	}, nil
}

// flagsUserProfile builds a user's profile from --endpoint, --ca-file,
// --tenant, --username and --password.
func (o *loginOptions) flagsUserProfile(stdin io.Reader) (*profile, error) {
	endpoint, ca, err := o.remoteFlags(credentialFlag{"--username/-u", o.username}, credentialFlag{"--password/-p", o.password})
	if err != nil {
		return nil, err
	}
	return o.userProfile(endpoint, ca, o.tenant, stdin)
}

// userProfile is a user's login on a server: the password grant through
// the Azure CLI's public client id, as `az login --username` does.
func (o *loginOptions) userProfile(endpoint, ca, tenant string, stdin io.Reader) (*profile, error) {
	if !strings.Contains(o.username, "@") {
		return nil, usageErrorf("argument --username: a user signs in with their userPrincipalName (alias@domain); for a service principal's client id add --service-principal")
	}
	password, err := readPassword(o.password, stdin)
	if err != nil {
		return nil, err
	}
	return &profile{
		Endpoint: endpoint, CACertificate: ca, TenantID: tenant,
		ClientID: identity.AzureCLIClientID, Username: o.username, Password: password,
	}, nil
}

// flagsFederatedProfile builds the profile of a login with an identity
// provider's token from --endpoint, --ca-file and --tenant, through
// clientID (the Azure CLI's for a user, the application's for a workload).
func (o *loginOptions) flagsFederatedProfile(clientID string, stdin io.Reader, credential ...credentialFlag) (*profile, error) {
	endpoint, ca, err := o.remoteFlags(credential...)
	if err != nil {
		return nil, err
	}
	return o.federatedProfile(endpoint, ca, o.tenant, clientID, stdin)
}

// federatedProfile is a login with the --federated-token: the literal
// token, or the absolute name of its file.
func (o *loginOptions) federatedProfile(endpoint, ca, tenant, clientID string, stdin io.Reader) (*profile, error) {
	p := &profile{Endpoint: endpoint, CACertificate: ca, TenantID: tenant, ClientID: clientID}
	if name, ok := strings.CutPrefix(o.federatedToken, "@"); ok {
		abs, err := filepath.Abs(name)
		if err != nil {
			return nil, usageErrorf("argument --federated-token: %v", err)
		}
		p.FederatedTokenFile = abs
		// Read now, so that a wrong name fails here rather than later.
		if _, err := p.federatedAssertion(); err != nil {
			return nil, err
		}
		return p, nil
	}
	tok, err := readPassword(o.federatedToken, stdin)
	if err != nil {
		return nil, err
	}
	p.FederatedToken = strings.TrimSpace(tok)
	return p, nil
}

// userOfToken reads the user principal name from a user token the server
// just issued (over the TLS connection to the CA the profile trusts): the
// profile shows who the identity provider's token signed in.
func userOfToken(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("the token endpoint answered a token that is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("read the user token: %w", err)
	}
	var claims struct {
		UPN string `json:"upn"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.UPN == "" {
		return "", errors.New("the token endpoint answered a token without the user's name (upn)")
	}
	return claims.UPN, nil
}

// credentialFlag is a flag a login needs besides the server's.
type credentialFlag struct{ name, value string }

// remoteFlags checks the flags that name a server and the credential
// flags given, and reads the CA.
func (o *loginOptions) remoteFlags(credential ...credentialFlag) (endpoint, ca string, err error) {
	var missing []string
	for _, f := range append([]credentialFlag{
		{"--endpoint", o.endpoint}, {"--ca-file", o.caFile}, {"--tenant/-t", o.tenant},
	}, credential...) {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return "", "", usageErrorf("the following arguments are required: %s", strings.Join(missing, ", "))
	}
	if _, err := parseEndpoint(o.endpoint); err != nil {
		return "", "", usageErrorf("argument --endpoint: %v", err)
	}
	ca, err = readCA(o.caFile)
	if err != nil {
		return "", "", err
	}
	return strings.TrimSuffix(o.endpoint, "/"), ca, nil
}

// readPassword returns the --password value, reading the first line of
// stdin for "-".
func readPassword(value string, stdin io.Reader) (string, error) {
	if value != "-" {
		return value, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the secret from stdin: %w", err)
	}
	secret := strings.TrimRight(line, "\r\n")
	if secret == "" {
		return "", usageErrorf("argument --password: stdin held no secret")
	}
	return secret, nil
}

// profileFromDataDir reads what `perimeter serve` wrote in its data
// directory: ready.json (endpoint, CA path, subscription), admin.json (the
// bootstrap credential) and ca.pem.
func profileFromDataDir(dir string) (*profile, string, error) {
	var ready struct {
		ARM            string `json:"arm"`
		CACert         string `json:"caCert"`
		TenantID       string `json:"tenantId"`
		SubscriptionID string `json:"subscriptionId"`
	}
	if err := readJSON(filepath.Join(dir, "ready.json"), &ready); errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("%s has no ready.json: is 'perimeter serve --data-dir %s' running and ready?", dir, dir)
	} else if err != nil {
		return nil, "", err
	}
	var admin struct {
		TenantID       string `json:"tenantId"`
		SubscriptionID string `json:"subscriptionId"`
		ClientID       string `json:"clientId"`
		ClientSecret   string `json:"clientSecret"`
	}
	if err := readJSON(filepath.Join(dir, "admin.json"), &admin); err != nil {
		return nil, "", fmt.Errorf("read the bootstrap credential: %w", err)
	}
	// ready.json names ca.pem; a relative name is relative to the server's
	// working directory, which need not be ours.
	caPath := filepath.Join(dir, "ca.pem")
	if filepath.IsAbs(ready.CACert) {
		caPath = ready.CACert
	}
	ca, err := readCA(caPath)
	if err != nil {
		return nil, "", err
	}
	sub := ready.SubscriptionID
	if sub == "" {
		sub = admin.SubscriptionID
	}
	return &profile{
		Endpoint: ready.ARM, CACertificate: ca,
		TenantID: admin.TenantID, ClientID: admin.ClientID, ClientSecret: admin.ClientSecret,
	}, sub, nil
}

// readCA reads a PEM file that must hold at least one certificate.
func readCA(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the CA certificate: %w", err)
	}
	if !strings.Contains(string(b), "-----BEGIN CERTIFICATE-----") {
		return "", fmt.Errorf("%s holds no PEM certificate", path)
	}
	return string(b), nil
}

// subscriptionInfo is what the CLI reads of a subscription.
type subscriptionInfo struct {
	SubscriptionID string `json:"subscriptionId"`
	DisplayName    string `json:"displayName"`
	State          string `json:"state"`
	TenantID       string `json:"tenantId"`
}

// errNoSubscriptions: the identity sees no enabled subscription.
var errNoSubscriptions = errors.New("no subscriptions found")

// findSubscription finds a subscription by id or display name; "" picks
// the first enabled one, as az login does.
func (c *client) findSubscription(ctx context.Context, want string) (subscriptionInfo, error) {
	var s subscriptionInfo
	if isGUID(want) {
		resp, err := c.get(ctx, "/subscriptions/"+url.PathEscape(want), apiVersion(apiSubscriptions))
		if err != nil {
			return s, err
		}
		if err := json.Unmarshal(resp.body, &s); err != nil {
			return s, fmt.Errorf("the subscription answer is not JSON: %w", err)
		}
		return s, nil
	}
	items, err := c.list(ctx, "/subscriptions", apiVersion(apiSubscriptions))
	if err != nil {
		return s, err
	}
	for _, it := range items {
		b, _ := json.Marshal(it)
		if err := json.Unmarshal(b, &s); err != nil {
			continue
		}
		if (want == "" && s.State == "Enabled") || (want != "" && strings.EqualFold(s.DisplayName, want)) {
			return s, nil
		}
	}
	if want == "" {
		return subscriptionInfo{}, fmt.Errorf("%w for %s", errNoSubscriptions, c.cred.principalName())
	}
	return subscriptionInfo{}, fmt.Errorf("subscription '%s' not found; check the spelling and casing and try again", want)
}

// accountView is a profile as `az account show` shows an account, plus
// where it points. It never holds the secret.
type accountView struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	State            string   `json:"state"`
	TenantID         string   `json:"tenantId"`
	HomeTenantID     string   `json:"homeTenantId"`
	IsDefault        bool     `json:"isDefault"`
	ManagedByTenants []string `json:"managedByTenants"`
	User             struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"user"`
	Endpoint string `json:"endpoint"`
	Profile  string `json:"profile"`
}

func viewAccount(p *profile) accountView {
	v := accountView{
		ID: p.SubscriptionID, Name: p.SubscriptionName, State: p.SubscriptionState,
		TenantID: p.TenantID, HomeTenantID: p.TenantID, IsDefault: true, ManagedByTenants: []string{},
		Endpoint: p.Endpoint, Profile: p.Name,
	}
	v.User.Name, v.User.Type = p.ClientID, "servicePrincipal"
	if p.Username != "" {
		v.User.Name, v.User.Type = p.Username, "user"
	}
	if p.SubscriptionID == "" {
		// A tenant-level login (--allow-no-subscriptions), as az shows it.
		v.ID, v.Name = p.TenantID, "N/A(tenant level account)"
	}
	return v
}

func accountColumns() []column {
	return []column{{"Name", "name"}, {"SubscriptionId", "id"}, {"TenantId", "tenantId"}, {"Endpoint", "endpoint"}, {"Profile", "profile"}}
}

func newLogoutCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Forget a saved profile (the current one unless --profile)",
		Args:  noArgs,
	}
	g := addGlobalFlags(cmd)
	cmd.RunE = func(*cobra.Command, []string) error {
		store, err := openProfileStore()
		if err != nil {
			return err
		}
		name, err := store.resolve(g.profile)
		if errors.Is(err, errNoProfile) {
			return errors.New("there are no active accounts")
		}
		if err != nil {
			return err
		}
		return store.remove(name)
	}
	return cmd
}

func newAccountCommand() *cobra.Command {
	cmd := groupCommand("account", "Show the current login")
	g := addGlobalFlags(cmd)
	show := &cobra.Command{
		Use:   "show",
		Short: "Show the current profile: endpoint, tenant, subscription and client id (never the secret)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openProfileStore()
			if err != nil {
				return err
			}
			name, err := store.resolve(g.profile)
			if err != nil {
				return err
			}
			p, err := store.load(name)
			if err != nil {
				return err
			}
			if g.subscription != "" {
				s, err := g.session(cmd)
				if err != nil {
					return err
				}
				sub, err := s.client.findSubscription(cmd.Context(), s.subscription)
				if err != nil {
					return err
				}
				p.SubscriptionID, p.SubscriptionName, p.SubscriptionState = sub.SubscriptionID, sub.DisplayName, sub.State
			}
			return g.print(cmd, toValue(viewAccount(p)), accountColumns())
		},
	}
	cmd.AddCommand(show)
	return cmd
}
