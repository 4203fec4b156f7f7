package contract_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

var when = time.Date(2025, 12, 2, 15, 4, 5, 0, time.UTC)

func proposal(tool contract.Tool, payload string) *contract.Proposal {
	return &contract.Proposal{
		Version:       1,
		ID:            "0123456789abcdef0123456789abcdef",
		Bottle:        "dev",
		Tool:          tool,
		Payload:       json.RawMessage(payload),
		Justification: "the build needs the package index",
		CreatedAt:     when,
	}
}

func TestProposalValidatePayloads(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	list := func(n int, s string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = `"` + s + `"`
		}
		return "[" + strings.Join(items, ",") + "]"
	}
	for _, tc := range []struct {
		name    string
		tool    contract.Tool
		payload string
		wants   []string
	}{
		{"egress host", contract.ToolEgressBlock, `{"host":"pypi.org"}`, nil},
		{"egress full", contract.ToolEgressBlock, `{"host":"*.pythonhosted.org","path_prefixes":["/packages/"],"methods":["GET","HEAD"]}`, nil},
		{"egress bad host", contract.ToolEgressBlock, `{"host":"https://pypi.org/simple"}`, []string{`payload.host: "https://pypi.org/simple" has a scheme; write the bare host name "pypi.org"`}},
		{"egress no host", contract.ToolEgressBlock, `{}`, []string{"payload.host: host is empty"}},
		{"egress bad path", contract.ToolEgressBlock, `{"host":"a.test","path_prefixes":["/ok","/a/../b"]}`, []string{`payload.path_prefixes[1]: path prefix "/a/../b" contains ".."`}},
		{"egress bad method", contract.ToolEgressBlock, `{"host":"a.test","methods":["GET","CONNECT","GET"]}`, []string{"payload.methods[1]: CONNECT cannot be allowed", `payload.methods[2]: "GET" duplicates payload.methods[0]`}},
		{"egress too many paths", contract.ToolEgressBlock, `{"host":"a.test","path_prefixes":` + list(65, "/a") + `}`, []string{"payload.path_prefixes: has 65 entries; the limit is 64"}},
		{"egress unknown field", contract.ToolEgressBlock, `{"host":"a.test","auth":"x"}`, []string{`payload: does not fit egress-block: unknown field "auth"; known fields are host, path_prefixes, methods`}},
		{"egress case variant", contract.ToolEgressBlock, `{"HOST":"a.test"}`, []string{`unknown field "HOST"`}},
		{"egress duplicate field", contract.ToolEgressBlock, `{"host":"a.test","host":"evil.test"}`, []string{`field "host" appears more than once`}},
		{"egress trailing data", contract.ToolEgressBlock, `{"host":"a.test"} {}`, []string{"unexpected data after the JSON object"}},
		{"egress wrong type", contract.ToolEgressBlock, `{"host":"a.test","methods":"GET"}`, []string{"payload: does not fit egress-block: json: cannot unmarshal"}},
		{"egress null", contract.ToolEgressBlock, `null`, []string{"payload: does not fit egress-block: must be a JSON object"}},
		{"egress array", contract.ToolEgressBlock, `[]`, []string{"must be a JSON object"}},
		{"missing payload", contract.ToolEgressBlock, ``, []string{"payload: is required"}},
		{"huge payload", contract.ToolEgressBlock, `{"host":"` + long(contract.MaxPayloadBytes) + `"}`, []string{"payload: is 65547 bytes; the limit is 65536"}},

		{"dlp", contract.ToolDLPBlock, `{"host":"api.example.test","rule_id":"generic-api-key"}`, nil},
		{"dlp bad", contract.ToolDLPBlock, `{"host":"","rule_id":"Generic"}`, []string{"payload.host: host is empty", "payload.rule_id: rule id \"Generic\" has upper-case letters"}},
		{"dlp missing rule", contract.ToolDLPBlock, `{"host":"a.test"}`, []string{"payload.rule_id: rule id is empty"}},
		{"dlp repo", contract.ToolDLPBlock, `{"repo":"demo","fingerprint":"` + fp + `"}`, nil},
		{"dlp repo with its rule", contract.ToolDLPBlock, `{"repo":"demo","rule_id":"github-pat","fingerprint":"` + fp + `"}`, nil},
		{"dlp repo other rule", contract.ToolDLPBlock, `{"repo":"demo","rule_id":"generic-api-key","fingerprint":"` + fp + `"}`,
			[]string{`payload.rule_id: is "generic-api-key" but the fingerprint's rule is "github-pat"`}},
		{"dlp repo and host", contract.ToolDLPBlock, `{"host":"a.test","repo":"demo","fingerprint":"` + fp + `"}`,
			[]string{"payload.host: is set with repo; give host and rule_id for a request egress refused, or repo and fingerprint"}},
		{"dlp neither", contract.ToolDLPBlock, `{"rule_id":"github-pat"}`,
			[]string{"payload.host: host is empty; give host and rule_id for a request egress refused, or repo and fingerprint for a push the git gate refused"}},
		{"dlp repo no fingerprint", contract.ToolDLPBlock, `{"repo":"demo","rule_id":"github-pat"}`,
			[]string{"payload.fingerprint: is required with repo; copy the fingerprint the git gate printed"}},
		{"dlp repo bad name", contract.ToolDLPBlock, `{"repo":"demo.git","fingerprint":"` + fp + `"}`, []string{`payload.repo: repo name "demo.git" ends in ".git"`}},
		{"dlp repo short commit", contract.ToolDLPBlock, `{"repo":"demo","fingerprint":"4f1c9a0:config/app.yaml:github-pat:3"}`,
			[]string{`payload.fingerprint: commit id "4f1c9a0" is 7 characters; give the full 40-digit id the gate printed`}},
		{"dlp repo whole rule", contract.ToolDLPBlock, `{"repo":"demo","fingerprint":"github-pat"}`, []string{"payload.fingerprint: fingerprint has no ':'"}},
		{"dlp host with fingerprint", contract.ToolDLPBlock, `{"host":"a.test","rule_id":"github-pat","fingerprint":"` + fp + `"}`,
			[]string{"payload.fingerprint: is only for a push the git gate refused"}},

		{"capability apt", contract.ToolCapabilityBlock, `{"apt_packages":["jq","libssl3","g++","python3.12-venv"]}`, nil},
		{"capability lines", contract.ToolCapabilityBlock, `{"dockerfile_lines":["RUN pip install --no-cache-dir tox","ENV A=1"]}`, nil},
		{"capability nothing", contract.ToolCapabilityBlock, `{}`, []string{"payload: asks for nothing; give apt_packages, dockerfile_lines or both"}},
		{"capability empty lists", contract.ToolCapabilityBlock, `{"apt_packages":[],"dockerfile_lines":[]}`, []string{"payload: asks for nothing"}},
		{"apt short", contract.ToolCapabilityBlock, `{"apt_packages":["x"]}`, []string{`payload.apt_packages[0]: package name "x" is too short`}},
		{"apt upper", contract.ToolCapabilityBlock, `{"apt_packages":["Jq"]}`, []string{"must start with a lower-case letter or digit"}},
		{"apt option", contract.ToolCapabilityBlock, `{"apt_packages":["--allow-unauthenticated"]}`, []string{"must start with a lower-case letter or digit"}},
		{"apt version", contract.ToolCapabilityBlock, `{"apt_packages":["jq=1.6"]}`, []string{`contains '='`}},
		{"apt space", contract.ToolCapabilityBlock, `{"apt_packages":["jq curl"]}`, []string{"contains a space"}},
		{"apt too long", contract.ToolCapabilityBlock, `{"apt_packages":["` + long(129) + `"]}`, []string{"the limit is 128"}},
		{"apt too many", contract.ToolCapabilityBlock, `{"apt_packages":` + list(65, "jq") + `}`, []string{"payload.apt_packages: has 65 entries"}},
		{"line newline", contract.ToolCapabilityBlock, `{"dockerfile_lines":["RUN a\nRUN b"]}`, []string{"payload.dockerfile_lines[0]: line contains a line break"}},
		{"line carriage return", contract.ToolCapabilityBlock, `{"dockerfile_lines":["RUN a\rRUN b"]}`, []string{"line contains a carriage return (U+000D)"}},
		{"line nul", contract.ToolCapabilityBlock, `{"dockerfile_lines":["RUN a\u0000"]}`, []string{"line contains a control character (U+0000) at character 6"}},
		{"line continuation", contract.ToolCapabilityBlock, `{"dockerfile_lines":["RUN apt-get install \\ "]}`, []string{`line ends in '\'`}},
		{"line empty", contract.ToolCapabilityBlock, `{"dockerfile_lines":["  "]}`, []string{"line is empty"}},
		{"line too long", contract.ToolCapabilityBlock, `{"dockerfile_lines":["RUN ` + long(997) + `"]}`, []string{"line is 1001 characters; the limit is 1000"}},
		{"line longest", contract.ToolCapabilityBlock, `{"dockerfile_lines":["RUN ` + long(996) + `"]}`, nil},

		{"cred", contract.ToolCredBlock, `{"host":"api.github.com","scheme":"token","purpose":"open pull requests"}`, nil},
		{"cred bad", contract.ToolCredBlock, `{"host":"api.github.com:443","scheme":"Basic","purpose":" "}`, []string{"payload.host: \"api.github.com:443\" has a port", `payload.scheme: "Basic" is not a supported scheme`, "payload.purpose: is required"}},
		{"cred long purpose", contract.ToolCredBlock, `{"host":"a.test","scheme":"Bearer","purpose":"` + long(1001) + `"}`, []string{"payload.purpose: is 1001 characters; the limit is 1000"}},

		{"list tool", contract.ToolListEgressRoutes, `{}`, []string{"tool: list-egress-routes makes no proposals"}},
		{"unknown tool", "shell", `{}`, []string{`tool: "shell" is not a supervise tool; the tools are list-egress-routes, egress-block`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkProblems(t, proposal(tc.tool, tc.payload).Validate(), tc.wants...)
		})
	}
}

// fp is a well-formed gate fingerprint.
const fp = "4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:config/app.yaml:github-pat:3"

func TestProposalValidateFields(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*contract.Proposal)
		wants []string
	}{
		{"good", func(*contract.Proposal) {}, nil},
		{"version", func(p *contract.Proposal) { p.Version = 2 }, []string{"version: unsupported proposal version 2"}},
		{"no id", func(p *contract.Proposal) { p.ID = "" }, []string{"id: proposal id is empty"}},
		{"path id", func(p *contract.Proposal) { p.ID = "../../etc/x" }, []string{`id: proposal id "../../etc/x" contains '.'`}},
		{"long id", func(p *contract.Proposal) { p.ID = strings.Repeat("a", 65) }, []string{"the limit is 64"}},
		{"bad bottle", func(p *contract.Proposal) { p.Bottle = "Dev" }, []string{"bottle: bottle slug \"Dev\" must start with a lower-case letter"}},
		{"no justification", func(p *contract.Proposal) { p.Justification = " \n" }, []string{"justification: is required"}},
		{"long justification", func(p *contract.Proposal) { p.Justification = strings.Repeat("é", 4001) }, []string{"justification: is 4001 characters; the limit is 4000"}},
		{"longest justification", func(p *contract.Proposal) { p.Justification = strings.Repeat("é", 4000) }, nil},
		{"no time", func(p *contract.Proposal) { p.CreatedAt = time.Time{} }, []string{"created_at: is required"}},
		{"all at once", func(p *contract.Proposal) { *p = contract.Proposal{Tool: contract.ToolEgressBlock} },
			[]string{"version", "id", "bottle", "payload: is required", "justification", "created_at"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := proposal(contract.ToolEgressBlock, `{"host":"pypi.org"}`)
			tc.edit(p)
			checkProblems(t, p.Validate(), tc.wants...)
		})
	}
}

func TestDecodePayload(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tool    contract.Tool
		payload string
		want    any
		err     string
	}{
		{"egress", contract.ToolEgressBlock, `{"host":"pypi.org","methods":["GET"]}`, &contract.EgressBlockPayload{Host: "pypi.org", Methods: []string{"GET"}}, ""},
		{"dlp", contract.ToolDLPBlock, `{"host":"a.test","rule_id":"r1"}`, &contract.DLPBlockPayload{Host: "a.test", RuleID: "r1"}, ""},
		{"dlp repo", contract.ToolDLPBlock, `{"repo":"demo","fingerprint":"` + fp + `"}`, &contract.DLPBlockPayload{Repo: "demo", Fingerprint: fp}, ""},
		{"capability", contract.ToolCapabilityBlock, `{"apt_packages":["jq"]}`, &contract.CapabilityBlockPayload{AptPackages: []string{"jq"}}, ""},
		{"cred", contract.ToolCredBlock, `{"host":"a.test","scheme":"Bearer","purpose":"p"}`, &contract.CredBlockPayload{Host: "a.test", Scheme: contract.AuthBearer, Purpose: "p"}, ""},
		{"invalid payload", contract.ToolEgressBlock, `{"host":"a b"}`, nil, "payload.host: host \"a b\" contains whitespace"},
		{"wrong shape", contract.ToolDLPBlock, `{"host":"a.test","path_prefixes":["/"]}`, nil, `payload: does not fit dlp-block: unknown field "path_prefixes"`},
		{"list tool", contract.ToolListEgressRoutes, `{}`, nil, "tool: list-egress-routes makes no proposals"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := proposal(tc.tool, tc.payload).DecodePayload()
			checkErr(t, err, tc.err)
			if tc.err == "" {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("DecodePayload mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestPayloadValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    interface{ Validate() error }
		want []string
	}{
		{"egress", &contract.EgressBlockPayload{Host: "a.test", PathPrefixes: []string{"x"}}, []string{"path_prefixes[0]: \"x\" must start with '/'"}},
		{"dlp", &contract.DLPBlockPayload{Host: "a.test"}, []string{"rule_id: rule id is empty"}},
		{"dlp repo", &contract.DLPBlockPayload{Repo: "demo", Fingerprint: fp}, nil},
		{"capability", &contract.CapabilityBlockPayload{}, []string{"asks for nothing"}},
		{"cred", &contract.CredBlockPayload{Host: "a.test", Scheme: contract.AuthToken, Purpose: "x"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkProblems(t, tc.p.Validate(), tc.want...)
		})
	}
}

func TestNewProposalID(t *testing.T) {
	seen := make(map[string]bool)
	for range 100 {
		id := contract.NewProposalID()
		if err := contract.ValidProposalID(id); err != nil {
			t.Fatalf("NewProposalID() = %q: %v", id, err)
		}
		if len(id) != 32 || strings.ToLower(id) != id {
			t.Fatalf("NewProposalID() = %q; want 32 lower-case hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewProposalID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidProposalID(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"hex", "0123456789abcdef", ""},
		{"mixed", "Ab_9-z", ""},
		{"longest", strings.Repeat("a", 64), ""},
		{"empty", "", "proposal id is empty"},
		{"too long", strings.Repeat("a", 65), "the limit is 64"},
		{"slash", "a/b", "contains '/'"},
		{"dot", "a.b", "contains '.'"},
		{"space", "a b", "contains a space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, contract.ValidProposalID(tc.in), tc.want)
		})
	}
}

func TestQueueFileNames(t *testing.T) {
	if got, want := contract.ProposalFileName("abc"), "abc.proposal.json"; got != want {
		t.Errorf("ProposalFileName = %q, want %q", got, want)
	}
	if got, want := contract.ResponseFileName("abc"), "abc.response.json"; got != want {
		t.Errorf("ResponseFileName = %q, want %q", got, want)
	}
}

func response(status contract.Status) *contract.Response {
	return &contract.Response{Version: 1, ID: "abc", Status: status, DecidedAt: when}
}

func TestResponseValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		r     *contract.Response
		wants []string
	}{
		{"approved", response(contract.StatusApproved), nil},
		{"approved with notes and diff", func() *contract.Response {
			r := response(contract.StatusApproved)
			r.Notes, r.AppliedDiff = "ok", "+  - host: pypi.org\n"
			return r
		}(), nil},
		{"rejected with notes", func() *contract.Response {
			r := response(contract.StatusRejected)
			r.Notes = "use the mirror"
			return r
		}(), nil},
		{"edited", func() *contract.Response {
			r := response(contract.StatusEdited)
			r.Payload = json.RawMessage(`{"host":"files.pythonhosted.org"}`)
			return r
		}(), nil},

		{"pending", response(contract.StatusPending), []string{"status: pending is not a decision; use approved, rejected or edited"}},
		{"no status", response(""), []string{`status: "" is not a decision`}},
		{"unknown status", response("maybe"), []string{`status: "maybe" is not a decision`}},
		{"rejected without notes", response(contract.StatusRejected), []string{"notes: is required when rejecting"}},
		{"rejected with diff", func() *contract.Response {
			r := response(contract.StatusRejected)
			r.Notes, r.AppliedDiff = "no", "+x"
			return r
		}(), []string{"applied_diff: must be empty when rejecting"}},
		{"edited without payload", response(contract.StatusEdited), []string{"payload: is required when the status is edited"}},
		{"edited null payload", func() *contract.Response {
			r := response(contract.StatusEdited)
			r.Payload = json.RawMessage(`null`)
			return r
		}(), []string{"payload: must be a JSON object"}},
		{"edited bad json", func() *contract.Response {
			r := response(contract.StatusEdited)
			r.Payload = json.RawMessage(`{"host":`)
			return r
		}(), []string{"payload: must be a JSON object"}},
		{"approved with payload", func() *contract.Response {
			r := response(contract.StatusApproved)
			r.Payload = json.RawMessage(`{"host":"x.test"}`)
			return r
		}(), []string{"payload: is allowed only when the status is edited"}},
		{"long notes", func() *contract.Response {
			r := response(contract.StatusApproved)
			r.Notes = strings.Repeat("n", 4001)
			return r
		}(), []string{"notes: is 4001 characters; the limit is 4000"}},
		{"everything wrong", &contract.Response{Status: contract.StatusRejected, AppliedDiff: "x"},
			[]string{"version", "id", "notes", "applied_diff", "decided_at"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkProblems(t, tc.r.Validate(), tc.wants...)
		})
	}
}

func TestEditedPayloadChecksAgainstTool(t *testing.T) {
	r := response(contract.StatusEdited)
	r.Payload = json.RawMessage(`{"host":"a.test","rule_id":"x"}`)
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	_, err := contract.DecodeToolPayload(contract.ToolEgressBlock, r.Payload)
	checkErr(t, err, `payload: does not fit egress-block: unknown field "rule_id"`)
	if _, err := contract.DecodeToolPayload(contract.ToolDLPBlock, r.Payload); err != nil {
		t.Errorf("DecodeToolPayload(dlp-block): %v", err)
	}
}

func TestProposalJSONRoundTrip(t *testing.T) {
	p := proposal(contract.ToolEgressBlock, `{"host":"pypi.org","path_prefixes":["/simple/"]}`)
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := contract.ParseProposal(data)
	if err != nil {
		t.Fatalf("ParseProposal: %v\n%s", err, data)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestResponseJSONRoundTrip(t *testing.T) {
	for _, r := range []*contract.Response{
		response(contract.StatusApproved),
		{Version: 1, ID: "abc", Status: contract.StatusEdited, Notes: "narrowed", Payload: json.RawMessage(`{"host":"a.test"}`), AppliedDiff: "-a\n+b\n", DecidedAt: when.Local()},
	} {
		t.Run(string(r.Status), func(t *testing.T) {
			data, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := contract.ParseResponse(data)
			if err != nil {
				t.Fatalf("ParseResponse: %v\n%s", err, data)
			}
			if diff := cmp.Diff(r, got); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseProposalStrict(t *testing.T) {
	good := `"id":"abc","bottle":"dev","tool":"dlp-block","payload":{"host":"a.test","rule_id":"r"},"justification":"j","created_at":"2025-12-02T15:04:05Z"`
	for _, tc := range []struct {
		name, in, want string
	}{
		{"good", `{"version":1,` + good + `}`, ""},
		{"missing version", `{` + good + `}`, `version is required; add "version": 1`},
		{"version 2", `{"version":2,` + good + `}`, "unsupported proposal version 2; this build understands version 1 (upgrade bot-bottle)"},
		{"version string", `{"version":"1",` + good + `}`, `version must be the number 1, not "1"`},
		{"version null", `{"version":null,` + good + `}`, "version must be the number 1, not null"},
		{"unknown field", `{"version":1,"approved":true,` + good + `}`, `unknown field "approved"`},
		{"case variant", `{"version":1,"ID":"x",` + good + `}`, `unknown field "ID"`},
		{"duplicate", `{"version":1,` + good + `,"bottle":"prod"}`, `field "bottle" appears more than once`},
		{"not an object", `[1]`, "cannot unmarshal array"},
		{"validated", `{"version":1,"id":"abc","bottle":"dev","tool":"dlp-block","payload":{"host":"a.test","rule_id":"r"},"justification":"","created_at":"2025-12-02T15:04:05Z"}`, "justification: is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := contract.ParseProposal([]byte(tc.in))
			checkErr(t, err, tc.want)
		})
	}
}

func TestParseResponseVersion(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"good", `{"version":1,"id":"abc","status":"approved","decided_at":"2025-12-02T15:04:05Z"}`, ""},
		{"missing", `{"id":"abc","status":"approved","decided_at":"2025-12-02T15:04:05Z"}`, "version is required"},
		{"zero", `{"version":0,"id":"abc"}`, "unsupported response version 0"},
		{"two", `{"version":2,"id":"abc","status":"withdrawn"}`, "unsupported response version 2"},
		{"validated", `{"version":1,"id":"abc","status":"pending","decided_at":"2025-12-02T15:04:05Z"}`, "status: pending is not a decision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := contract.ParseResponse([]byte(tc.in))
			checkErr(t, err, tc.want)
		})
	}
}
