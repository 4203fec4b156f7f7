// Package egress is the egress sidecar: the forward proxy through which the
// agent's HTTP(S) traffic leaves a bottle, and only to the hosts the routes
// file declares.
//
// # Shape
//
// CONNECT requests go through goproxy (HandleConnect): an undeclared host,
// or a port its route does not allow (443 unless the route lists its
// ports), gets a 403 naming it and the egress-block tool, before any TLS
// or dial; a tls_passthrough route is tunnelled unread (with idle
// deadlines) once its ClientHello's SNI is seen to name the CONNECT host
// (no domain fronting); every other declared host is MITM'd: egress answers the
// CONNECT, terminates the agent's TLS with an ECDSA leaf minted from the
// bottle CA (cached per host) and hands the connection to its own inner
// http.Server, which speaks HTTP/1.1 with keep-alive and HTTP/2 and has
// header and idle deadlines. Plain http:// proxy requests reach the same
// forwarder directly, and only ports the route lists.
//
// The proxy and admin listeners accept only loopback and the peers
// --allow-peers and --admin-allow-peers name (in a bottle: agent-net, and
// supervise on the admin port); anyone else is reset before a byte is read
// (daemon.AllowPeers).
//
// Each request inside a tunnel is decided by Decide, then: the agent's
// Authorization and Proxy-Authorization are dropped and the route's
// credential injected (TLS only); URL, headers and body are DLP-scanned
// (internal/shared/dlp) before anything is sent — bodies up to 1 MiB whole, larger
// ones while streaming with a hold-back so no secret byte leaves, dlp_strict
// and large gzip bodies spooled (to disk above a RAM cap; gzip is scanned
// as a stream, with size and ratio limits); websocket messages are
// reassembled and scanned; the upstream is dialled at an address CheckDial
// accepted, with TLS verified against system roots plus --upstream-ca; the
// response streams back (SSE flushed at once) with any held secret scrubbed
// (raw, hex, base64 at any alignment or %-encoded; from headers, 1xx
// headers, trailers, bodies and websocket messages). Only a real websocket
// handshake may upgrade; method overrides are checked as the method they
// name. One JSON audit line records each decision. SIGHUP reloads the routes file
// and secrets; a bad file keeps the old table.
//
// # Policy
//
// The security policy is pure functions from the facts of a request and the
// routes file to a decision, with no I/O, so that every rule can be tested
// by table and fuzzed on its own:
//
//   - ConnectDecision and Decide look up the route and decide whether one
//     request may go ahead (the route's ports, Host pinned to the CONNECT
//     target, path allowlist, methods, git push refused, credentials over
//     TLS only), naming the Rule that decided;
//   - NormalizePath turns the path as sent on the wire into the decoded path
//     that path_allowlist prefixes are compared with, refusing any path that
//     parsers could read differently (MatchPrefix, PathAllowed);
//   - ClassifyIP and CheckDial refuse upstream addresses that would reach
//     the host, a private network or cloud metadata (SSRF) unless the
//     route's ssrf_allow lists them;
//   - DenyBody writes the plain-text body of a refusal, telling the agent
//     what to do next.
package egress
