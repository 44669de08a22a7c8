// Package identity is Perimeter's built-in directory and token issuer,
// shaped like Microsoft Entra ID and Microsoft Graph so that unmodified
// Azure SDK clients (azidentity.ClientSecretCredential and
// UsernamePasswordCredential with a custom authority host) can sign in to
// it, and the verifier the control and data planes use to accept the tokens
// it issues.
//
// The pieces:
//
//   - SigningKey: the ES256 key that signs every token, kept in the data
//     directory and published as a JWKS.
//   - Directory: tenants, applications (clients) with their password
//     credentials, service principals, users and security groups, stored
//     as documents in the store (see the Type constants for the layout).
//     Client secrets are kept only as salted hashes, user passwords only
//     as PBKDF2 hashes. Every change that spans documents is one atomic,
//     ETag-guarded write. Directory.Object resolves a principal id (user,
//     group or service principal) with one read, for role assignments;
//     Directory.MemberOf gives every object's direct groups, for
//     authorization snapshots.
//   - Issuer: the Entra-shaped HTTP endpoints (OAuth 2.0 token endpoint with
//     the client credentials, password and jwt-bearer grants, OpenID Connect metadata,
//     JWKS, instance and user realm discovery) and Verify, which turns a
//     bearer token into a Principal (an application's service principal, or
//     a user) or a refusal with a reason that is safe to show the caller.
//   - Workload bindings (workload.go, msi.go): a managed identity's
//     service principal is written by the resource provider that owns the
//     identity; a binding lets a workload get its tokens at /msi/token with
//     the App Service protocol (IDENTITY_ENDPOINT, IDENTITY_HEADER), the
//     header being a secret stored hashed and bound to that one identity.
//   - Workload identity federation: an application's federated identity
//     credentials (federated.go) name an external OpenID Connect issuer
//     and subject whose tokens the token endpoint accepts as the
//     application's client assertion (assertion.go); the issuers' keys
//     come from their discovery documents over https, cached per issuer
//     (oidckeys.go).
//   - People of a company identity provider: a user's identities
//     (useridentity.go) name an issuer and the subject it gives the
//     person, unique in the tenant through an index; the token endpoint's
//     jwt-bearer grant (usergrant.go) signs the user in with such a token
//     when the operator trusts the issuer (IssuerConfig.TrustedIssuers),
//     verified as client assertions are.
//   - Graph: the directory over HTTP in Microsoft Graph v1.0 paths and
//     shapes (/v1.0/applications, servicePrincipals, users, groups and
//     their members, federated identity credentials, directoryObjects),
//     for tokens of the audience https://graph.microsoft.com, with an
//     authorization hook.
//
// As in Entra, an application gets tokens only once it has a service
// principal in its tenant, and its tokens carry the service principal's
// object id ("oid"); a user's tokens carry the user's.
package identity
