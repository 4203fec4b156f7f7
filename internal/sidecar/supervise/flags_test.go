package supervise

import (
	"io"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
)

func TestEveryFlagHasItsVariable(t *testing.T) {
	var c Config
	testutil.CheckFlagEnv(t, newFlagSet(&c, io.Discard), "SUPERVISE")
}
