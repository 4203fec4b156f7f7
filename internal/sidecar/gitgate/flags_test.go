package gitgate

import (
	"io"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
)

func TestEveryFlagHasItsVariable(t *testing.T) {
	var c Config
	maxPack := byteSize(DefaultMaxPack)
	testutil.CheckFlagEnv(t, newFlagSet(&c, &maxPack, io.Discard), "GITGATE")
}
