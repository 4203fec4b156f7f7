package gitgate

import (
	"fmt"
	"sync"

	"github.com/rs/zerolog"
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
	d.Redact = 100
	// As gitleaks' own CLI: also look inside base64, hex and percent
	// encoding.
	d.MaxDecodeDepth = 5
	return d, nil
})
