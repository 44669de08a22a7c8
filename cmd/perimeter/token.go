package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// accessToken returns the token of this invocation: the one in use, a
// cached one that is not about to expire, or a new one.
func (c *client) accessToken(ctx context.Context) (string, error) {
	if c.tok.AccessToken != "" {
		return c.tok.AccessToken, nil
	}
	if c.cache != nil {
		t, ok := c.cache.load()
		if ok && t.Endpoint == c.base.String() && t.TenantID == c.cred.TenantID && t.ClientID == c.cred.ClientID &&
			t.Username == c.cred.Username && t.Scope == c.cred.tokenScope &&
			time.Until(t.ExpiresOn) > tokenMargin && t.AccessToken != "" {
			c.tok, c.fromCache = t, true
			return t.AccessToken, nil
		}
	}
	t, err := c.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	c.tok, c.fromCache = t, false
	if c.cache != nil {
		if err := c.cache.save(t); err != nil {
			fmt.Fprintf(c.notices, "WARNING: the access token could not be cached: %v\n", err)
		}
	}
	return t.AccessToken, nil
}

// graphScope is the scope of Microsoft Graph tokens, for `perimeter ad`.
const graphScope = "https://graph.microsoft.com/.default"

// tokenForm is the token request of the profile's credential: the client
// credentials grant for a service principal (with its secret, or its
// identity provider's token as the client assertion), the password grant
// for a user, or the jwt-bearer grant for a user of an identity provider.
func (c *client) tokenForm(scope string) (url.Values, error) {
	switch {
	case c.cred.federated():
		assertion, err := c.cred.federatedAssertion()
		if err != nil {
			return nil, err
		}
		if c.cred.federatedUser() {
			return url.Values{
				"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
				"client_id":  {c.cred.ClientID},
				"assertion":  {assertion},
				"scope":      {scope},
			}, nil
		}
		return url.Values{
			"grant_type":            {"client_credentials"},
			"client_id":             {c.cred.ClientID},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {assertion},
			"scope":                 {scope},
		}, nil
	case c.cred.Username != "":
		return url.Values{
			"grant_type": {"password"},
			"client_id":  {c.cred.ClientID},
			"username":   {c.cred.Username},
			"password":   {c.cred.Password},
			"scope":      {scope},
		}, nil
	}
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.cred.ClientID},
		"client_secret": {c.cred.ClientSecret},
		"scope":         {scope},
	}, nil
}

// fetchToken gets a token for the profile's scope (the control plane's
// unless tokenScope says otherwise) with the profile's credential.
func (c *client) fetchToken(ctx context.Context) (cachedToken, error) {
	scope := c.cred.tokenScope
	if scope == "" {
		scope = managementScope
	}
	form, err := c.tokenForm(scope)
	if err != nil {
		return cachedToken{}, err
	}
	u := c.base.JoinPath(c.cred.TenantID, "oauth2", "v2.0", "token")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return cachedToken{}, fmt.Errorf("build the token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", userAgent)
	issued := time.Now()
	resp, err := c.roundTrip(req)
	if err != nil {
		return cachedToken{}, err
	}
	if resp.status != http.StatusOK {
		var oauth struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(resp.body, &oauth) == nil && oauth.Error != "" {
			return cachedToken{}, &armError{Status: resp.status, Code: oauth.Error, Message: oauth.Description}
		}
		return cachedToken{}, &armError{Status: resp.status, Message: fmt.Sprintf("The token endpoint %s answered '%s'.", u.Path, http.StatusText(resp.status))}
	}
	var ok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(resp.body, &ok); err != nil || ok.AccessToken == "" {
		return cachedToken{}, fmt.Errorf("the token endpoint %s answered without an access token", u.Path)
	}
	return cachedToken{
		Endpoint: c.base.String(), TenantID: c.cred.TenantID, ClientID: c.cred.ClientID,
		Username: c.cred.Username, Scope: c.cred.tokenScope,
		AccessToken: ok.AccessToken, ExpiresOn: issued.Add(time.Duration(ok.ExpiresIn) * time.Second),
	}, nil
}
