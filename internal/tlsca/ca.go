package tlsca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/perimeterhq/perimeter/internal/atomicfile"
)

// File names inside the data directory. They are part of the operator
// contract (ready.json names ca.pem), so they never change.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca-key.pem"
)

const (
	caCommonName = "Perimeter Local CA"
	caValidity   = 10 // years
	// backdate covers clients whose clocks run a little behind ours.
	backdate = time.Hour
)

// CA is a loaded certificate authority. It is immutable and safe for
// concurrent use.
type CA struct {
	certPath string
	cert     *x509.Certificate
	key      crypto.Signer
}

// LoadOrCreate returns the CA kept in dir, creating it on first use. A
// restart must keep trusting clients working, so an existing pair is never
// replaced: a missing half, a file that does not parse, a key that does not
// belong to the certificate or an expired CA is an error naming the file,
// and the operator decides (restore it, or remove both files to start over).
func LoadOrCreate(dir string) (*CA, error) {
	certPath := filepath.Join(dir, CertFile)
	keyPath := filepath.Join(dir, KeyFile)
	certExists, err := exists(certPath)
	if err != nil {
		return nil, err
	}
	keyExists, err := exists(keyPath)
	if err != nil {
		return nil, err
	}
	switch {
	case certExists && keyExists:
		return load(certPath, keyPath)
	case certExists:
		return nil, fmt.Errorf("tlsca: %s exists but %s is missing: restore it, or remove %s to create a new CA", certPath, keyPath, certPath)
	case keyExists:
		return nil, fmt.Errorf("tlsca: %s exists but %s is missing: restore it, or remove %s to create a new CA", keyPath, certPath, keyPath)
	}
	return create(dir, certPath, keyPath)
}

// CertPath is the path of the CA certificate (ca.pem), the file clients
// trust.
func (ca *CA) CertPath() string { return ca.certPath }

// Certificate returns the CA certificate. Callers must not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Pool returns a new certificate pool holding only this CA, for clients that
// talk to Perimeter's listeners. Each call returns a fresh pool, so callers
// may add to it without affecting others.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("tlsca: %w", err)
	}
}

func create(dir, certPath, keyPath string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsca: create data directory: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsca: generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notBefore := time.Now().Add(-backdate)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: caCommonName, Organization: []string{"Perimeter"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(caValidity, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// The CA signs leaves only, never another CA.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("tlsca: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsca: parse new CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tlsca: encode CA key: %w", err)
	}
	// Key first: a crash between the two writes leaves a key without a
	// certificate, which LoadOrCreate reports instead of guessing.
	if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	if err := atomicfile.Write(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	return &CA{certPath: certPath, cert: cert, key: key}, nil
}

func load(certPath, keyPath string) (*CA, error) {
	cert, err := readCertificate(certPath)
	if err != nil {
		return nil, err
	}
	key, err := readPrivateKey(keyPath)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("tlsca: %s does not hold the private key of the certificate in %s", keyPath, certPath)
	}
	if !cert.IsCA || (cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0) {
		return nil, fmt.Errorf("tlsca: %s: certificate is not a CA that may sign certificates", certPath)
	}
	if time.Now().After(cert.NotAfter) {
		return nil, fmt.Errorf("tlsca: %s: CA certificate expired on %s: remove %s and %s to create a new CA", certPath, cert.NotAfter.Format(time.RFC3339), certPath, keyPath)
	}
	return &CA{certPath: certPath, cert: cert, key: key}, nil
}

func readCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("tlsca: %s: no PEM CERTIFICATE block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %s: %w", path, err)
	}
	return cert, nil
}

// readPrivateKey accepts the PKCS#8 form Perimeter writes and the SEC 1 and
// PKCS#1 forms, so an operator can drop in a CA made by other tools.
func readPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("tlsca: %s: no PEM block", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("tlsca: %s: unsupported PEM block %q", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("tlsca: %s: %w", path, err)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey:
		return k.(crypto.Signer), nil
	default:
		return nil, fmt.Errorf("tlsca: %s: unsupported key type %T", path, key)
	}
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("tlsca: generate serial number: %w", err)
	}
	return serial, nil
}
