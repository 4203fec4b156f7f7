package gitgate

import (
	"fmt"
	"sync"

	"github.com/rs/zerolog"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
)

// detector is gitleaks' detector with the full default ruleset, built once
// per process: building it goes through viper's global state, and a
// detector is safe to share between goroutines.
var detector = sync.OnceValues(func() (*detect.Detector, error) {
	// gitleaks logs through a package-level zerolog logger, with paths and
	// commits; the gate reports findings itself.
	logging.Logger = zerolog.Nop()
	d, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		return nil, fmt.Errorf("load gitleaks rules: %w", err)
	}
	// The agent writes the commits: a "gitleaks:allow" comment must not
	// hide a secret.
	d.IgnoreGitleaksAllow = true
	// Findings keep their match so that the scan can tell secrets apart
	// (finding.digest); only a hash of it ever leaves the worker.
	d.Redact = 0
	// As gitleaks' own CLI: also look inside base64, hex and percent
	// encoding.
	d.MaxDecodeDepth = 5
	dropPathAllowlists(&d.Config)
	return d, nil
})

// dropPathAllowlists removes every allowlist that lets content through
// for its path or commit, globally and per rule. The defaults skip
// *.svg, go.sum, lock files, node_modules/, vendor/ and more, and the
// agent picks the paths: a hostile one would put its secret there.
// Allowlists of values (regexes, stop words) stay: they only drop
// well-known placeholders.
func dropPathAllowlists(c *config.Config) {
	c.Allowlists = valueAllowlists(c.Allowlists)
	for id, r := range c.Rules {
		r.Allowlists = valueAllowlists(r.Allowlists)
		c.Rules[id] = r
	}
}

// valueAllowlists keeps the allowlists that match on values only. An
// "OR" allowlist loses its paths and commits; an "AND" one that names
// any is dropped whole, because without them it would allow more.
func valueAllowlists(in []*config.Allowlist) []*config.Allowlist {
	var out []*config.Allowlist
	for _, a := range in {
		scoped := len(a.Paths) > 0 || len(a.Commits) > 0
		if scoped && a.MatchCondition == config.AllowlistMatchAnd {
			continue
		}
		if len(a.Regexes) == 0 && len(a.StopWords) == 0 {
			continue
		}
		// A new allowlist: Validate caches the path and commit patterns.
		b := &config.Allowlist{Description: a.Description, MatchCondition: a.MatchCondition,
			RegexTarget: a.RegexTarget, Regexes: a.Regexes, StopWords: a.StopWords}
		if err := b.Validate(); err != nil {
			continue
		}
		out = append(out, b)
	}
	return out
}
