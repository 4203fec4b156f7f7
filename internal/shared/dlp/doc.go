// Package dlp finds secrets in bytes about to leave a bottle.
//
// It runs a curated subset of gitleaks' rules (see DefaultRuleIDs) plus
// exact matching of the secret values the caller holds. The full gitleaks
// ruleset runs at about 1.5 MB/s on request bodies, far too slow for a
// proxy, and several of its rules (generic-api-key, jwt, curl-*) flag
// ordinary traffic. The curated set keeps the rules for tokens with a
// recognisable shape — GitHub, GitLab, Slack, AWS, GCP, OpenAI, Anthropic,
// Stripe, npm and private keys — with gitleaks' own regexes, entropy
// thresholds and allowlists, so a finding here is a finding there.
//
// Speed comes from scanning in two steps: one Aho-Corasick pass over the
// input, case folded, for every rule's keywords (skipping ahead, while no
// keyword is under way, to the next pair of bytes that begins one), then
// each rule's regex only on
// the run of token characters around its keyword hits (at most 256 bytes
// before and 512 after; private keys, whose bodies are long, get 16 KiB once
// "PRIVATE KEY" follows "-----BEGIN"). A hit outside a token-length run is
// dropped before any regex runs. Scan time is bounded by the caller's
// context: an overrun is ErrBudget, and callers fail closed.
//
// Measured on this project's 2-core machine (go test -bench Scan): JSON,
// code and prose bodies at 1.2–1.3 GB/s; keyword-stuffed input at 230–260
// MB/s; keyword-stuffed token-shaped input at 100–140 MB/s.
//
// A Finding names the rule and where it was found, never the secret.
package dlp
