package manifest

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxTextProblems bounds how many control-character problems one file
// reports: enough to find them, not a screenful per byte.
const maxTextProblems = 5

// checkText reports each line of a working-directory manifest that holds
// a character that could steer the operator's terminal (see
// steeringChar): such a file is refused, whatever its keys. A repository
// wrote it, and its text is shown as data by config, render, validate and
// up's preflight. \t is fine, and \r only in a CRLF line end.
func (r *reader) checkText(data []byte) bool {
	line, found := 1, 0
	var bad []rune // the offending characters of the current line
	flush := func() {
		if len(bad) > 0 && found < maxTextProblems {
			found++
			r.addText(line, "", "contains "+describeChars(bad))
		}
		bad = bad[:0]
	}
	for i := 0; i < len(data); {
		c, size := utf8.DecodeRune(data[i:])
		switch {
		case c == '\n':
			flush()
			line++
		case c == '\r' && i+1 < len(data) && data[i+1] == '\n':
		case c == utf8.RuneError && size == 1, steeringChar(c):
			if !slices.Contains(bad, c) {
				bad = append(bad, c)
			}
		}
		i += size
	}
	flush()
	return found == 0
}

// checkNodes does what checkText does for the values YAML decodes: a
// double-quoted "\e" or "\u202e" is plain text in the file, but a control
// character once read.
func (r *reader) checkNodes(n *yaml.Node, found *int) {
	if n == nil || *found >= maxTextProblems {
		return
	}
	if n.Kind == yaml.ScalarNode && !r.textLines[r.line(n)] {
		for _, c := range n.Value {
			if c != '\n' && c != '\t' && (c == '\r' || steeringChar(c)) {
				*found++
				r.addText(r.line(n), "", "a quoted value decodes to "+describeChars([]rune{c}))
				break
			}
		}
	}
	for _, child := range n.Content {
		r.checkNodes(child, found)
	}
}

func (r *reader) addText(line int, field, msg string) {
	if r.textLines == nil {
		r.textLines = map[int]bool{}
	}
	r.textLines[line] = true
	*r.problems = append(*r.problems, Problem{File: r.file, Line: line, Field: field, Msg: msg,
		Hint: "a repository's agent file must be plain text: remove it (control and bidirectional characters could rewrite what bot-bottle shows you)"})
}

// steeringChar reports whether c can move the cursor, recolour, retitle,
// hide or reorder text on a terminal: C0 controls other than \t and \n
// (\r is judged by the caller), DEL, C1 controls, the bidirectional
// controls, and the line and paragraph separators.
func steeringChar(c rune) bool {
	switch {
	case c == '\t' || c == '\n':
		return false
	case c < 0x20 || c == 0x7f || c >= 0x80 && c < 0xa0:
		return true
	case c == 0x061c || c == 0x200e || c == 0x200f || c >= 0x202a && c <= 0x202e || c >= 0x2066 && c <= 0x2069:
		return true
	case c == 0x2028 || c == 0x2029:
		return true
	}
	return false
}

// describeChars names the characters for a problem: "the control
// character U+001B", "the characters U+001B, U+202E"; an invalid byte
// is utf8.RuneError.
func describeChars(cs []rune) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = fmt.Sprintf("U+%04X", c)
		if c == utf8.RuneError {
			names[i] = "bytes that are not UTF-8"
		}
	}
	if len(cs) > 1 {
		return "the characters " + strings.Join(names, ", ")
	}
	switch c := cs[0]; {
	case c == utf8.RuneError:
		return names[0]
	case c <= 0xa0:
		return "the control character " + names[0]
	}
	return "the bidirectional or separator character " + names[0]
}
