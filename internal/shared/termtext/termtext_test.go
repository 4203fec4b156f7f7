package termtext

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// attacks are the kinds of text an agent can use against a terminal, one
// of each class; the fuzz tests start from them too.
var attacks = []struct {
	name, in, line string
}{
	{"ESC alone", "a\x1bb", `a\x1bb`},
	{"CSI erase line, cursor to column 1", "RUN curl x|sh \x1b[2K\x1b[1G  RUN true", `RUN curl x|sh \x1b[2K\x1b[1G  RUN true`},
	{"CSI conceal", "ok\x1b[8m hidden", `ok\x1b[8m hidden`},
	{"OSC window title, BEL", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
	{"OSC 52 clipboard, ST", "\x1b]52;c;cm0gLXJmIH4=\x1b\\", `\x1b]52;c;cm0gLXJmIH4=\x1b\`},
	{"carriage return", "safe\rEVIL", `safe\rEVIL`},
	{"backspace", "rm\x08\x08ls", `rm\x08\x08ls`},
	{"tab", "a\tb", `a\tb`},
	{"NUL", "a\x00b", `a\x00b`},
	{"DEL", "a\x7fb", `a\x7fb`},
	{"C1 CSI U+009B", "a\u009b2Jb", `a\u009b2Jb`},
	{"C1 NEL U+0085", "a\u0085b", `a\u0085b`},
	{"bidi override U+202E", "invoice\u202eexe.pdf", `invoice\u202eexe.pdf`},
	{"bidi isolate U+2066", "a\u2066b\u2069", `a\u2066b\u2069`},
	{"Arabic letter mark U+061C", "a\u061cb", `a\u061cb`},
	{"zero-width space", "api.git\u200bhub.com", `api.git\u200bhub.com`},
	{"zero-width joiner", "a\u200db", `a\u200db`},
	{"byte-order mark", "\ufeffRUN x", `\ufeffRUN x`},
	{"soft hyphen", "a\u00adb", `a\u00adb`},
	{"line separator U+2028", "a\u2028b", `a\u2028b`},
	{"paragraph separator U+2029", "a\u2029b", `a\u2029b`},
	{"tag characters", "ok\U000e0041\U000e0042", `ok\U000e0041\U000e0042`},
	{"private use", "a\ue000b", `a\ue000b`},
	{"replacement character", "a\ufffdb", `a\ufffdb`},
	{"invalid UTF-8", "a\xffb\xc2", `a\xffb\xc2`},
	{"encoded C1 split from its lead byte", "\xc2" + "x\x9b", `\xc2x\x9b`},
	{"newline on one line", "reason\nproposal 0 approved", `reason\nproposal 0 approved`},
}

func TestLine(t *testing.T) {
	for _, tc := range attacks {
		t.Run(tc.name, func(t *testing.T) {
			if got := Line(tc.in); got != tc.line {
				t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.line)
			}
		})
	}
}

func TestPrintableTextIsUnchanged(t *testing.T) {
	for _, s := range []string{
		"", "plain ASCII with spaces and punctuation: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
		`a literal \x1b stays as it is`, "héllo wörld", "日本語のテキスト", "emoji 🙂 and flags 🇫🇷",
		"combining e\u0301", "no-break\u00a0space", "Ελληνικά", "עברית ומספרים 123", "العربية",
	} {
		if got := Line(s); got != s {
			t.Errorf("Line(%q) = %q, want it unchanged", s, got)
		}
		if got := Block(s, "  "); got != s {
			t.Errorf("Block(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestBlockIndentsContinuationLines(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"one line", "just this", "just this"},
		{"a forged header", "I need it\nproposal 0123 approved\n", "I need it\n    proposal 0123 approved\n    "},
		{"escapes inside lines", "a\x1b[1A\r\nb\u202e", "a\\x1b[1A\\r\n    b\\u202e"},
		{"blank lines", "a\n\nb", "a\n    \n    b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Block(tc.in, "    "); got != tc.want {
				t.Errorf("Block(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestEscapesEverythingTheContractRefuses walks every code point: what
// contract.ValidDisplayText refuses in a multi-line field, Block escapes.
// The two lists are kept apart on purpose (the contract names classes for
// its messages; the escaper escapes whatever is not graphic), so this is
// what keeps the escaper from falling behind.
func TestEscapesEverythingTheContractRefuses(t *testing.T) {
	refused := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue // surrogates cannot be encoded in UTF-8
		}
		s := string(r)
		if contract.ValidDisplayText(s, true) == nil {
			continue
		}
		refused++
		if got := Block(s, "  "); got == s || !isASCIIGraphic(got) {
			t.Errorf("contract refuses %U but Block gives %q", r, got)
		}
	}
	if refused < 200 {
		t.Fatalf("the contract refused only %d code points; the walk is broken", refused)
	}
}

func isASCIIGraphic(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// checkEscaped asserts the properties every escaped string has.
func checkEscaped(t *testing.T, in, out string, multiline bool, indent string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("output %q of %q is not valid UTF-8", out, in)
	}
	for i, r := range out {
		if r == '\n' && multiline {
			if !strings.HasPrefix(out[i+1:], indent) {
				t.Fatalf("output %q of %q has a line that does not start with the indent", out, in)
			}
			continue
		}
		if !unicode.IsGraphic(r) || r == utf8.RuneError {
			t.Fatalf("output %q of %q contains %U", out, in, r)
		}
	}
	if err := contract.ValidDisplayText(out, multiline); err != nil {
		t.Fatalf("output %q of %q is not display text: %v", out, in, err)
	}
	if again := Line(out); !multiline && again != out {
		t.Fatalf("escaping is not idempotent: %q became %q", out, again)
	}
}

// printableOnly reports whether s is valid UTF-8 of graphic characters
// only (and '\n' when nl), which the escaper must leave unchanged.
func printableOnly(s string, nl bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !(r == '\n' && nl) && (!unicode.IsGraphic(r) || r == utf8.RuneError) {
			return false
		}
	}
	return true
}

func FuzzLine(f *testing.F) {
	for _, tc := range attacks {
		f.Add(tc.in)
	}
	f.Add("héllo 世界 🙂")
	f.Fuzz(func(t *testing.T, s string) {
		out := Line(s)
		checkEscaped(t, s, out, false, "")
		if printableOnly(s, false) && out != s {
			t.Fatalf("printable %q became %q", s, out)
		}
	})
}

func FuzzBlock(f *testing.F) {
	for _, tc := range attacks {
		f.Add(tc.in)
	}
	f.Add("first\nsecond line\n\nthird 🙂")
	const indent = "  | "
	f.Fuzz(func(t *testing.T, s string) {
		out := Block(s, indent)
		checkEscaped(t, s, out, true, indent)
		if printableOnly(s, true) && out != strings.ReplaceAll(s, "\n", "\n"+indent) {
			t.Fatalf("printable %q became %q", s, out)
		}
	})
}

// TestEncodingJSONLeavesSomeAsTheyAre records why JSON exists: what
// encoding/json writes unescaped.
func TestEncodingJSONLeavesSomeAsTheyAre(t *testing.T) {
	raw, err := json.Marshal("del\x7f c1\u009b bidi\u202e zw\u200b")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"\x7f", "\u009b", "\u202e", "\u200b"} {
		if !strings.Contains(string(raw), s) {
			t.Errorf("encoding/json now escapes %q (%s); update JSON's comment", s, raw)
		}
	}
	if esc, _ := json.Marshal("ls\u2028ps\u2029esc\x1b"); strings.ContainsAny(string(esc), "\u2028\u2029\x1b") {
		t.Errorf("encoding/json left a separator or ESC raw: %s", esc)
	}
}

func TestJSON(t *testing.T) {
	type doc struct {
		S   string          `json:"s"`
		Raw json.RawMessage `json:"raw"`
	}
	var hostile strings.Builder
	for _, tc := range attacks {
		hostile.WriteString(tc.in)
	}
	in := doc{S: hostile.String(), Raw: json.RawMessage("{\"k\":\"del\x7f c1\u009b bidi\u202e tag\U000e0041 bad\xff\"}")}
	enc, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out := JSON(enc)
	for i, r := range string(out) {
		if r != '\n' && (r < 0x20 || r >= 0x7f) {
			t.Fatalf("JSON output has %U at byte %d: %s", r, i, out)
		}
	}
	var before, after doc
	if err := json.Unmarshal(enc, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &after); err != nil {
		t.Fatalf("JSON output does not decode: %v\n%s", err, out)
	}
	if before.S != after.S {
		t.Errorf("string changed meaning:\n%q\n%q", before.S, after.S)
	}
	var rawBefore, rawAfter any
	_ = json.Unmarshal(before.Raw, &rawBefore)
	_ = json.Unmarshal(after.Raw, &rawAfter)
	if diff := cmp.Diff(rawBefore, rawAfter); diff != "" {
		t.Errorf("raw message changed meaning (-before +after):\n%s", diff)
	}
	if plain := []byte("{\n  \"a\": \"héllo 🙂\"\n}"); string(JSON(plain)) != string(plain) {
		t.Errorf("printable JSON changed: %s", JSON(plain))
	}
}
