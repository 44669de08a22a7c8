package identity

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// FederatedIdentityCredential lets an application sign in without a secret:
// the token endpoint accepts, as the application's client assertion, a
// token from an external OpenID Connect issuer whose "iss" is Issuer, whose
// "sub" is Subject and whose "aud" names Audiences[0] (workload identity
// federation, as Entra has it). The shape is Microsoft Graph's
// federatedIdentityCredential.
type FederatedIdentityCredential struct {
	ID string `json:"id"`
	// Name is unique (regardless of case) among the application's
	// credentials and never changes.
	Name string `json:"name"`
	// Issuer is the external issuer's URL, compared exactly with the
	// assertion's "iss"; its keys come from its OpenID Connect discovery
	// document.
	Issuer string `json:"issuer"`
	// Subject is compared exactly with the assertion's "sub".
	Subject string `json:"subject"`
	// Audiences holds exactly one audience, which the assertion's "aud"
	// must include.
	Audiences   []string `json:"audiences"`
	Description string   `json:"description,omitempty"`
}

// FederatedCredentialInput describes a new federated identity credential.
type FederatedCredentialInput struct {
	Name    string
	Issuer  string
	Subject string
	// Audiences: nil or empty means DefaultFederationAudience.
	Audiences   []string
	Description string
}

// FederatedCredentialPatch changes a federated identity credential: nil
// fields stay as they are. The name cannot change.
type FederatedCredentialPatch struct {
	Issuer      *string
	Subject     *string
	Audiences   *[]string
	Description *string
}

// DefaultFederationAudience is the audience Entra recommends, and the
// default of az ad app federated-credential create.
const DefaultFederationAudience = "api://AzureADTokenExchange"

// Entra's limits on federated identity credentials.
const (
	// MaxFederatedCredentials is the most an application may have.
	MaxFederatedCredentials = 20
	// maxFederationValue bounds issuer, subject, each audience and the
	// description.
	maxFederationValue = 600
)

var (
	// ErrFederatedCredentialNotFound: the application has no federated
	// identity credential with that id or name.
	ErrFederatedCredentialNotFound = errors.New("identity: federated identity credential not found")
	// ErrFederatedCredentialExists: another of the application's federated
	// identity credentials has the name, or the issuer and subject.
	ErrFederatedCredentialExists = errors.New("identity: federated identity credential already exists")
)

// federatedNameRE is Entra's rule for names: 3 to 120 characters, letters,
// digits, '-' and '_', starting with a letter or digit (the name appears in
// URLs).
var federatedNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$`)

func checkFederatedName(name string) error {
	if name == "" {
		return refusef(ErrInvalidInput, "A federated identity credential needs a name: 3 to 120 letters, digits, '-' or '_', starting with a letter or digit.")
	}
	if !federatedNameRE.MatchString(name) {
		return refusef(ErrInvalidInput, "The name '%s' of a federated identity credential must be 3 to 120 letters, digits, '-' or '_', starting with a letter or digit.", clip(name))
	}
	return nil
}

// checkFederationValue applies the rules every matched value of a
// federated identity credential shares (see checkExactClaim).
func checkFederationValue(prop, v string) error {
	return checkExactClaim("federated identity credential", prop, v)
}

// checkExactClaim applies the rules of a value compared exactly with a
// token's claim (an issuer, a subject, an audience), for the kind of
// object that holds it: surrounding spaces or control characters could
// only make it never match.
func checkExactClaim(kind, prop, v string) error {
	switch {
	case v == "":
		return refusef(ErrInvalidInput, "A %s needs a non-empty '%s'.", kind, prop)
	case utf8.RuneCountInString(v) > maxFederationValue:
		return refusef(ErrInvalidInput, "The '%s' of a %s is at most %d characters long.", prop, kind, maxFederationValue)
	case !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) || strings.TrimSpace(v) != v:
		return refusef(ErrInvalidInput, "The '%s' of a %s must be text without control characters or surrounding spaces: it is compared exactly with the token's claim.", prop, kind)
	}
	return nil
}

// checkIssuerURL requires an https URL of an external OpenID Connect
// issuer: its keys are fetched from it, and a token is only as
// trustworthy as the channel its keys came through.
func checkIssuerURL(kind, issuer string) error {
	if err := checkExactClaim(kind, "issuer", issuer); err != nil {
		return err
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return refusef(ErrInvalidInput,
			"The issuer '%s' must be an https URL without query or fragment: the 'iss' of your identity provider's tokens, such as https://token.actions.githubusercontent.com. Perimeter fetches its keys from {issuer}/.well-known/openid-configuration.",
			clip(issuer))
	}
	return nil
}

func checkFederationAudiences(audiences []string) error {
	if len(audiences) != 1 {
		return refusef(ErrInvalidInput,
			"A federated identity credential has exactly one audience (%d given); the recommended one is %s.", len(audiences), DefaultFederationAudience)
	}
	return checkFederationValue("audiences", audiences[0])
}

func checkFederationDescription(d string) error {
	if utf8.RuneCountInString(d) > maxFederationValue {
		return refusef(ErrInvalidInput, "The description of a federated identity credential is at most %d characters long.", maxFederationValue)
	}
	if !utf8.ValidString(d) {
		return refusef(ErrInvalidInput, "The description of a federated identity credential must be text.")
	}
	return nil
}

// checkFederatedCredential validates every property of c.
func checkFederatedCredential(c FederatedIdentityCredential) error {
	if err := checkFederatedName(c.Name); err != nil {
		return err
	}
	if err := checkIssuerURL("federated identity credential", c.Issuer); err != nil {
		return err
	}
	if err := checkFederationValue("subject", c.Subject); err != nil {
		return err
	}
	if err := checkFederationAudiences(c.Audiences); err != nil {
		return err
	}
	return checkFederationDescription(c.Description)
}

// checkFederatedUnique refuses c when another credential of the
// application (other than the one at index skip) has its name, or its
// issuer and subject: a token must select one credential.
func checkFederatedUnique(appID string, creds []FederatedIdentityCredential, c FederatedIdentityCredential, skip int) error {
	for i, o := range creds {
		if i == skip {
			continue
		}
		if strings.EqualFold(o.Name, c.Name) {
			return refusef(ErrFederatedCredentialExists,
				"Application %s already has a federated identity credential named '%s': names are unique per application.", appID, o.Name)
		}
		if o.Issuer == c.Issuer && o.Subject == c.Subject {
			return refusef(ErrFederatedCredentialExists,
				"Application %s already has a federated identity credential ('%s') for issuer '%s' and subject '%s'; change that one instead.",
				appID, o.Name, clip(c.Issuer), clip(c.Subject))
		}
	}
	return nil
}

// findFederated returns the index of the credential with the id or (as
// Graph's name key allows) name ref, compared regardless of case, or -1.
func findFederated(creds []FederatedIdentityCredential, ref string) int {
	if i := slices.IndexFunc(creds, func(c FederatedIdentityCredential) bool { return strings.EqualFold(c.ID, ref) }); i >= 0 {
		return i
	}
	return slices.IndexFunc(creds, func(c FederatedIdentityCredential) bool { return strings.EqualFold(c.Name, ref) })
}

func federatedNotFound(appID, ref string) error {
	return refusef(ErrFederatedCredentialNotFound, "Application %s has no federated identity credential with the id or name '%s'.", appID, clip(ref))
}

// AddFederatedCredential adds a federated identity credential to the
// application with client id appID, at most MaxFederatedCredentials per
// application.
func (d *Directory) AddFederatedCredential(ctx context.Context, tenantID, appID string, in FederatedCredentialInput) (FederatedIdentityCredential, error) {
	c := FederatedIdentityCredential{
		ID: newGUID(), Name: in.Name, Issuer: in.Issuer, Subject: in.Subject,
		Audiences: slices.Clone(in.Audiences), Description: in.Description,
	}
	if len(c.Audiences) == 0 {
		c.Audiences = []string{DefaultFederationAudience}
	}
	if err := checkFederatedCredential(c); err != nil {
		return FederatedIdentityCredential{}, err
	}
	err := d.updateApplication(ctx, tenantID, appID, func(doc *applicationDoc) error {
		if len(doc.FederatedIdentityCredentials) >= MaxFederatedCredentials {
			return refusef(ErrInvalidInput,
				"Application %s already has %d federated identity credentials, the most an application may have; delete one first.",
				doc.AppID, MaxFederatedCredentials)
		}
		if err := checkFederatedUnique(doc.AppID, doc.FederatedIdentityCredentials, c, -1); err != nil {
			return err
		}
		doc.FederatedIdentityCredentials = append(doc.FederatedIdentityCredentials, c)
		return nil
	})
	if err != nil {
		return FederatedIdentityCredential{}, err
	}
	return c, nil
}

// FederatedCredential returns the application's federated identity
// credential with the id or name ref.
func (d *Directory) FederatedCredential(ctx context.Context, tenantID, appID, ref string) (FederatedIdentityCredential, error) {
	app, err := d.Application(ctx, tenantID, appID)
	if err != nil {
		return FederatedIdentityCredential{}, err
	}
	i := findFederated(app.FederatedIdentityCredentials, ref)
	if i < 0 {
		return FederatedIdentityCredential{}, federatedNotFound(app.AppID, ref)
	}
	return app.FederatedIdentityCredentials[i], nil
}

// UpdateFederatedCredential changes the application's federated identity
// credential with the id or name ref and returns it as changed.
func (d *Directory) UpdateFederatedCredential(ctx context.Context, tenantID, appID, ref string, patch FederatedCredentialPatch) (FederatedIdentityCredential, error) {
	var out FederatedIdentityCredential
	err := d.updateApplication(ctx, tenantID, appID, func(doc *applicationDoc) error {
		i := findFederated(doc.FederatedIdentityCredentials, ref)
		if i < 0 {
			return federatedNotFound(doc.AppID, ref)
		}
		c := doc.FederatedIdentityCredentials[i]
		if patch.Issuer != nil {
			c.Issuer = *patch.Issuer
		}
		if patch.Subject != nil {
			c.Subject = *patch.Subject
		}
		if patch.Audiences != nil {
			c.Audiences = slices.Clone(*patch.Audiences)
		}
		if patch.Description != nil {
			c.Description = *patch.Description
		}
		if err := checkFederatedCredential(c); err != nil {
			return err
		}
		if err := checkFederatedUnique(doc.AppID, doc.FederatedIdentityCredentials, c, i); err != nil {
			return err
		}
		doc.FederatedIdentityCredentials[i] = c
		out = c
		return nil
	})
	return out, err
}

// RemoveFederatedCredential deletes the application's federated identity
// credential with the id or name ref. Tokens obtained with it stay valid
// until they expire, as in Entra.
func (d *Directory) RemoveFederatedCredential(ctx context.Context, tenantID, appID, ref string) error {
	return d.updateApplication(ctx, tenantID, appID, func(doc *applicationDoc) error {
		i := findFederated(doc.FederatedIdentityCredentials, ref)
		if i < 0 {
			return federatedNotFound(doc.AppID, ref)
		}
		doc.FederatedIdentityCredentials = slices.Delete(doc.FederatedIdentityCredentials, i, i+1)
		return nil
	})
}
