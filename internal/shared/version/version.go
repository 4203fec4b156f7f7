// Package version reports the build's version: the value stamped at link
// time with -ldflags "-X github.com/bot-bottle/bot-bottle/internal/shared/version.Version=v1.2.3",
// else the module version and VCS revision Go recorded in the binary.
package version

import (
	"runtime/debug"
	"strings"
)

// Version is set at link time; empty in builds that did not stamp it.
var Version string

// String returns the version, never empty ("devel" when nothing is known).
func String() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := info.Main.Version
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	if rev != "" && !strings.Contains(v, rev[:min(12, len(rev))]) {
		v += "+" + rev[:min(12, len(rev))] + dirty
	}
	return v
}
