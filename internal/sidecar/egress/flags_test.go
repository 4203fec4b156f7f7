package egress

import (
	"io"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
)

func TestEveryFlagHasItsVariable(t *testing.T) {
	var c Config
	var resolve multiFlag
	testutil.CheckFlagEnv(t, newFlagSet(&c, &resolve, io.Discard), "EGRESS")
}
