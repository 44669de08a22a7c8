package identity

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The signing keys of external OpenID Connect issuers, which federated
// identity credentials trust: each issuer's discovery document
// ({issuer}/.well-known/openid-configuration) names its JWKS (jwks_uri),
// whose keys verify the issuer's tokens.
//
// Only issuers that an application's credential names are ever contacted
// (the token endpoint matches a credential before it asks for keys), only
// over https, at addresses FederationTransport allows, with a timeout and
// a size limit, and the answers (failures too) are cached per issuer so
// that token requests do not each cost two round trips.

// Tuning of the cache. The TTL bounds how long a key the issuer has
// withdrawn is still accepted; an unknown kid refetches sooner (key
// rotation), but at most once per minRefetch, so that tokens with made-up
// kids cannot make Perimeter hammer the issuer.
const (
	oidcKeysTTL        = 10 * time.Minute
	oidcMinRefetch     = 30 * time.Second
	oidcFetchTimeout   = 10 * time.Second
	oidcMaxBody        = 256 << 10
	oidcMaxIssuers     = 256
	oidcMaxKeys        = 100
	oidcMaxRedirects   = 3
	minRSAKeyBits      = 2048
	maxRSAKeyBits      = 8192
	wellKnownOIDConfig = "/.well-known/openid-configuration"
)

// errOIDCFetch marks a failure to get an issuer's keys (unreachable, bad
// answer): the token endpoint answers it apart from a bad token.
var errOIDCFetch = errors.New("identity: cannot fetch the issuer's keys")

// jwkKey is one usable key of a JWKS.
type jwkKey struct {
	kid string
	alg string // "" when the JWK does not restrict it
	key crypto.PublicKey
}

// keySet is an issuer's published keys, in published order. Immutable.
type keySet []jwkKey

// find returns the key for a token's kid and alg. A token without a kid
// matches only when exactly one key fits the algorithm.
func (s keySet) find(kid, alg string) (crypto.PublicKey, bool) {
	var found []crypto.PublicKey
	for _, k := range s {
		if kid != "" && k.kid != kid {
			continue
		}
		if (k.alg != "" && k.alg != alg) || !keyFitsAlg(k.key, alg) {
			continue
		}
		found = append(found, k.key)
	}
	if len(found) != 1 {
		return nil, false
	}
	return found[0], true
}

// keyFitsAlg reports whether a key can verify alg, so that a token cannot
// pick a verification the key was not published for.
func keyFitsAlg(key crypto.PublicKey, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	}
	return false
}

// oidcKeys caches the key sets of external issuers. It is safe for
// concurrent use; concurrent requests for one issuer share one fetch.
type oidcKeys struct {
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	issuers map[string]*issuerEntry
}

// issuerEntry is one issuer's cached keys; its fields are guarded by
// oidcKeys.mu.
type issuerEntry struct {
	keys    keySet
	fetched time.Time // of keys; zero before the first success
	tried   time.Time // of the last fetch, successful or not
	failed  error     // of the last fetch, nil when it succeeded
	used    time.Time // for eviction
	flight  *keyFetch // the fetch in progress, if any
}

// keyFetch is one fetch that several requests may wait for.
type keyFetch struct {
	done chan struct{}
	keys keySet // set before done is closed
	err  error
}

// newOIDCKeys returns a cache fetching with client (nil: one with
// FederationTransport's policy and the system's roots). Redirects are followed only to https URLs, whatever
// the client.
func newOIDCKeys(client *http.Client, now func() time.Time) *oidcKeys {
	c := &http.Client{Transport: FederationTransport(nil, nil)}
	if client != nil {
		*c = *client // a copy: the caller's client keeps its own redirect policy
	}
	if c.Timeout == 0 || c.Timeout > oidcFetchTimeout {
		c.Timeout = oidcFetchTimeout
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > oidcMaxRedirects {
			return fmt.Errorf("more than %d redirects", oidcMaxRedirects)
		}
		if req.URL.Scheme != "https" {
			return fmt.Errorf("redirect to %s, which is not https", req.URL.Redacted())
		}
		return nil
	}
	return &oidcKeys{client: c, now: now, issuers: map[string]*issuerEntry{}}
}

// key returns the issuer's key for a token's kid and alg. A kid the cached
// set lacks triggers one refetch (the issuer may have rotated its keys);
// errUnknownKey if it is still missing. Errors wrapping errOIDCFetch mean
// the keys could not be fetched: the caller fails closed.
func (o *oidcKeys) key(ctx context.Context, issuer, kid, alg string) (crypto.PublicKey, error) {
	set, err := o.keySet(ctx, issuer, false)
	if err != nil {
		return nil, err
	}
	if k, ok := set.find(kid, alg); ok {
		return k, nil
	}
	set, err = o.keySet(ctx, issuer, true)
	if err != nil {
		return nil, err
	}
	if k, ok := set.find(kid, alg); ok {
		return k, nil
	}
	return nil, errUnknownKey
}

// keySet returns the issuer's keys: cached ones while fresh, else those
// of a fetch (started here, or joined if one is in progress). With
// refresh, keys fetched more than oidcMinRefetch ago are not fresh.
func (o *oidcKeys) keySet(ctx context.Context, issuer string, refresh bool) (keySet, error) {
	o.mu.Lock()
	now := o.now()
	e := o.entryLocked(issuer, now)
	age := now.Sub(e.fetched)
	if !e.fetched.IsZero() && age < oidcKeysTTL && (!refresh || age < oidcMinRefetch) {
		keys := e.keys
		o.mu.Unlock()
		return keys, nil
	}
	f := e.flight
	if f == nil && now.Sub(e.tried) < oidcMinRefetch {
		// Fetched or failed moments ago: another fetch would find nothing
		// new and only load the issuer. A failure is remembered, so that
		// tokens naming an unreachable issuer cannot each cost a fetch.
		if e.failed != nil && (e.fetched.IsZero() || age >= oidcKeysTTL) {
			err := e.failed
			o.mu.Unlock()
			return nil, err
		}
		if refresh {
			keys := e.keys
			o.mu.Unlock()
			return keys, nil
		}
	}
	if f == nil {
		f = &keyFetch{done: make(chan struct{})}
		e.flight, e.tried = f, now
		go o.fetch(issuer, e, f)
	}
	o.mu.Unlock()
	select {
	case <-f.done:
		return f.keys, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// entryLocked returns the issuer's entry, making room for a new one by
// evicting the least recently used. o.mu must be held.
func (o *oidcKeys) entryLocked(issuer string, now time.Time) *issuerEntry {
	if e, ok := o.issuers[issuer]; ok {
		e.used = now
		return e
	}
	if len(o.issuers) >= oidcMaxIssuers {
		var oldest string
		for iss, e := range o.issuers {
			if oldest == "" || e.used.Before(o.issuers[oldest].used) {
				oldest = iss
			}
		}
		// A fetch in progress for it still completes for its waiters.
		delete(o.issuers, oldest)
	}
	e := &issuerEntry{used: now}
	o.issuers[issuer] = e
	return e
}

// fetch gets the issuer's keys, detached from any one request (a caller
// that gives up does not fail the others waiting), records them and
// releases the waiters.
func (o *oidcKeys) fetch(issuer string, e *issuerEntry, f *keyFetch) {
	ctx, cancel := context.WithTimeout(context.Background(), oidcFetchTimeout)
	defer cancel()
	keys, err := o.download(ctx, issuer)
	o.mu.Lock()
	if err == nil {
		e.keys, e.fetched = keys, o.now()
	}
	e.failed, e.flight = err, nil
	o.mu.Unlock()
	f.keys, f.err = keys, err
	close(f.done)
}

// download reads the discovery document, then the JWKS it names.
func (o *oidcKeys) download(ctx context.Context, issuer string) (keySet, error) {
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	raw, err := o.get(ctx, strings.TrimSuffix(issuer, "/")+wellKnownOIDConfig)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("%w: the discovery document of %s is not JSON: %v", errOIDCFetch, issuer, err)
	}
	// OpenID Connect Discovery §4.3: a document for another issuer must
	// not be used, or one issuer could vouch for another's tokens.
	if meta.Issuer != issuer {
		return nil, fmt.Errorf("%w: the discovery document of %s names the issuer %q", errOIDCFetch, issuer, meta.Issuer)
	}
	if u, err := url.Parse(meta.JWKSURI); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%w: the jwks_uri %q of %s is not an https URL", errOIDCFetch, meta.JWKSURI, issuer)
	}
	raw, err = o.get(ctx, meta.JWKSURI)
	if err != nil {
		return nil, err
	}
	keys, err := parseJWKS(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: the keys of %s at %s: %v", errOIDCFetch, issuer, meta.JWKSURI, err)
	}
	return keys, nil
}

// get fetches an https URL, answering errOIDCFetch for anything but a 200
// with a body of at most oidcMaxBody bytes.
func (o *oidcKeys) get(ctx context.Context, rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" {
		return nil, fmt.Errorf("%w: %q is not an https URL", errOIDCFetch, rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errOIDCFetch, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errOIDCFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s answered %s", errOIDCFetch, u.Redacted(), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, oidcMaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v", errOIDCFetch, u.Redacted(), err)
	}
	if len(body) > oidcMaxBody {
		return nil, fmt.Errorf("%w: GET %s answered more than %d bytes", errOIDCFetch, u.Redacted(), oidcMaxBody)
	}
	return body, nil
}

// jwk is a JSON Web Key (RFC 7517, 7518) as far as verification needs it.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	// RSA
	N string `json:"n"`
	E string `json:"e"`
	// EC
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS reads a JWK Set and keeps the keys that can verify signatures:
// RSA keys of 2048 to 8192 bits and EC keys on P-256, P-384 or P-521.
// Encryption keys and key types it does not know are skipped (an issuer
// may publish them); a set with no usable key is an error.
func parseJWKS(raw []byte) (keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %v", err)
	}
	if len(doc.Keys) > oidcMaxKeys {
		return nil, fmt.Errorf("%d keys, more than %d", len(doc.Keys), oidcMaxKeys)
	}
	var set keySet
	for _, rawKey := range doc.Keys {
		var k jwk
		if json.Unmarshal(rawKey, &k) != nil || (k.Use != "" && k.Use != "sig") {
			continue
		}
		pub, err := k.publicKey()
		if err != nil {
			continue
		}
		set = append(set, jwkKey{kid: k.Kid, alg: k.Alg, key: pub})
	}
	if len(set) == 0 {
		return nil, errors.New("no RSA (2048 bits or more) or EC (P-256, P-384, P-521) signing key")
	}
	return set, nil
}

func (k jwk) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		return k.rsaKey()
	case "EC":
		return k.ecKey()
	}
	return nil, fmt.Errorf("key type %q", k.Kty)
}

func (k jwk) rsaKey() (*rsa.PublicKey, error) {
	n, err := base64.RawURLEncoding.DecodeString(k.N)
	if err != nil || len(n) == 0 || n[0] == 0 {
		return nil, errors.New("bad modulus")
	}
	e, err := base64.RawURLEncoding.DecodeString(k.E)
	if err != nil || len(e) == 0 || len(e) > 4 || e[0] == 0 {
		return nil, errors.New("bad exponent")
	}
	var exp int
	for _, b := range e {
		exp = exp<<8 | int(b)
	}
	mod := new(big.Int).SetBytes(n)
	if bits := mod.BitLen(); bits < minRSAKeyBits || bits > maxRSAKeyBits {
		return nil, fmt.Errorf("RSA key of %d bits", bits)
	}
	if exp < 3 || exp%2 == 0 {
		return nil, errors.New("bad exponent")
	}
	return &rsa.PublicKey{N: mod, E: exp}, nil
}

func (k jwk) ecKey() (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch k.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("curve %q", k.Crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	x, errX := base64.RawURLEncoding.DecodeString(k.X)
	y, errY := base64.RawURLEncoding.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != size || len(y) != size {
		return nil, errors.New("bad coordinates")
	}
	// ParseUncompressedPublicKey checks that the point is on the curve.
	return ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
}
