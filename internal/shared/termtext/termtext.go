// Package termtext makes text that someone else wrote safe to print on the
// operator's terminal. Everything an agent writes — a proposal's reason,
// its payload's strings, the notes and diffs that come back through the
// queue — goes through Line or Block before the host CLI (or a TUI) prints
// it, so no byte of it can move the cursor, change colours, set the window
// title, hide text, or reorder what the operator reads.
//
// pkg/contract already refuses such characters in proposals
// (contract.ValidDisplayText); this is the second layer, for files that did
// not come through supervise and for whatever validation misses. It lives
// in internal/shared rather than pkg/contract because it is presentation,
// not part of what the binaries exchange, and only the host side needs it.
//
// Printable text is left exactly as it is. Every other character is shown
// as a visible escape: '\t', '\n' and '\r' as \t, \n and \r; other ASCII
// controls and DEL as \xNN; other characters that are not graphic (C1
// controls, bidirectional controls, zero-width and other formatting
// characters, line and paragraph separators, private-use and unassigned
// code points, U+FFFD) as \uNNNN or \UNNNNNNNN; and each byte that is not
// valid UTF-8 as \xNN. A backslash in the input is not escaped, so the
// input text `\x1b` prints as itself: the escapes are for the operator's
// eyes, and need not be reversible.
package termtext

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Line returns s for printing within one line: line breaks are escaped
// too, so s cannot start a line of its own.
func Line(s string) string { return escape(s, false, "") }

// Block returns s for printing as several lines: each '\n' is kept and
// followed by indent, so a continuation line of s can never start at the
// left margin and pose as a line the CLI printed (a header, a prompt, a
// "proposal … approved"); the caller prints the first line after its own
// label. An empty indent is only for text whose lines the caller wrote
// itself, quoting agent text already escaped with Line.
func Block(s, indent string) string { return escape(s, true, indent) }

// escape is the one escaping function behind Line and Block.
func escape(s string, multiline bool, indent string) string {
	if safe(s, multiline) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' && multiline:
			b.WriteByte('\n')
			b.WriteString(indent)
		case printable(r):
			b.WriteString(s[i : i+size])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += size
	}
	return b.String()
}

// safe reports whether s needs no escaping: the common case, checked
// without allocating. A multiline s with a line break still goes through
// escape, which indents its continuation lines.
func safe(s string, multiline bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !printable(r) {
			return false
		}
		i += size
	}
	return true
}

// printable reports whether r may reach the terminal as it is: a graphic
// character (letter, mark, number, punctuation, symbol or space separator
// such as U+0020). That excludes the Unicode categories Cc (C0 and C1
// controls, DEL), Cf (bidirectional controls, zero-width and other
// formatting characters, U+FEFF), Zl and Zp (U+2028, U+2029), Co
// (private use), Cs (surrogates) and Cn (unassigned). U+FFFD is excluded
// too, as the contract refuses it: shown as \ufffd it cannot be taken for
// an invalid byte, which shows as \xNN.
func printable(r rune) bool { return unicode.IsGraphic(r) && r != utf8.RuneError }

// JSON returns the encoded JSON document data with every character that
// Line would escape written as a JSON escape instead (\u007f, \u009b,
// \u202e, a surrogate pair above U+FFFF), and each byte that is not UTF-8
// as \ufffd, so the document decodes to the same values and prints safely.
// The whitespace between tokens ('\n', '\t', '\r', ' ') is kept.
//
// encoding/json is not enough on its own: it escapes C0 controls, U+2028
// and U+2029 and replaces invalid UTF-8 in the strings it encodes, but
// writes DEL, C1 controls, bidirectional controls and zero-width
// characters as they are, and copies a json.RawMessage's bytes unchanged.
func JSON(data []byte) []byte {
	clean := true
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if !jsonSafe(r, size) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return data
	}
	out := make([]byte, 0, len(data)+len(data)/4)
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case jsonSafe(r, size):
			out = append(out, data[i:i+size]...)
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	return out
}

// jsonSafe reports whether the character r, of size bytes, may stay as it
// is in JSON output.
func jsonSafe(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1:
		return false
	case r == '\n' || r == '\t' || r == '\r':
		return true
	}
	return printable(r)
}
