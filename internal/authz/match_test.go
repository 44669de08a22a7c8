package authz

import (
	"strings"
	"testing"
)

func TestMatchAction(t *testing.T) {
	const chat = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
	tests := []struct {
		pattern, action string
		want            bool
	}{
		// No wildcard: whole-string equality, any casing.
		{"Microsoft.CognitiveServices/accounts/read", "Microsoft.CognitiveServices/accounts/read", true},
		{"Microsoft.CognitiveServices/accounts/read", "microsoft.cognitiveservices/ACCOUNTS/READ", true},
		{"microsoft.cognitiveservices/accounts/listkeys/action", "Microsoft.CognitiveServices/accounts/listKeys/action", true},
		{"Microsoft.CognitiveServices/accounts/read", "Microsoft.CognitiveServices/accounts/read/x", false},
		{"Microsoft.CognitiveServices/accounts/read", "Microsoft.CognitiveServices/accounts/rea", false},
		{"Microsoft.CognitiveServices/accounts/read", "", false},
		// "*" alone matches everything.
		{"*", "Microsoft.Authorization/roleAssignments/write", true},
		{"*", chat, true},
		// Trailing wildcard crosses "/".
		{"Microsoft.CognitiveServices/*", chat, true},
		{"Microsoft.CognitiveServices/*", "MICROSOFT.COGNITIVESERVICES/accounts/write", true},
		{"Microsoft.CognitiveServices/*", "Microsoft.CognitiveServicesX/accounts/write", false},
		{"Microsoft.CognitiveServices/*", "Microsoft.CognitiveServices", false},
		{"Microsoft.CognitiveServices/accounts/OpenAI/assistants/*", "Microsoft.CognitiveServices/accounts/OpenAI/assistants/threads/runs/write", true},
		// Leading wildcard.
		{"*/read", "Microsoft.Storage/storageAccounts/read", true},
		{"*/read", "Microsoft.Storage/storageAccounts/READ", true},
		{"*/read", "Microsoft.CognitiveServices/accounts/listKeys/action", false},
		{"*/read", "Microsoft.Storage/storageAccounts/readers/write", false},
		{"*/read", "Microsoft.Storage/storageAccounts/unread", false},
		{"*/read", "read", false},
		// Middle wildcard: at least the two slashes around it.
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write", true},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/policies/exemptions/write", true},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/write", false},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/read", false},
		{"Microsoft.CognitiveServices/accounts/*/read", "Microsoft.CognitiveServices/accounts/projects/read", true},
		{"Microsoft.CognitiveServices/accounts/*/read", "Microsoft.CognitiveServices/accounts/read", false},
		{"Microsoft.CognitiveServices/accounts/OpenAI/*/read", "Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read", true},
		{"Microsoft.CognitiveServices/*/read", "Microsoft.CognitiveServices/accounts/read", true},
		{"Microsoft.CognitiveServices/*/read", "Microsoft.Storage/accounts/read", false},
		// Several wildcards, partial segments, overlaps.
		{"a*b*c", "abc", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "AXXBYYC", true},
		{"Microsoft.Foo/*/roleAssignments/*", "MICROSOFT.FOO/x/ROLEASSIGNMENTS/write", true},
		{"a*b*c", "acb", false},
		{"a*b*c", "ac", false},
		{"*b*", "abc", true},
		{"*b*", "ac", false},
		{"**", "", true},
		{"ab*ba", "aba", false},
		{"ab*ba", "abba", true},
		{"a*ab", "aab", true},
		{"*ab*ab", "xabyab", true},
		{"*ab*ab", "xab", false},
		{"Micro*/accounts/read", "Microsoft.CognitiveServices/accounts/read", true},
		// Only ASCII folds: the Kelvin sign is not a "k".
		{"Microsoft.K/x", "Microsoft.\u212a/x", false},
		{"Microsoft.ä/x", "Microsoft.Ä/x", false},
	}
	for _, tt := range tests {
		if got := MatchAction(tt.pattern, tt.action); got != tt.want {
			t.Errorf("MatchAction(%q, %q) = %v, want %v", tt.pattern, tt.action, got, tt.want)
		}
	}
}

func TestScopeCovers(t *testing.T) {
	const (
		sub     = "/subscriptions/s"
		rg      = sub + "/resourceGroups/rg"
		account = rg + "/providers/Microsoft.CognitiveServices/accounts/a"
		project = account + "/projects/p"
	)
	tests := []struct {
		scope, target string
		want          bool
	}{
		{"/", "/", true},
		{"/", "", true},
		{"", "/", true},
		{"/", sub, true},
		{"/", project, true},
		{sub, sub, true},
		{sub, sub + "/", true},
		{sub + "/", sub, true},
		{sub + "//", project, true},
		{sub, "/SUBSCRIPTIONS/S/resourcegroups/RG", true},
		{"/Subscriptions/S", project, true},
		{sub, "/subscriptions/sa", false},
		{sub, "/subscriptions", false},
		{sub, "/", false},
		{sub, "", false},
		{sub, "/subscriptions/t/resourceGroups/rg", false},
		{rg, rg + "2", false},
		{rg, rg + "-other/providers/x", false},
		{rg, account, true},
		{account, project, true},
		{account, account + "/deployments/gpt", true},
		{account, rg + "/providers/Microsoft.CognitiveServices/accounts/ab", false},
		{account, rg + "/providers/Microsoft.CognitiveServices/accounts", false},
		{project, account, false},
		{project, account + "/projects/p2", false},
		{project, project + "/providers/Microsoft.Authorization/roleAssignments/x", true},
		{project, sub, false},
	}
	for _, tt := range tests {
		if got := ScopeCovers(tt.scope, tt.target); got != tt.want {
			t.Errorf("ScopeCovers(%q, %q) = %v, want %v", tt.scope, tt.target, got, tt.want)
		}
	}
}

// refMatch is a plain dynamic-programming wildcard matcher, the reference
// the compiled matcher must agree with.
func refMatch(pattern, s string) bool {
	p, s := asciiLower(pattern), asciiLower(s)
	// m[j] reports whether p[:i] matches s[:j], row by row.
	m := make([]bool, len(s)+1)
	m[0] = true
	for i := 0; i < len(p); i++ {
		next := make([]bool, len(s)+1)
		if p[i] == '*' {
			seen := false
			for j := 0; j <= len(s); j++ {
				seen = seen || m[j]
				next[j] = seen
			}
		} else {
			for j := 1; j <= len(s); j++ {
				next[j] = m[j-1] && p[i] == s[j-1]
			}
		}
		m = next
	}
	return m[len(s)]
}

// refCovers compares scopes segment by segment.
func refCovers(scope, target string) bool {
	norm := func(s string) []string {
		s = strings.TrimRight(asciiLower(s), "/")
		if s == "" {
			return nil // the root
		}
		return strings.Split(s, "/")
	}
	a, b := norm(scope), norm(target)
	if a == nil {
		return true
	}
	if len(b) < len(a) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// asciiLower lower-cases ASCII letters byte by byte, leaving every other
// byte (invalid UTF-8 included) as it is.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestRefMatchersAgree(t *testing.T) {
	// The references are only worth trusting if they get the obvious right.
	if !refMatch("a*c", "ABC") || refMatch("a*c", "ab") || !refMatch("*", "") {
		t.Fatal("refMatch is wrong")
	}
	if !refCovers("/a", "/A/b") || refCovers("/a", "/ab") || !refCovers("/", "/x") || refCovers("/a/b", "/a") {
		t.Fatal("refCovers is wrong")
	}
}

func FuzzMatchAction(f *testing.F) {
	f.Add("Microsoft.CognitiveServices/*", "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action")
	f.Add("*/read", "Microsoft.Storage/storageAccounts/READ")
	f.Add("Microsoft.Authorization/*/Write", "Microsoft.Authorization/write")
	f.Add("a*b*c", "aXbYc")
	f.Add("ab*ba", "aba")
	f.Add("**a*", "a")
	f.Add("Microsoft.K/x", "Microsoft.\u212a/x")
	f.Fuzz(func(t *testing.T, pattern, action string) {
		if len(pattern) > 64 || len(action) > 256 {
			return // the reference is quadratic
		}
		if got, want := MatchAction(pattern, action), refMatch(pattern, action); got != want {
			t.Fatalf("MatchAction(%q, %q) = %v, reference says %v", pattern, action, got, want)
		}
	})
}

func FuzzScopeCovers(f *testing.F) {
	f.Add("/subscriptions/s", "/subscriptions/S/resourceGroups/rg")
	f.Add("/subscriptions/s", "/subscriptions/sa")
	f.Add("/", "")
	f.Add("/a//", "/a//b")
	f.Add("a", "a/b")
	f.Fuzz(func(t *testing.T, scope, target string) {
		if got, want := ScopeCovers(scope, target), refCovers(scope, target); got != want {
			t.Fatalf("ScopeCovers(%q, %q) = %v, reference says %v", scope, target, got, want)
		}
	})
}
