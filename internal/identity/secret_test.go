package identity

import (
	"bytes"
	"encoding/base64"
	"testing"
)

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		s, err := NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 43 {
			t.Fatalf("secret %q has %d characters, want 43", s, len(s))
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil || len(raw) != 32 {
			t.Fatalf("secret %q is not 32 bytes of base64url: %v", s, err)
		}
		if s[0] == '-' || s[0] == '_' {
			t.Fatalf("secret %q starts with %q", s, s[0])
		}
		if seen[s] {
			t.Fatalf("secret %q drawn twice", s)
		}
		seen[s] = true
	}
}

func TestSecretHash(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	salt1, hash1, err := hashSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	salt2, hash2, err := hashSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(salt1, salt2) || bytes.Equal(hash1, hash2) {
		t.Error("two hashes of one secret share salt or hash")
	}
	tests := []struct {
		name   string
		secret string
		salt   []byte
		hash   []byte
		want   bool
	}{
		{"right secret", secret, salt1, hash1, true},
		{"right secret, other salt", secret, salt2, hash2, true},
		{"salt of the other hash", secret, salt2, hash1, false},
		{"wrong secret", secret[:42] + "x", salt1, hash1, false},
		{"empty secret", "", salt1, hash1, false},
		{"prefix", secret[:20], salt1, hash1, false},
		{"truncated hash", secret, salt1, hash1[:31], false},
	}
	for _, tt := range tests {
		if got := secretMatches(tt.secret, tt.salt, tt.hash); got != tt.want {
			t.Errorf("%s: secretMatches = %v, want %v", tt.name, got, tt.want)
		}
	}
}
