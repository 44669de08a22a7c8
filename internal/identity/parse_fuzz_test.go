package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"slices"
	"strings"
	"testing"
)

// FuzzParseFilter: no $filter makes the parser panic, and an accepted one
// tests only a filterable property.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"displayName eq 'a'", "startswith(displayName,'a''b')", "appId eq ''", "x eq 'y'", "displayName eq 'a' and x eq 'b'", "startswith(", "'", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		keep, err := parseFilter(filter, []string{"displayName"})
		if err != nil {
			return
		}
		// Only displayName is read: other properties cannot decide.
		a := keep(map[string]string{"displayName": "", "other": filter})
		b := keep(map[string]string{"displayName": "", "other": ""})
		if a != b {
			t.Fatalf("filter %q depends on a property it may not test", filter)
		}
	})
}

// FuzzParseObjectRef: an accepted reference always yields a canonical GUID
// and a known kind.
func FuzzParseObjectRef(f *testing.F) {
	for _, s := range []string{
		"https://graph.microsoft.com/v1.0/directoryObjects/0d2b3f8c-1e4a-4f6b-9c2d-3e4f5a6b7c8d",
		"/v1.0/users/0D2B3F8C-1E4A-4F6B-9C2D-3E4F5A6B7C8D", "directoryObjects/x", "https://h/v1.0/groups/../x", "%zz", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		id, kind, ok := parseObjectRef(ref)
		if !ok {
			return
		}
		if c, isGUID := canonicalGUID(id); !isGUID || c != id {
			t.Fatalf("%q gave id %q", ref, id)
		}
		if kind != "" && objectTypeNames[kind] == "" {
			t.Fatalf("%q gave kind %q", ref, kind)
		}
	})
}

// FuzzUserPrincipalName: an accepted UPN is short, has one @, and nothing
// that could reach outside its store id.
func FuzzUserPrincipalName(f *testing.F) {
	for _, s := range []string{"alice@contoso.com", "a.b@c", "a@b@c", "../x@y", "a@-b", " bob@contoso.com ", "é@x.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, upn string) {
		got, err := checkUserPrincipalName(upn)
		if err != nil {
			return
		}
		if len(got) > maxUPNLength || strings.Count(got, "@") != 1 || strings.ContainsAny(got, "/\\?% \t\n") || strings.Contains(got, "..") {
			t.Fatalf("accepted %q", got)
		}
	})
}

// FuzzReadAssertion: no client assertion makes the reader panic, and an
// accepted one has an asymmetric algorithm and every claim the checks
// after it rely on.
func FuzzReadAssertion(f *testing.F) {
	for _, s := range []string{
		// {"alg":"RS256","kid":"k"}.{"iss":"https://i","sub":"s","aud":"a","iat":1,"exp":2}.sig
		"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJodHRwczovL2kiLCJzdWIiOiJzIiwiYXVkIjoiYSIsImlhdCI6MSwiZXhwIjoyfQ.c2ln",
		// alg none, aud array
		"eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2kiLCJzdWIiOiJzIiwiYXVkIjpbImEiXSwiaWF0IjoxLCJleHAiOjJ9.",
		"a.b.c", "..", "", "eyJ9.e30.", "not a jwt",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		a, err := readAssertion(raw, asUserGrant)
		if err != nil {
			return
		}
		c := a.claims
		if !slices.Contains(assertionAlgs, a.alg) || c.Issuer == "" || c.Subject == "" || len(c.Audience) == 0 ||
			c.ExpiresAt == nil || c.IssuedAt == nil || c.ExpiresAt.Sub(c.IssuedAt.Time) > maxAssertionLifetime {
			t.Fatalf("accepted %q: alg %q, claims %+v", raw, a.alg, c)
		}
	})
}

// FuzzParseJWKS: no JWK Set makes the parser panic, and every key it
// accepts is one a signature may be verified with.
func FuzzParseJWKS(f *testing.F) {
	for _, s := range []string{
		`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`,
		`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"RSA","use":"enc"}]}`, `{"keys":null}`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		set, err := parseJWKS(raw)
		if err != nil {
			return
		}
		if len(set) == 0 || len(set) > oidcMaxKeys {
			t.Fatalf("accepted %d keys", len(set))
		}
		for _, k := range set {
			switch pub := k.key.(type) {
			case *rsa.PublicKey:
				if b := pub.N.BitLen(); b < minRSAKeyBits || b > maxRSAKeyBits || pub.E < 3 || pub.E%2 == 0 {
					t.Fatalf("accepted an RSA key of %d bits, e=%d", b, pub.E)
				}
			case *ecdsa.PublicKey:
				if c := pub.Curve; c != elliptic.P256() && c != elliptic.P384() && c != elliptic.P521() {
					t.Fatalf("accepted a key on %v", c.Params().Name)
				}
			default:
				t.Fatalf("accepted a %T", pub)
			}
		}
	})
}
