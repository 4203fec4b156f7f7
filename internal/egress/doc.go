// Package egress is the egress sidecar: the forward proxy through which the
// agent's HTTP(S) traffic leaves a bottle, and only to the hosts the routes
// file declares.
//
// This part is the pure security policy: functions from the facts of a
// request and the routes file to a decision, with no I/O, so that every rule
// can be tested by table and fuzzed on its own:
//
//   - ConnectDecision and Decide look up the route and decide whether one
//     request may go ahead (Host pinned to the CONNECT target, path
//     allowlist, methods, git push refused, credentials over TLS only);
//   - NormalizePath turns the path as sent on the wire into the decoded path
//     that path_allowlist prefixes are compared with, refusing any path that
//     parsers could read differently (MatchPrefix, PathAllowed);
//   - ClassifyIP and CheckDial refuse upstream addresses that would reach
//     the host, a private network or cloud metadata (SSRF) unless the
//     route's ssrf_allow lists them;
//   - DenyBody writes the plain-text body of a refusal, telling the agent
//     what to do next.
package egress
