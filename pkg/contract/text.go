package contract

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// ValidDisplayText reports whether s may be shown on the operator's
// terminal as it is: agent text (a proposal's justification, a payload's
// strings) and a response's notes. Text is data and must never steer the
// terminal, reorder what the operator reads or hide part of itself, so s
// must be valid UTF-8 and must not contain:
//
//   - C0 control characters (U+0000–U+001F), except '\t', and '\n' when
//     multiline is set; '\r' is refused even then;
//   - DEL (U+007F) and the C1 control characters (U+0080–U+009F), which
//     some terminals also obey (U+009B is CSI);
//   - bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E,
//     U+2066–U+2069), which make text display in another order than it is
//     stored;
//   - zero-width characters (U+200B–U+200D, U+2060), the byte-order mark
//     U+FEFF, the line and paragraph separators U+2028 and U+2029, and every
//     other invisible formatting character (Unicode category Cf, such as
//     the soft hyphen U+00AD and the tag characters U+E0000–U+E007F);
//   - U+FFFD, the replacement character: JSON decoders put it where the
//     input had bytes that were not UTF-8, so refusing it refuses those.
//
// The error names the kind of character and its code point, never the
// character itself.
func ValidDisplayText(s string, multiline bool) error {
	chars := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		chars++
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("is not valid UTF-8 (the byte %#02x at byte %d); send text as UTF-8", s[i], i+1)
		}
		if kind := unsafeTextRune(r, multiline); kind != "" {
			hint := "text shown to the operator may contain only printable characters, spaces and tabs"
			switch {
			case r == '\n':
				hint = "this field is a single line"
			case multiline:
				hint += ", and lines end in \\n alone"
			}
			return fmt.Errorf("contains %s (%U) at character %d; %s", kind, r, chars, hint)
		}
		i += size
	}
	return nil
}

// unsafeTextRune returns what kind of character r is if ValidDisplayText
// refuses it, or "" if r is allowed.
func unsafeTextRune(r rune, multiline bool) string {
	switch {
	case r == '\t':
		return ""
	case r == '\n':
		if multiline {
			return ""
		}
		return "a line break"
	case r == '\r':
		return "a carriage return"
	case r == 0x1b:
		return "an escape character, which starts terminal control sequences"
	case r < 0x20:
		return "a control character"
	case r == 0x7f:
		return "the DEL control character"
	case r >= 0x80 && r <= 0x9f:
		return "a C1 control character"
	case r == 0x061c || r == 0x200e || r == 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069:
		return "a bidirectional text control"
	case r >= 0x200b && r <= 0x200d || r == 0x2060:
		return "a zero-width character"
	case r == 0x2028 || r == 0x2029:
		return "a line or paragraph separator"
	case r == 0xfeff:
		return "a byte-order mark (zero-width no-break space)"
	case r == utf8.RuneError:
		return "the replacement character, which stands for bytes that were not valid UTF-8"
	case unicode.Is(unicode.Cf, r):
		return "an invisible formatting character"
	}
	return ""
}
