package testutil

import (
	"slices"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/shared/daemon"
)

// CheckFlagEnv walks a daemon's flag set: every flag not in flagOnly must
// be read from BOT_BOTTLE_<PREFIX>_<FLAG> (the flag upper-cased, '-' as
// '_'), parsing with no flags must ask for each of those variables, and
// the flags in flagOnly must take no variable.
func CheckFlagEnv(t *testing.T, fs *daemon.FlagSet, prefix string, flagOnly ...string) {
	t.Helper()
	asked := map[string]bool{}
	if err := fs.Parse(nil, func(name string) string { asked[name] = true; return "" }); err != nil {
		t.Fatalf("parse with no flags: %v", err)
	}
	bindings := fs.Bindings()
	if len(bindings) == 0 {
		t.Fatal("the flag set has no flags")
	}
	for _, b := range bindings {
		if slices.Contains(flagOnly, b.Flag) {
			if b.Env != "" {
				t.Errorf("--%s reads %s, but is listed as flag-only", b.Flag, b.Env)
			}
			continue
		}
		want := "BOT_BOTTLE_" + prefix + "_" + strings.ToUpper(strings.ReplaceAll(b.Flag, "-", "_"))
		if b.Env != want {
			t.Errorf("--%s reads %q, want %q", b.Flag, b.Env, want)
			continue
		}
		if !asked[b.Env] {
			t.Errorf("--%s is bound to %s, but parsing never read it", b.Flag, b.Env)
		}
	}
}
