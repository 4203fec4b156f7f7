package contract_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// terminalAttacks are one character of each class the operator's terminal
// must never receive from an agent, with what the error calls it.
var terminalAttacks = []struct {
	name, char, want string
}{
	{"ESC (CSI)", "\x1b[2J", "an escape character, which starts terminal control sequences (U+001B)"},
	{"OSC", "\x1b]0;title\x07", "(U+001B)"},
	{"carriage return", "\r", "a carriage return (U+000D)"},
	{"backspace", "\b", "a control character (U+0008)"},
	{"NUL", "\x00", "a control character (U+0000)"},
	{"DEL", "\x7f", "the DEL control character (U+007F)"},
	{"C1 CSI", "\u009b", "a C1 control character (U+009B)"},
	{"bidi override", "\u202e", "a bidirectional text control (U+202E)"},
	{"bidi isolate", "\u2067", "a bidirectional text control (U+2067)"},
	{"left-to-right mark", "\u200e", "a bidirectional text control (U+200E)"},
	{"Arabic letter mark", "\u061c", "a bidirectional text control (U+061C)"},
	{"zero-width space", "\u200b", "a zero-width character (U+200B)"},
	{"zero-width joiner", "\u200d", "a zero-width character (U+200D)"},
	{"word joiner", "\u2060", "a zero-width character (U+2060)"},
	{"byte-order mark", "\ufeff", "a byte-order mark (zero-width no-break space) (U+FEFF)"},
	{"line separator", "\u2028", "a line or paragraph separator (U+2028)"},
	{"paragraph separator", "\u2029", "a line or paragraph separator (U+2029)"},
	{"soft hyphen", "\u00ad", "an invisible formatting character (U+00AD)"},
	{"tag character", "\U000e0041", "an invisible formatting character (U+E0041)"},
	{"replacement character", "\ufffd", "the replacement character, which stands for bytes that were not valid UTF-8 (U+FFFD)"},
	{"invalid UTF-8", "\xff", "is not valid UTF-8 (the byte 0xff at byte 4)"},
	{"truncated UTF-8", "\xe2\x80", "is not valid UTF-8 (the byte 0xe2 at byte 4)"},
}

func TestValidDisplayText(t *testing.T) {
	for _, tc := range terminalAttacks {
		t.Run(tc.name, func(t *testing.T) {
			for _, multiline := range []bool{false, true} {
				err := contract.ValidDisplayText("abc"+tc.char+"def", multiline)
				checkErr(t, err, tc.want)
				checkNoRaw(t, err, tc.char)
			}
		})
	}
	for _, tc := range []struct {
		name, in  string
		multiline bool
		want      string
	}{
		{"plain", "needs the package index", false, ""},
		{"tab", "a\tb", false, ""},
		{"non-Latin and emoji", "héllo 世界 עברית 🙂 e\u0301", false, ""},
		{"no-break space", "a\u00a0b", false, ""},
		{"newline where one line is asked", "a\nb", false, "contains a line break (U+000A) at character 2; this field is a single line"},
		{"newline in a multi-line field", "a\nb\n", true, ""},
		{"CRLF in a multi-line field", "a\r\nb", true, "contains a carriage return (U+000D) at character 2; text shown to the operator may contain only printable characters, spaces and tabs, and lines end in \\n alone"},
		{"counts characters, not bytes", "éé\x1b", false, "at character 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, contract.ValidDisplayText(tc.in, tc.multiline), tc.want)
		})
	}
}

// checkNoRaw asserts err's message does not carry the refused characters.
func checkNoRaw(t *testing.T, err error, char string) {
	t.Helper()
	if err == nil {
		return
	}
	if msg := err.Error(); contract.ValidDisplayText(msg, false) != nil || strings.Contains(msg, char) {
		t.Fatalf("error message echoes the refused text: %q", msg)
	}
}

// TestTerminalControlsInEveryProposalField puts each class of character in
// each agent-written field of each tool and expects Validate to refuse it,
// naming the field and the class.
func TestTerminalControlsInEveryProposalField(t *testing.T) {
	// Each field builds a proposal carrying x in one place.
	fields := []struct {
		field string
		make  func(x string) *contract.Proposal
	}{
		{"justification", func(x string) *contract.Proposal {
			p := proposal(contract.ToolEgressBlock, `{"host":"pypi.org"}`)
			p.Justification = "needs it " + x
			return p
		}},
		{"payload.host", func(x string) *contract.Proposal {
			return proposal(contract.ToolEgressBlock, payloadJSON(map[string]any{"host": "pypi.org" + x}))
		}},
		{"payload.path_prefixes[1]", func(x string) *contract.Proposal {
			return proposal(contract.ToolEgressBlock, payloadJSON(map[string]any{"host": "pypi.org", "path_prefixes": []string{"/a/", "/simple/" + x}}))
		}},
		{"payload.methods[0]", func(x string) *contract.Proposal {
			return proposal(contract.ToolEgressBlock, payloadJSON(map[string]any{"host": "pypi.org", "methods": []string{"GET" + x}}))
		}},
		{"payload.rule_id", func(x string) *contract.Proposal {
			return proposal(contract.ToolDLPBlock, payloadJSON(map[string]any{"host": "pypi.org", "rule_id": "generic" + x}))
		}},
		{"payload.apt_packages[0]", func(x string) *contract.Proposal {
			return proposal(contract.ToolCapabilityBlock, payloadJSON(map[string]any{"apt_packages": []string{"jq" + x}}))
		}},
		{"payload.dockerfile_lines[1]", func(x string) *contract.Proposal {
			return proposal(contract.ToolCapabilityBlock, payloadJSON(map[string]any{"dockerfile_lines": []string{"RUN true", "RUN curl -s x " + x + " RUN true"}}))
		}},
		{"payload.host", func(x string) *contract.Proposal {
			return proposal(contract.ToolCredBlock, payloadJSON(map[string]any{"host": "api.github.com" + x, "scheme": "token", "purpose": "p"}))
		}},
		{"payload.scheme", func(x string) *contract.Proposal {
			return proposal(contract.ToolCredBlock, payloadJSON(map[string]any{"host": "api.github.com", "scheme": "token" + x, "purpose": "p"}))
		}},
		{"payload.purpose", func(x string) *contract.Proposal {
			return proposal(contract.ToolCredBlock, payloadJSON(map[string]any{"host": "api.github.com", "scheme": "token", "purpose": "read " + x}))
		}},
	}
	for _, f := range fields {
		for _, tc := range terminalAttacks {
			t.Run(f.field+"/"+tc.name, func(t *testing.T) {
				p := f.make(tc.char)
				err := p.Validate()
				var fe *contract.FieldError
				if !errors.As(err, &fe) || fe.Field != f.field {
					t.Fatalf("Validate = %v; want a problem with %s", err, f.field)
				}
				checkNoRaw(t, err, tc.char)
				class := tc.want
				if strings.HasPrefix(class, "is not valid UTF-8") {
					// encoding/json has turned the bytes into U+FFFD.
					class = "U+FFFD"
					if f.field == "justification" {
						class = "is not valid UTF-8"
					}
				}
				if i := strings.Index(class, " (the byte"); i > 0 {
					class = class[:i]
				}
				if !strings.Contains(fe.Err.Error(), class) {
					t.Errorf("%s: %v; want it to say %q", fe.Field, fe.Err, class)
				}
			})
		}
	}
}

func payloadJSON(v map[string]any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestLineBreaksOnlyInMultiLineFields(t *testing.T) {
	p := proposal(contract.ToolCredBlock, `{"host":"a.test","scheme":"Bearer","purpose":"read\nwrite"}`)
	p.Justification = "first line\nsecond line\n"
	checkProblems(t, p.Validate(), "payload.purpose: contains a line break (U+000A) at character 5; this field is a single line")

	r := &contract.Response{Version: 1, ID: "abc", Status: contract.StatusRejected, Notes: "no.\nUse the mirror.", DecidedAt: time.Now()}
	checkProblems(t, r.Validate())
}

func TestResponseTextIsDisplayText(t *testing.T) {
	for _, tc := range terminalAttacks {
		t.Run(tc.name, func(t *testing.T) {
			r := &contract.Response{Version: 1, ID: "abc", Status: contract.StatusRejected, Notes: "no " + tc.char, DecidedAt: time.Now()}
			err := r.Validate()
			checkProblems(t, err, "notes: ")
			checkNoRaw(t, err, tc.char)
			r = &contract.Response{Version: 1, ID: "abc", Status: contract.StatusApproved, AppliedDiff: "+ host: a\n" + tc.char, DecidedAt: time.Now()}
			checkProblems(t, r.Validate(), "applied_diff: ")
		})
	}
}
