package tlsca

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadOrCreateCreatesOnceAndReloads(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	if got, want := first.CertPath(), filepath.Join(dir, CertFile); got != want {
		t.Errorf("CertPath = %q, want %q", got, want)
	}
	for name, want := range map[string]os.FileMode{CertFile: 0o644, KeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", name, got, want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("data dir holds %d entries, want only %s and %s (no temporary files left)", len(entries), CertFile, KeyFile)
	}

	c := first.Certificate()
	if c.Subject.CommonName != "Perimeter Local CA" || !c.IsCA {
		t.Errorf("CA subject %q IsCA %v", c.Subject.CommonName, c.IsCA)
	}
	if years := c.NotAfter.Sub(c.NotBefore).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("CA validity %.2f years, want 10", years)
	}

	certPEM, _ := os.ReadFile(first.CertPath())
	second, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatalf("second LoadOrCreate: %v", err)
	}
	if !second.Certificate().Equal(first.Certificate()) {
		t.Fatal("restart produced a different CA")
	}
	after, _ := os.ReadFile(second.CertPath())
	if !bytes.Equal(certPEM, after) {
		t.Fatal("restart rewrote ca.pem")
	}
	// A leaf signed after the restart chains to the CA loaded before it.
	leaf, err := second.ServerCertificate([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: first.Pool(), DNSName: "localhost"}); err != nil {
		t.Fatalf("leaf from reloaded CA not trusted by original pool: %v", err)
	}
}

func TestLoadOrCreateRefusesDamagedPair(t *testing.T) {
	other := t.TempDir()
	if _, err := LoadOrCreate(other); err != nil {
		t.Fatal(err)
	}
	otherKey, _ := os.ReadFile(filepath.Join(other, KeyFile))
	otherCert, _ := os.ReadFile(filepath.Join(other, CertFile))

	tests := []struct {
		name     string
		damage   func(dir string) error
		wantFile string
	}{
		{"corrupt cert", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, CertFile), []byte("not a pem"), 0o644)
		}, CertFile},
		{"truncated cert", func(dir string) error {
			data, _ := os.ReadFile(filepath.Join(dir, CertFile))
			return os.WriteFile(filepath.Join(dir, CertFile), data[:len(data)/2], 0o644)
		}, CertFile},
		{"corrupt key", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, KeyFile), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
		}, KeyFile},
		{"key of another CA", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, KeyFile), otherKey, 0o600)
		}, KeyFile},
		{"cert of another CA", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, CertFile), otherCert, 0o644)
		}, CertFile},
		{"key missing", func(dir string) error {
			return os.Remove(filepath.Join(dir, KeyFile))
		}, KeyFile},
		{"cert missing", func(dir string) error {
			return os.Remove(filepath.Join(dir, CertFile))
		}, CertFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := LoadOrCreate(dir); err != nil {
				t.Fatal(err)
			}
			if err := tt.damage(dir); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			_, err := LoadOrCreate(dir)
			if err == nil {
				t.Fatal("LoadOrCreate accepted a damaged CA")
			}
			if !strings.Contains(err.Error(), tt.wantFile) {
				t.Errorf("error %q does not name %s", err, tt.wantFile)
			}
			if after := snapshot(t, dir); after != before {
				t.Error("LoadOrCreate changed the files of a damaged CA")
			}
		})
	}
}

func TestLoadOrCreateRefusesExpiredCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Re-sign the CA with a validity that ended yesterday, same key.
	tmpl := *ca.cert
	tmpl.NotBefore = time.Now().Add(-48 * time.Hour)
	tmpl.NotAfter = time.Now().Add(-24 * time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, ca.key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, CertFile), "CERTIFICATE", der)
	if _, err := LoadOrCreate(dir); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("LoadOrCreate on an expired CA: err = %v, want expiry error", err)
	}
}

func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, name := range []string{CertFile, KeyFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		b.WriteString(name + ":" + string(data) + "\n")
	}
	return b.String()
}
