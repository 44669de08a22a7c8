package identity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateSigningKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateSigningKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, SigningKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only the key", len(entries))
	}
	k2, err := LoadOrCreateSigningKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k1.KeyID() != k2.KeyID() || !k1.PublicKey().Equal(k2.PublicKey()) {
		t.Fatal("restart loaded a different signing key")
	}
	if len(k1.KeyID()) != 43 {
		t.Errorf("kid %q is not a base64url SHA-256", k1.KeyID())
	}
}

func TestLoadOrCreateSigningKeyRefusesDamagedFile(t *testing.T) {
	for name, tc := range map[string]struct{ content, why string }{
		"garbage":   {"not a key", "no PEM"},
		"truncated": {"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----\n", "asn1"},
		"RSA key":   {rsaKeyPEM, "want an ECDSA P-256 key"},
	} {
		content := tc.content
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, SigningKeyFile)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateSigningKey(dir)
			if err == nil || !strings.Contains(err.Error(), SigningKeyFile) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("err = %v, want an error naming %s and saying %q", err, SigningKeyFile, tc.why)
			}
			if got, _ := os.ReadFile(path); string(got) != content {
				t.Fatal("damaged key file was replaced")
			}
		})
	}
}

// TestKeyIDIsJWKThumbprint checks the kid against an RFC 7638 thumbprint
// computed outside Go (openssl for the key, Python's hashlib for the hash).
func TestKeyIDIsJWKThumbprint(t *testing.T) {
	const keyPEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjS/yC0Z9fYKZt5kC
UPgC962/HCIdGOgraNBZdslYckehRANCAAS5poSZwQtJNr+G0SOZNkpZ+SEtpTcp
WDQQc2043lfyMGL2PcFJTWc7+U+JzrlSXYV7M8J2sq9YVi/S3YiQMDKT
-----END PRIVATE KEY-----
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SigningKeyFile), []byte(keyPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadOrCreateSigningKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	jwk := k.JWK()
	want := JWK{
		Kty: "EC", Use: "sig", Alg: "ES256", Crv: "P-256",
		Kid: "nPNKRhnGfC6y1xh92zY-kl7N0EaXw-614mBDqGxtE-4",
		X:   "uaaEmcELSTa_htEjmTZKWfkhLaU3KVg0EHNtON5X8jA",
		Y:   "YvY9wUlNZzv5T4nOuVJdhXszwnayr1hWL9LdiJAwMpM",
	}
	if jwk != want {
		t.Errorf("JWK = %+v\nwant  %+v", jwk, want)
	}
	if k.KeyID() != want.Kid {
		t.Errorf("KeyID = %q, want %q", k.KeyID(), want.Kid)
	}
}

const rsaKeyPEM = `-----BEGIN PRIVATE KEY-----
MIICeAIBADANBgkqhkiG9w0BAQEFAASCAmIwggJeAgEAAoGBAOwj55IVbndm/glQ
hDw9bZO8uUf9ixqYQ4hyjaUqzLQZFSjb/NntGsKb1CJLGboZeg7mtbOZSVicRMbp
ONWqTSyDaAgijFkNxNQpz3KZ8uVlWWi43NVt02s55aaYOTXwQy4D/PdOIZq/A1Ln
swBBy5xGudDtZ+W6I1jw4edHT92XAgMBAAECgYEArxETXmdLJXSSw78QukRkV5Ij
3u5m0YmvD5q1zozDhIXP/SHS/JHfNAYpKF97LFA1AJUkgokTKoF4L+u5+hYu7XPF
VGMPtn/w0yP5dv2EtBKT6iD0DOj2tb/PDqeJ1XOrarngoMJ5YF5KqwvaFvBKEXan
+BvXSRww/3KUDZQ607ECQQD57z5vTuxjSff7rs8kSPIRJq/mK2TuGMEf5pPcPC5C
nmaLDYZpAWYvrKy6ReFSkZHGjzqUvWqMEG7NlVwwZs45AkEA8d72KDV/QaXwK+Pq
JbML+a8MZ328iMstv134CJ84+gscEtUtbR2I6VYayo9WknJXK3t6Buq5oTWUoZN4
78gKTwJASCpfQa5tLOIPu1knMFfrpS4hffkrpF/7a2WdbermhI/OFfpqw+kGg199
ZC+HNtsXV1jF1mq22AhqpeupecRFaQJBAIjby1dnJfGkjmiXVxcr37vRU+h/Wh3h
MaqV5lIinh/GB4WUgFa8norBgPla7/Z/olllTd/6Ez1nzwk6I/UxsLsCQQDQ7L+C
crepnUG/DKMj45HHhfzOP3R8z1LqvJTlz31CV7oAdHnevzE0SmCfR140GqUiS4uc
ca/aVNNodbGvm80c
-----END PRIVATE KEY-----
`
