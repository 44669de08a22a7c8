// Package identity is Perimeter's built-in token issuer, shaped like
// Microsoft Entra ID so that unmodified Azure SDK clients
// (azidentity.ClientSecretCredential with a custom authority host) can sign
// in to it, and the verifier the control and data planes use to accept the
// tokens it issues.
//
// The pieces:
//
//   - SigningKey: the ES256 key that signs every token, kept in the data
//     directory and published as a JWKS.
//   - Directory: tenants and applications (clients) with their password
//     credentials, stored as documents in the store; secrets are kept only
//     as salted hashes.
//   - Issuer: the Entra-shaped HTTP endpoints (OAuth 2.0 client credentials
//     token endpoint, OpenID Connect metadata, JWKS, instance discovery) and
//     Verify, which turns a bearer token into a Principal or a refusal with a
//     reason that is safe to show the caller.
package identity
