package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFile)
	box, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed := box.Seal([]byte("key-1-value"), "/acct/a|key1")
	if strings.Contains(sealed, "key-1-value") {
		t.Fatal("plaintext visible in the sealed value")
	}
	if box.Seal([]byte("key-1-value"), "/acct/a|key1") == sealed {
		t.Error("sealing twice gave the same ciphertext: nonces are reused")
	}
	got, err := box.Open(sealed, "/acct/a|key1")
	if err != nil || string(got) != "key-1-value" {
		t.Fatalf("open: %q %v", got, err)
	}
	// The same key file opens it after a restart.
	again, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Open(sealed, "/acct/a|key1"); err != nil || string(got) != "key-1-value" {
		t.Fatalf("open after reload: %q %v", got, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("master key mode %v", fi.Mode().Perm())
	}

	other, _ := LoadOrCreate(filepath.Join(t.TempDir(), KeyFile))
	tampered := sealed[:len(sealed)-2] + "AA"
	for name, try := range map[string]func() ([]byte, error){
		"another context": func() ([]byte, error) { return box.Open(sealed, "/acct/b|key1") },
		"another key":     func() ([]byte, error) { return other.Open(sealed, "/acct/a|key1") },
		"tampered":        func() ([]byte, error) { return box.Open(tampered, "/acct/a|key1") },
		"not sealed":      func() ([]byte, error) { return box.Open("plain", "/acct/a|key1") },
		"truncated":       func() ([]byte, error) { return box.Open(sealed[:12], "/acct/a|key1") },
	} {
		if _, err := try(); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: got %v, want ErrOpen", name, err)
		}
	}
}

func TestCorruptKeyFileIsNotReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFile)
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(path); err == nil {
		t.Fatal("corrupt master key accepted")
	}
	if b, _ := os.ReadFile(path); string(b) != "not a key" {
		t.Fatal("corrupt master key was overwritten")
	}
}
