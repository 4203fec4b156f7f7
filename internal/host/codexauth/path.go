package codexauth

import (
	"path/filepath"
	"strings"
)

// The host environment variables Path reads.
const (
	envCodexHome = "CODEX_HOME"
	envHome      = "HOME"
)

// Path is where the host's Codex keeps its login: $CODEX_HOME/auth.json
// when CODEX_HOME is set, else ~/.codex/auth.json. A leading "~" or "~/"
// in CODEX_HOME is the home directory, as a shell would expand it. When
// HOME is unset the "~" stays, so [Read] reports the file missing under
// that name rather than reading a path relative to wherever it runs.
func Path(getenv func(string) string) string {
	if dir := getenv(envCodexHome); dir != "" {
		return filepath.Join(expandHome(dir, getenv), "auth.json")
	}
	return filepath.Join(expandHome("~", getenv), ".codex", "auth.json")
}

// expandHome replaces a leading "~" (alone or before a slash) with HOME.
// "~user" is left alone: Codex does not expand it either.
func expandHome(p string, getenv func(string) string) string {
	home := getenv(envHome)
	if home == "" {
		return p
	}
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(home, rest)
	}
	return p
}
