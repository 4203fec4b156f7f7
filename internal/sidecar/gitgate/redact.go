package gitgate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/zricethezav/gitleaks/v8/detect"
)

// maxScrubbed bounds the agent-chosen text scrub scans; anything longer
// is replaced whole.
const maxScrubbed = 4096

// scrub returns s fit for the gate's logs: s itself if gitleaks finds
// nothing in it, else a stand-in naming the first rule and a
// fingerprint of s (never its text). Agent-chosen strings (request
// paths, ref names, error detail) go through it before any log line.
func scrub(s string) string {
	if s == "" {
		return s
	}
	if len(s) > maxScrubbed {
		return redacted("too-long", s)
	}
	det, err := detector()
	if err != nil {
		return redacted("unscanned", s)
	}
	//lint:ignore SA1019 DetectContext is gitleaks' per-fragment entry point (see scan)
	if res := det.DetectContext(context.Background(), detect.Fragment{Raw: s}); len(res) > 0 {
		return redacted(res[0].RuleID, s)
	}
	return s
}

// redacted stands in for s in a log: the reason and a fingerprint, so
// that the same value can be recognised across lines.
func redacted(reason, s string) string {
	sum := sha256.Sum256([]byte(s))
	return "[redacted " + reason + " sha256:" + hex.EncodeToString(sum[:6]) + "]"
}
