// Package tlsca is Perimeter's local certificate authority. It creates one
// ECDSA P-256 CA in the data directory on first start (ca.pem, ca-key.pem),
// loads the same pair on every later start, and signs short-lived server
// certificates for the HTTPS listeners in memory. Operators trust ca.pem once
// (it is named in ready.json) and every listener certificate follows.
package tlsca
