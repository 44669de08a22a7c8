// Package ingress is Perimeter's data-plane gateway: an HTTPS reverse
// proxy in front of the model servers behind AI services accounts. It
// makes an account's network rules, keys and deployments real for every
// request, answers refusals the way Azure AI services do, and writes one
// access-log record and one log line per request.
//
// # Routes
//
// Accounts are reached by host name ({subdomain}.cognitiveservices.{base},
// {subdomain}.openai.{base}, {subdomain}.services.ai.{base}); the TLS
// server name (SNI), when the client sent one, must name the same host as
// the Host header, or the answer is 421 Misdirected Request. Paths are
// those of Azure OpenAI:
//
//	POST /openai/deployments/{d}/chat/completions?api-version=V
//	POST /openai/deployments/{d}/completions?api-version=V
//	POST /openai/deployments/{d}/embeddings?api-version=V
//	GET  /openai/realtime?deployment={d}&api-version=V   (WebSocket)
//	POST /openai/v1/chat/completions                      (model = deployment name)
//	POST /openai/v1/completions, /openai/v1/embeddings
//	GET  /openai/v1/realtime?model={d}                    (WebSocket)
//	GET  /openai/deployments?api-version=V                (the account's deployments)
//	GET  /openai/models?api-version=V                     (their models)
//
// A deployment's upstream comes from the model catalog only: the request
// goes to {upstream}/chat/completions (and so on) with the body's "model"
// replaced by the upstream's model name; nothing in the request can choose
// where it goes. Client credentials (api-key, Authorization, cookies) never
// reach the upstream, and the upstream's credential never reaches the
// client. Server-sent events pass through as they arrive.
//
// # Order of checks
//
// Network first, then credentials, then the request itself: a refused
// address gets 403 whatever its key, and an unauthenticated caller learns
// nothing about deployments. In detail: SNI/Host (421), configuration
// loaded (503), account known by host (404), network rules via
// access.Evaluate (403), key or token (401, or 403 AuthenticationTypeDisabled),
// route and api-version (404, 405, 400), body size (413, answered from
// Content-Length before the body is read), authorization of the token's
// principal (the seam RBAC fills), deployment (404 DeploymentNotFound),
// JSON body (400), upstream (502, 504).
//
// # Where a request comes from
//
// The client address is decided from what the gateway can trust:
//
//   - The TCP peer of the connection, with IPv4-mapped IPv6 unmapped.
//   - Only when the peer is in Config.TrustedProxies: a PROXY protocol v1
//     or v2 header at the start of the connection replaces it. A peer not
//     in TrustedProxies is served as if PROXY protocol did not exist: a
//     header it sends is not parsed, and the bytes make its TLS handshake
//     fail.
//   - Then, while the address so far is a trusted proxy, X-Forwarded-For
//     is walked from the right and the first hop that is not a trusted
//     proxy is the client. A hop that is not an IP address (with or
//     without a port) ends the walk with no usable address, which no IP
//     rule matches: fail closed.
//
// X-Real-IP, Forwarded, True-Client-IP and similar headers are never
// consulted, and no header from an untrusted peer ever is.
//
// The arrival path follows from the address:
//
//   - A PROXY v2 header from a trusted proxy may carry a TLV of type
//     TLVSubnetID (0xE0, in the range the protocol reserves for custom
//     use) whose value is the ARM resource id of the subnet the client's
//     traffic comes from, as a load balancer in front of virtual networks
//     knows it. When the client address is the one in that header, the
//     TLV is authoritative: if the subnet is known and has a
//     Microsoft.CognitiveServices service endpoint, the request arrived
//     through that service endpoint; otherwise it is public traffic.
//   - Without the TLV, an address inside one of the subnets the account's
//     virtual-network rules name, when that subnet has the
//     Microsoft.CognitiveServices service endpoint, arrived through that
//     subnet's service endpoint (snapshot.Account.SubnetFor). Subnets the
//     account's rules do not name are never consulted: anyone may create a
//     network with any range, and must not be able to make another
//     account's clients look like traffic from their subnet.
//   - Anything else is public traffic from that address.
//
// # Upstream failures
//
// A model server that cannot be reached answers 502; one that does not
// send response headers within Config.ResponseHeaderTimeout, or does not
// finish within Config.UpstreamTimeout, answers 504. A model server that
// refuses the gateway's own credential (401) is also a 502: the caller's
// credentials were fine.
package ingress
