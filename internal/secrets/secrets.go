// Package secrets encrypts the secret values Perimeter keeps in its store,
// such as account keys, with a master key kept outside the database: a copy
// of the database alone reveals no secret. Replicas sharing a PostgreSQL
// store must share the master key file too.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/perimeterhq/perimeter/internal/atomicfile"
)

// KeyFile is the default name of the master key file in the data directory.
const KeyFile = "master.key"

// prefix marks the format of sealed values, so it can change later.
const prefix = "v1:"

// ErrOpen is returned when a sealed value cannot be opened: wrong key,
// wrong context, or tampered data.
var ErrOpen = errors.New("secrets: cannot open sealed value")

// Box seals and opens values with one master key. It is safe for concurrent
// use.
type Box struct {
	aead  cipher.AEAD
	keyID string
}

// LoadOrCreate reads the master key at path, creating a new random one
// (mode 0600) if the file does not exist. A file that exists but does not
// hold a key is an error, never replaced: replacing it would make every
// sealed value unreadable.
func LoadOrCreate(path string) (*Box, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		enc := base64.StdEncoding.EncodeToString(raw) + "\n"
		if err := atomicfile.Write(path, []byte(enc), 0o600); err != nil {
			return nil, fmt.Errorf("write master key: %w", err)
		}
		return New(raw)
	}
	if err != nil {
		return nil, fmt.Errorf("read master key %s: %w", path, err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("master key %s must hold 32 bytes in base64; restore the original file (sealed secrets cannot be read without it)", path)
	}
	return New(raw)
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secrets: master key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("perimeter key id\x00"), key...))
	return &Box{aead: aead, keyID: hex.EncodeToString(sum[:4])}, nil
}

// Seal encrypts plaintext bound to context (for example the resource id and
// field name), so a sealed value copied to another resource does not open.
func (b *Box) Seal(plaintext []byte, context string) string {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("secrets: no randomness: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	sealed := b.aead.Seal(nonce, nonce, plaintext, []byte(context))
	return prefix + b.keyID + ":" + base64.RawURLEncoding.EncodeToString(sealed)
}

// Open decrypts a value sealed with the same key and context.
func (b *Box) Open(sealed, context string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return nil, fmt.Errorf("%w: unknown format", ErrOpen)
	}
	keyID, data, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, fmt.Errorf("%w: malformed", ErrOpen)
	}
	if keyID != b.keyID {
		return nil, fmt.Errorf("%w: sealed with master key %s, this is %s", ErrOpen, keyID, b.keyID)
	}
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return nil, fmt.Errorf("%w: malformed", ErrOpen)
	}
	n := b.aead.NonceSize()
	out, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(context))
	if err != nil {
		return nil, fmt.Errorf("%w: wrong key, wrong context or tampered", ErrOpen)
	}
	return out, nil
}
