package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/perimeterhq/perimeter/internal/atomicfile"
)

// SigningKeyFile is the name of the token signing key in the data directory.
const SigningKeyFile = "token-signing-key.pem"

// SigningKey is the ES256 (ECDSA P-256) key that signs tokens. It is
// immutable and safe for concurrent use.
type SigningKey struct {
	private *ecdsa.PrivateKey
	jwk     JWK
}

// JWK is the public half of a signing key as a JSON Web Key (RFC 7517), the
// shape published in the JWKS.
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	// Issuer is set in tenant-specific key sets, as Entra does, so that
	// validators can tie the key to the issuer.
	Issuer string `json:"issuer,omitempty"`
}

// LoadOrCreateSigningKey returns the key kept at dir/token-signing-key.pem,
// creating it (mode 0600, written atomically) on first use. Tokens issued
// before a restart must stay valid after it, so an existing file that does
// not hold a P-256 key is an error naming the file, never replaced.
func LoadOrCreateSigningKey(dir string) (*SigningKey, error) {
	path := filepath.Join(dir, SigningKeyFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := parseSigningKey(data)
		if err != nil {
			return nil, fmt.Errorf("identity: %s: %w", path, err)
		}
		return newSigningKey(key)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("identity: read signing key: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("identity: encode signing key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: create data directory: %w", err)
	}
	if err := atomicfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return newSigningKey(key)
}

func parseSigningKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM PRIVATE KEY block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("key is %T, want an ECDSA P-256 key", parsed)
	}
	return key, nil
}

func newSigningKey(key *ecdsa.PrivateKey) (*SigningKey, error) {
	point, err := key.PublicKey.Bytes() // 0x04 || X || Y, each 32 bytes
	if err != nil {
		return nil, fmt.Errorf("identity: signing key: %w", err)
	}
	enc := base64.RawURLEncoding
	x, y := enc.EncodeToString(point[1:33]), enc.EncodeToString(point[33:])
	// RFC 7638: the thumbprint hashes the required members, in
	// lexicographic order, with no whitespace. x and y hold only base64url
	// characters, so plain concatenation is the canonical JSON.
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return &SigningKey{
		private: key,
		jwk: JWK{
			Kty: "EC", Use: "sig", Alg: "ES256", Crv: "P-256",
			Kid: enc.EncodeToString(sum[:]), X: x, Y: y,
		},
	}, nil
}

// KeyID is the key's "kid": its RFC 7638 JWK thumbprint (SHA-256,
// base64url), stable across restarts because it derives from the key.
func (k *SigningKey) KeyID() string { return k.jwk.Kid }

// PublicKey returns the public half of the key.
func (k *SigningKey) PublicKey() *ecdsa.PublicKey { return &k.private.PublicKey }

// JWK returns the public key as a JSON Web Key.
func (k *SigningKey) JWK() JWK { return k.jwk }
