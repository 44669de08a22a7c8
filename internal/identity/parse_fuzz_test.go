package identity

import (
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
