package sidecarinit

import (
	"io"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
)

// TestEveryFlagHasItsVariable: the settings an image may need have a
// variable; the test and health-mode flags are flag-only.
func TestEveryFlagHasItsVariable(t *testing.T) {
	var c Config
	testutil.CheckFlagEnv(t, newFlagSet(&c, io.Discard), "SIDECAR", "hup", "usr1", "backoff", "health")
}
