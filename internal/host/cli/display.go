package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

// display shortens paths for people: relative to the working directory
// when under it, ~/… when under the user's home, absolute otherwise.
type display struct {
	cwd, userHome string
}

func newDisplay(cwd, userHome string) *display {
	return &display{cwd: cwd, userHome: userHome}
}

func (d *display) path(p string) string {
	if p == "" {
		return ""
	}
	if d.cwd != "" {
		if rel, err := filepath.Rel(d.cwd, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return rel
		}
	}
	if d.userHome != "" && d.userHome != "/" {
		if rel, err := filepath.Rel(d.userHome, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return "~/" + rel
		}
	}
	return p
}

// dir is path for a directory the reader must recognise, such as a
// repository: the working directory itself is shown in full (~/… under
// the user's home) rather than as ".".
func (d *display) dir(p string) string {
	if p != "" && d.cwd != "" && filepath.Clean(p) == filepath.Clean(d.cwd) {
		return (&display{userHome: d.userHome}).path(p)
	}
	return d.path(p)
}

func (d *display) problem(p manifest.Problem) string {
	p.File = d.path(p.File)
	return p.String()
}

// printProblems writes warnings and problems, one line each.
func (d *display) printWarnings(w io.Writer, warnings []manifest.Problem) {
	for _, p := range warnings {
		fmt.Fprintf(w, "warning: %s\n", d.problem(p))
	}
}

func (d *display) printProblems(w io.Writer, problems manifest.Problems) {
	for _, p := range problems {
		fmt.Fprintln(w, d.problem(p))
	}
	fmt.Fprintf(w, "bot-bottle: %s in %s\n", plural(len(problems), "problem"), plural(problems.Files(), "file"))
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// shellQuote writes argv as a POSIX shell would read it back: a word of
// only safe characters as it is, any other in single quotes. It is for
// showing a command (a fix to paste, an agent's argv), not for running
// one; escape it with termtext before printing, as an argument may hold
// any character.
func shellQuote(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = shellWord(a)
	}
	return strings.Join(words, " ")
}

// shellWord is one word of shellQuote. A path under the home written
// "~/..." stays unquoted, so it still expands when pasted; any other '~'
// is quoted.
func shellWord(a string) string {
	rest := strings.TrimPrefix(a, "~/")
	if rest != "" && strings.IndexFunc(rest, func(r rune) bool { return !shellSafe(r) }) < 0 {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

func shellSafe(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r)
}

// writeJSON writes v as indented JSON for --json: HTML characters as they
// are, and every character encoding/json leaves raw that could still
// steer a terminal (C1 and bidirectional controls) as a JSON escape.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(termtext.JSON(buf.Bytes()))
	return err
}
