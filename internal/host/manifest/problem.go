package manifest

import (
	"fmt"
	"sort"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

// A Problem is one thing wrong with a manifest file, or one warning about
// it. It names where (File, Line), what (Field, Msg) and how to fix it (Hint).
type Problem struct {
	// File is the manifest file's path; empty for problems of the tree as a whole.
	File string
	// Line is the 1-based line in File; 0 when unknown.
	Line int
	// Field is the dotted key path, e.g. "egress.routes[0].auth.scheme";
	// empty for problems of the whole file.
	Field string
	// Msg says what is wrong.
	Msg string
	// Hint says how to fix it; empty when Msg already does.
	Hint string
}

// String renders the problem as one line: "file:line: field: msg; hint".
// Control and bidirectional characters (which a quoted YAML key or a
// repository's file may hold) are escaped with termtext, so a problem
// never spans lines or steers the terminal.
func (p Problem) String() string {
	return oneLine(p.raw())
}

func (p Problem) raw() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Hint != "" {
		b.WriteString("; ")
		b.WriteString(p.Hint)
	}
	return b.String()
}

// oneLine escapes what termtext escapes: control, bidirectional and
// other non-graphic characters, and invalid UTF-8.
func oneLine(s string) string { return termtext.Line(s) }

// Problems is the error a load returns: every problem found, sorted by file
// and line.
type Problems []Problem

// Error renders one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Files returns how many distinct files the problems are in.
func (ps Problems) Files() int {
	seen := map[string]bool{}
	for _, p := range ps {
		seen[p.File] = true
	}
	return len(seen)
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
}

// suggest returns ` (did you mean "x"?)`-style text for the closest of
// candidates to got, or "" when none is close.
func suggest(got string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(got), strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 2
	if len(got) <= 3 {
		limit = 1
	}
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b
// (bytes): insertions, deletions, substitutions and adjacent
// transpositions each cost 1, so "dve" is one edit from "dev".
func editDistance(a, b string) int {
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}
