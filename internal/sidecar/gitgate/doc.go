// Package gitgate is the git gate sidecar: the only way the agent's git
// pushes leave a bottle, and the agent's view of the declared upstreams.
//
// # Shape
//
// The gate keeps one bare repository per repository the gate file
// declares, under --data as <name>.git, created on first use. It serves
// them to the agent over git smart HTTP at /<name>.git (Server.ServeHTTP);
// any other name is 404. It reaches each upstream over SSH with go-git's
// transport, authenticating with the identity key from --secrets-dir and
// checking the upstream's host key strictly against host_key (a pinned
// key line, or a known_hosts secret): an unknown key is refused, never
// trusted on first use. A dialAttempt bounds the TCP connect and the SSH
// handshake to 10 s each, and every read and write after it, because the
// transport has no deadlines of its own.
//
// Fetches (clone, fetch, pull, ls-remote; protocol v0 to v2, shallow and
// partial clones): every GET info/refs first refreshes the mirror — the
// objects it lacks are fetched into git index-pack, then refs are created,
// moved and deleted with one git update-ref transaction, and HEAD follows
// the upstream's. Concurrent fetches share one refresh, and a repository
// is refreshed at most once per --refresh-interval (default 5 s): fetches
// within it see the last refresh, or fail with its error. When a refresh
// (or a push through the gate) deletes a ref or moves one backwards, the
// gate prunes every object no ref reaches (gc --prune=now), so that it
// holds only what the upstream's refs reach: an object the upstream
// purged is new again to a push, and no fetch is served it by id. If the refresh
// fails, the request fails with a text/plain body that git prints as
// "remote:" lines. The rest is git upload-pack --stateless-rpc.
//
// Pushes (receive-pack) are the gate's own, over go-git's pkt-line and
// side-band codecs:
//
//  0. At most MaxPushes pushes (MaxRepoPushes per repository) are in
//     progress; one more gets HTTP 503 at once. Each read of the body
//     must make progress within BodyIdleTimeout, or the push is dropped
//     and its quarantine removed.
//  1. The commands are read (readPushRequest) and the pack is indexed by
//     git index-pack --stdin --fix-thin --strict into a quarantine inside
//     the repository, with the gate's objects as alternates, streamed and
//     cut off at --max-pack; index-pack's data segment is capped at
//     UnpackMemory (a delta bomb is refused as needing too much memory).
//     Nothing in it is visible to fetches yet.
//  2. Without the repository's lock (fetches and refreshes go on during
//     the scan), each command's old value must be the gate's
//     current one (compare-and-swap: a stale client is told to fetch
//     first), and a branch must point at a commit. Pushes go to
//     refs/heads/ and refs/tags/ only, plus the gate file's push_refs,
//     and branches are deleted only with allow_branch_delete.
//  3. What the push introduces is worked out (introduced): the commits
//     reachable from the new tips and from no ref on the gate, found by a
//     port of git's limit_list (introducedCommits), which is also right for
//     force pushes; new annotated tags; trees and blobs a ref points at.
//     Every object in the pack must be reachable from those or already be
//     on the gate, or the push is refused: an unreferenced object would
//     otherwise reach the upstream unscanned.
//  4. gitleaks, with its full default ruleset, gitleaks:allow ignored
//     and no path or commit allowlists (the agent picks the paths),
//     scans: the pushed ref names; every line each introduced commit
//     adds (a line diff against its parent, renames followed; for a
//     merge, only lines no parent has); each pushed tip's net result
//     against the ref's old value or the nearest ancestor the gate had,
//     so that a secret assembled over several commits is whole; each
//     commit and tag object as stored (every header, gpgsig, mergetag
//     and unknown ones included, and the whole message); the names of
//     the files a commit changes and every entry name of every new tree;
//     and blobs and trees pointed at directly. Binary blobs (a NUL in the
//     first 8000 bytes) are scanned as their printable ASCII and UTF-16
//     text, with their path so that path rules (keystores) apply. A
//     finding refuses the whole push with "remote:" lines
//     naming the commit, file, line and rule, never the secret, and for a
//     line of a file its fingerprint (COMMIT:PATH:RULE:LINE, as gitleaks
//     writes it). The agent may quote a fingerprint in a dlp-block
//     proposal for the repository; once the operator approves, the gate
//     file lists it under the repository's dlp_exceptions, and that one
//     finding no longer refuses a push. The gate rereads the gate file at
//     every push with findings (see exceptions), so an approval applies to
//     the next push without a restart. Findings in commit messages,
//     identities, file names and tags have no fingerprint: the agent
//     changes those.
//  5. The same commands and the quarantined pack go to the upstream; its
//     hook output is relayed to the client. Only the refs the upstream
//     accepted move on the gate, after the pack moves into its object
//     store; a refused push leaves the gate as it was.
//
// The scan has a budget per push (ScanBytes of text, ScanTimeout) and
// stops when the client goes away. Then, under the repository's lock,
// the commands are checked again if the gate's refs moved during the
// scan, and what the push introduces must be no more than what was
// scanned, or it is refused.
//
// Each request gets one JSON log line on stderr (log/slog) and each push
// verdict one contract.AuditRecord line on stdout. Neither ever holds a
// secret: identities are only ever a signer in memory, findings carry no
// match, and gitleaks' own logger is silenced. Agent-chosen strings are
// not logged raw: a path that is not one of the gate's routes is logged
// as a fingerprint, ref names and error text go through scrub, and a
// finding appears as its rule and a fingerprint. /healthz is on --admin.
// Both ports accept only loopback and the peers --allow-peers and
// --admin-allow-peers name (in a bottle: agent-net on the git port, nobody
// on the admin port); anyone else is reset before a byte is read
// (daemon.AllowPeers).
//
// The gate needs the git binary (index-pack, upload-pack, update-ref,
// gc) on PATH; what is scanned, forwarded and when refs move is decided
// here.
package gitgate
