package proposals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/internal/shared/queue"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
	"github.com/google/go-cmp/cmp"
)

type fakeReloader struct {
	err   error
	calls []string
}

func (f *fakeReloader) ReloadEgress(_ context.Context, slug string) error {
	f.calls = append(f.calls, slug)
	return f.err
}

const startRoutes = `version: 1
routes:
  - host: api.example.test
    path_allowlist: ["/v1/"]
    methods: [GET]
`

func setup(t *testing.T, routes string) (*Operator, *fakeReloader) {
	t.Helper()
	home := t.TempDir()
	if routes != "" {
		if err := os.MkdirAll(filepath.Dir(testutil.BottleDir(t, home, "dev").RoutesFile()), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(testutil.BottleDir(t, home, "dev").RoutesFile(), []byte(routes), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := &fakeReloader{}
	return &Operator{Home: home, Reloader: r}, r
}

func queueProposal(t *testing.T, o *Operator, tool contract.Tool, payload string) string {
	t.Helper()
	p := &contract.Proposal{Version: 1, ID: contract.NewProposalID(), Bottle: "dev", Tool: tool,
		Payload: json.RawMessage(payload), Justification: "because", CreatedAt: time.Now().UTC()}
	if err := (queue.Queue{Dir: testutil.BottleDir(t, o.Home, "dev").QueueDir()}).Put(p); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func routesNow(t *testing.T, o *Operator) *contract.RoutesFile {
	t.Helper()
	data, err := os.ReadFile(testutil.BottleDir(t, o.Home, "dev").RoutesFile())
	if err != nil {
		t.Fatal(err)
	}
	rf, err := contract.ParseRoutes(data)
	if err != nil {
		t.Fatal(err)
	}
	return rf
}

func TestApproveEgressBlockAddsRouteAndReloads(t *testing.T) {
	o, r := setup(t, startRoutes)
	id := queueProposal(t, o, contract.ToolEgressBlock, `{"host":"new.example.test","path_prefixes":["/x/"]}`)
	d, err := o.Approve(t.Context(), id, "ok")
	if err != nil {
		t.Fatal(err)
	}
	rf := routesNow(t, o)
	if route, ok := rf.Lookup("new.example.test"); !ok || route.PathAllowlist[0] != "/x/" {
		t.Fatalf("route not added: %+v", rf.Routes)
	}
	if len(r.calls) != 1 || r.calls[0] != "dev" {
		t.Errorf("reloads = %v", r.calls)
	}
	if !strings.Contains(d.Change.Diff, "+ ") || !strings.Contains(d.Change.Diff, "new.example.test") {
		t.Errorf("diff = %q", d.Change.Diff)
	}
	e, _ := (queue.Queue{Dir: testutil.BottleDir(t, o.Home, "dev").QueueDir()}).Get(id)
	if e.Response == nil || e.Response.Status != contract.StatusApproved || e.Response.AppliedDiff == "" {
		t.Errorf("response = %+v", e.Response)
	}
	audit, _ := os.ReadFile(testutil.BottleDir(t, o.Home, "dev").AuditFile())
	if !strings.Contains(string(audit), id) || !strings.Contains(string(audit), `"decision":"allow"`) {
		t.Errorf("audit = %s", audit)
	}
	if _, err := o.Approve(t.Context(), id, ""); err == nil || !strings.Contains(err.Error(), "already approved") {
		t.Errorf("second approve = %v", err)
	}
}

func TestEgressBlockWidensAnExistingRoute(t *testing.T) {
	for _, tc := range []struct {
		name, payload string
		paths         []string
		methods       []string
	}{
		{"adds a prefix and a method", `{"host":"API.example.test","path_prefixes":["/v2/"],"methods":["POST"]}`, []string{"/v1/", "/v2/"}, []string{"GET", "POST"}},
		{"a prefix, every method asked", `{"host":"api.example.test","path_prefixes":["/v2/"]}`, []string{"/v1/", "/v2/"}, []string{"GET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := setup(t, startRoutes)
			id := queueProposal(t, o, contract.ToolEgressBlock, tc.payload)
			if _, err := o.Approve(t.Context(), id, ""); err != nil {
				t.Fatal(err)
			}
			rf := routesNow(t, o)
			if len(rf.Routes) != 1 {
				t.Fatalf("routes = %+v, want the one route widened", rf.Routes)
			}
			if strings.Join(rf.Routes[0].PathAllowlist, ",") != strings.Join(tc.paths, ",") || strings.Join(rf.Routes[0].Methods, ",") != strings.Join(tc.methods, ",") {
				t.Errorf("route = %+v", rf.Routes[0])
			}
		})
	}
}

// An egress-block proposal carries no ports: approving it adds a route on
// the default port (443, HTTPS), and widening a route keeps the ports the
// operator listed.
func TestEgressBlockLeavesPortsToTheOperator(t *testing.T) {
	o, _ := setup(t, startRoutes+"  - host: ports.example.test\n    path_allowlist: [\"/a/\"]\n    ports: [8443, 80]\n")
	for _, payload := range []string{`{"host":"new.example.test"}`, `{"host":"ports.example.test","path_prefixes":["/b/"]}`} {
		if _, err := o.Approve(t.Context(), queueProposal(t, o, contract.ToolEgressBlock, payload), ""); err != nil {
			t.Fatal(err)
		}
	}
	rf := routesNow(t, o)
	if r, ok := rf.Lookup("new.example.test"); !ok || r.Ports != nil || !r.AllowsPort(contract.HTTPSPort, true) || r.AllowsPort(80, false) {
		t.Errorf("approved new route = %+v; want no ports (443 over HTTPS only)", r)
	}
	if r, ok := rf.Lookup("ports.example.test"); !ok || strings.Join(r.PathAllowlist, ",") != "/a/,/b/" || fmt.Sprint(r.Ports) != "[8443 80]" {
		t.Errorf("widened route = %+v; want its paths widened and its ports kept", r)
	}
}

func TestDLPBlockAddsAnException(t *testing.T) {
	o, _ := setup(t, startRoutes)
	id := queueProposal(t, o, contract.ToolDLPBlock, `{"host":"api.example.test","rule_id":"generic-api-key"}`)
	if _, err := o.Approve(t.Context(), id, ""); err != nil {
		t.Fatal(err)
	}
	if got := routesNow(t, o).Routes[0].DLPAllow; len(got) != 1 || got[0] != "generic-api-key" {
		t.Errorf("dlp_allow = %v", got)
	}
	missing := queueProposal(t, o, contract.ToolDLPBlock, `{"host":"other.example.test","rule_id":"x"}`)
	if _, err := o.Approve(t.Context(), missing, ""); err == nil || !strings.Contains(err.Error(), "stays pending") {
		t.Errorf("dlp-block for an unrouted host = %v", err)
	}
}

func TestFailedReloadRestoresRoutesAndLeavesPending(t *testing.T) {
	o, r := setup(t, startRoutes)
	r.err = errors.New("permission denied")
	before, _ := os.ReadFile(testutil.BottleDir(t, o.Home, "dev").RoutesFile())
	id := queueProposal(t, o, contract.ToolEgressBlock, `{"host":"new.example.test"}`)
	_, err := o.Approve(t.Context(), id, "")
	if err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "stays pending") {
		t.Fatalf("approve with a failing reload = %v", err)
	}
	after, _ := os.ReadFile(testutil.BottleDir(t, o.Home, "dev").RoutesFile())
	if string(before) != string(after) {
		t.Error("routes file changed although the apply failed")
	}
	e, _ := (queue.Queue{Dir: testutil.BottleDir(t, o.Home, "dev").QueueDir()}).Get(id)
	if e.Response != nil {
		t.Error("a failed apply recorded a decision")
	}
}

func TestNotRunningEgressKeepsTheChangeWithAWarning(t *testing.T) {
	o, r := setup(t, startRoutes)
	r.err = ErrNotRunning
	id := queueProposal(t, o, contract.ToolEgressBlock, `{"host":"new.example.test"}`)
	d, err := o.Approve(t.Context(), id, "")
	if err != nil || !strings.Contains(d.Warning, "not running") {
		t.Fatalf("approve = %+v, %v", d, err)
	}
	if _, ok := routesNow(t, o).Lookup("new.example.test"); !ok {
		t.Error("change not kept")
	}
}

func TestNoRoutesFileLeavesPending(t *testing.T) {
	o, _ := setup(t, "")
	id := queueProposal(t, o, contract.ToolEgressBlock, `{"host":"new.example.test"}`)
	if _, err := o.Approve(t.Context(), id, ""); err == nil || !strings.Contains(err.Error(), "no routes file") {
		t.Errorf("approve without a routes file = %v", err)
	}
}

func TestCapabilityAndCredAreRecordedWithNextSteps(t *testing.T) {
	o, r := setup(t, startRoutes)
	cap := queueProposal(t, o, contract.ToolCapabilityBlock, `{"apt_packages":["jq"]}`)
	d, err := o.Approve(t.Context(), cap, "")
	if err != nil || !strings.Contains(d.Change.NextSteps, "apt-get install -y --no-install-recommends jq") {
		t.Fatalf("capability approve = %+v, %v", d, err)
	}
	cred := queueProposal(t, o, contract.ToolCredBlock, `{"host":"api.example.test","scheme":"token","purpose":"read"}`)
	d, err = o.Approve(t.Context(), cred, "")
	if err != nil || !strings.Contains(d.Change.NextSteps, "token_ref") {
		t.Fatalf("cred approve = %+v, %v", d, err)
	}
	if len(r.calls) != 0 {
		t.Errorf("no routes changed, yet egress was reloaded %d times", len(r.calls))
	}
}

// TestNextStepsQuoteTheAgentEscaped: the next steps quote Dockerfile
// lines and the purpose; what validation lets through but a terminal must
// not get raw (a tab, a private-use character) is escaped in them, so any
// printer of NextSteps is safe.
func TestNextStepsQuoteTheAgentEscaped(t *testing.T) {
	o, _ := setup(t, startRoutes)
	for _, tc := range []struct {
		tool           contract.Tool
		payload, quote string
	}{
		{contract.ToolCapabilityBlock, `{"dockerfile_lines":["RUN\tmake \ue000"]}`, "\n  RUN\\tmake \\ue000\n"},
		{contract.ToolCredBlock, `{"host":"api.example.test","scheme":"token","purpose":"read\tissues \ue000"}`, "(the agent asked for: read\\tissues \\ue000)"},
	} {
		t.Run(string(tc.tool), func(t *testing.T) {
			it, err := o.Find(queueProposal(t, o, tc.tool, tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			ch, err := o.Preview(it, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(ch.NextSteps, tc.quote) || strings.ContainsAny(ch.NextSteps, "\t\ue000") {
				t.Errorf("next steps = %q; want them to quote %q", ch.NextSteps, tc.quote)
			}
		})
	}
}

func TestEditAppliesTheOperatorsVersion(t *testing.T) {
	o, _ := setup(t, startRoutes)
	id := queueProposal(t, o, contract.ToolEgressBlock, `{"host":"new.example.test"}`)
	if _, err := o.Edit(t.Context(), id, json.RawMessage(`{"host":"new.example.test","methods":["GET"],"extra":1}`), ""); err == nil {
		t.Fatal("edit with an unknown field accepted")
	}
	d, err := o.Edit(t.Context(), id, json.RawMessage(`{"host":"new.example.test","methods":["GET"]}`), "GET only")
	if err != nil {
		t.Fatal(err)
	}
	if d.Response.Status != contract.StatusEdited {
		t.Errorf("status = %s", d.Response.Status)
	}
	if r, _ := routesNow(t, o).Lookup("new.example.test"); len(r.Methods) != 1 {
		t.Errorf("edited route = %+v", r)
	}
}

func TestRejectNeedsANote(t *testing.T) {
	o, _ := setup(t, startRoutes)
	id := queueProposal(t, o, contract.ToolEgressBlock, `{"host":"new.example.test"}`)
	if _, err := o.Reject(id, " "); err == nil {
		t.Fatal("reject without a note accepted")
	}
	if _, err := o.Reject(id, "no"); err != nil {
		t.Fatal(err)
	}
	items, _ := o.List()
	if len(items) != 1 || items[0].Status() != contract.StatusRejected {
		t.Errorf("items = %+v", items)
	}
	audit, _ := os.ReadFile(testutil.BottleDir(t, o.Home, "dev").AuditFile())
	if !strings.Contains(string(audit), `"decision":"deny"`) {
		t.Errorf("audit = %s", audit)
	}
}

func TestLineDiff(t *testing.T) {
	got := lineDiff("a\nb\nc\n", "a\nc\nd\n")
	want := "  a\n- b\n  c\n+ d\n"
	if got != want {
		t.Errorf("lineDiff = %q, want %q", got, want)
	}
	if lineDiff("x\n", "x\n") != "" {
		t.Error("equal inputs gave a diff")
	}
}

const startGate = `version: 1
repos:
  - name: demo
    url: ssh://git@upstream.example.test/demo.git
    identity: demo_key
    host_key: demo_known_hosts
  - name: other
    url: ssh://git@upstream.example.test/other.git
    identity: demo_key
    host_key: demo_known_hosts
`

// gateFP is a finding of the git gate: rule github-pat on line 3 of
// config/app.yaml as commit 4f1c9a0e… has it.
const gateFP = "4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:config/app.yaml:github-pat:3"

// writeGate writes the bottle's gate file as render does (0644: the gate
// reads it as another user).
func writeGate(t *testing.T, o *Operator, gate string) {
	t.Helper()
	path := testutil.BottleDir(t, o.Home, "dev").GateFile()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(gate), 0o644); err != nil {
		t.Fatal(err)
	}
}

func gateNow(t *testing.T, o *Operator) *contract.GateFile {
	t.Helper()
	data, err := os.ReadFile(testutil.BottleDir(t, o.Home, "dev").GateFile())
	if err != nil {
		t.Fatal(err)
	}
	g, err := contract.ParseGate(data)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func exceptionsOf(t *testing.T, o *Operator) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range gateNow(t, o).Repos {
		for _, fp := range r.DLPExceptions {
			out[r.Name] = append(out[r.Name], fp.String())
		}
	}
	return out
}

func TestApproveDLPBlockForRepoAddsOneGateException(t *testing.T) {
	o, r := setup(t, "") // a gate exception needs no routes file
	writeGate(t, o, startGate)
	id := queueProposal(t, o, contract.ToolDLPBlock, `{"repo":"demo","fingerprint":"`+gateFP+`"}`)
	it, err := o.Find(id)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := o.Preview(it, nil)
	if err != nil {
		t.Fatal(err)
	}
	const grants = `lets this one finding (rule github-pat in path "config/app.yaml" at commit ` +
		`4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9 line 3) through the git gate for repo demo; every other finding`
	if !strings.HasPrefix(ch.Summary, grants) {
		t.Errorf("summary = %q\nwant it to start %q", ch.Summary, grants)
	}
	if ch.File != testutil.BottleDir(t, o.Home, "dev").GateFile() || !strings.Contains(ch.Diff, "+         rule: github-pat") {
		t.Errorf("change of %s:\n%s", ch.File, ch.Diff)
	}
	if got := exceptionsOf(t, o); len(got) != 0 {
		t.Fatalf("Preview changed the gate file: %v", got)
	}

	d, err := o.Approve(t.Context(), id, "a test fixture")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]string{"demo": {gateFP}}, exceptionsOf(t, o)); diff != "" {
		t.Errorf("exceptions (-want +got):\n%s", diff)
	}
	if len(r.calls) != 0 {
		t.Errorf("egress reloaded for a gate exception: %v", r.calls)
	}
	if fi, err := os.Stat(testutil.BottleDir(t, o.Home, "dev").GateFile()); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("gate file mode after approval = %v, %v; want 0644 kept, so the gate can still read it", fi.Mode(), err)
	}
	if d.Response.Status != contract.StatusApproved || !strings.Contains(d.Response.AppliedDiff, "github-pat") {
		t.Errorf("response = %+v", d.Response)
	}
	audit, _ := os.ReadFile(testutil.BottleDir(t, o.Home, "dev").AuditFile())
	if !strings.Contains(string(audit), "git gate repo demo, finding "+gateFP) {
		t.Errorf("audit does not name the finding: %s", audit)
	}

	// The same finding asked for again changes nothing.
	again := queueProposal(t, o, contract.ToolDLPBlock, `{"repo":"demo","fingerprint":"`+gateFP+`"}`)
	d, err = o.Approve(t.Context(), again, "")
	if err != nil || d.Change.Diff != "" {
		t.Fatalf("approving a finding already excepted = %+v, %v; want no change", d, err)
	}
	if got := exceptionsOf(t, o); len(got["demo"]) != 1 {
		t.Errorf("exceptions = %v", got)
	}
}

func TestEditDLPBlockForRepoRecordsTheOperatorsFinding(t *testing.T) {
	o, _ := setup(t, "")
	writeGate(t, o, startGate)
	id := queueProposal(t, o, contract.ToolDLPBlock, `{"repo":"demo","fingerprint":"`+gateFP+`"}`)
	edited := strings.TrimSuffix(gateFP, ":3") + ":4"
	if _, err := o.Edit(t.Context(), id, json.RawMessage(`{"repo":"demo","fingerprint":"`+strings.TrimSuffix(gateFP, ":3")+`"}`), ""); err == nil {
		t.Fatal("edit to a fingerprint without a line accepted")
	}
	if _, err := o.Edit(t.Context(), id, json.RawMessage(`{"repo":"other","fingerprint":"`+edited+`"}`), "line 4 only"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]string{"other": {edited}}, exceptionsOf(t, o)); diff != "" {
		t.Errorf("exceptions (-want +got):\n%s", diff)
	}
}

func TestDLPBlockForRepoThatCannotApplyStaysPending(t *testing.T) {
	for _, tc := range []struct {
		name, gate, payload, want string
	}{
		{"no gate file", "", `{"repo":"demo","fingerprint":"` + gateFP + `"}`, "has no gate file"},
		{"undeclared repo", startGate, `{"repo":"nope","fingerprint":"` + gateFP + `"}`, `git gate has no repository "nope" (it serves: demo, other)`},
		{"broken gate file", "version: 1\nrepos: [\n", `{"repo":"demo","fingerprint":"` + gateFP + `"}`, "gate file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := setup(t, startRoutes)
			if tc.gate != "" {
				writeGate(t, o, tc.gate)
			}
			id := queueProposal(t, o, contract.ToolDLPBlock, tc.payload)
			_, err := o.Approve(t.Context(), id, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "stays pending") {
				t.Fatalf("approve = %v; want an error with %q that leaves it pending", err, tc.want)
			}
			if e, _ := (queue.Queue{Dir: testutil.BottleDir(t, o.Home, "dev").QueueDir()}).Get(id); e.Response != nil {
				t.Error("a failed apply recorded a decision")
			}
			if tc.gate != "" {
				if after, _ := os.ReadFile(testutil.BottleDir(t, o.Home, "dev").GateFile()); string(after) != tc.gate {
					t.Errorf("gate file changed although the apply failed:\n%s", after)
				}
			}
		})
	}
}

// Host-attacks finding 5: the agent proposes {"host":"api.github.com"}
// against a route that injects the operator's token only on GET
// /repos/acme/app/pulls. Approving it must not lift the route's path and
// method limits; a proposal naming nothing to add is refused, and one
// that names paths or methods widens by exactly those, with the words
// saying where the token would then be sent.
func TestEgressBlockNeverLiftsACredentialedRoutesLimits(t *testing.T) {
	const routes = `version: 1
routes:
  - host: api.github.com
    path_allowlist: ["/repos/acme/app/pulls"]
    methods: [GET]
    auth: {scheme: Bearer, secret: token_gh}
  - host: open.example.test
`
	tests := []struct {
		name, payload     string
		wantErr           string
		paths, methods    []string
		summary, notInSum []string
	}{
		{name: "whole host", payload: `{"host":"api.github.com"}`,
			wantErr: "approving never lifts a route's limits"},
		{name: "every method on the same path", payload: `{"host":"api.github.com","path_prefixes":["/repos/acme/app/pulls"]}`,
			wantErr: "names no path prefix or method beyond that"},
		{name: "one more path, every method asked", payload: `{"host":"api.github.com","path_prefixes":["/repos/acme/app/issues"]}`,
			paths: []string{"/repos/acme/app/pulls", "/repos/acme/app/issues"}, methods: []string{"GET"},
			summary: []string{"adds path prefixes /repos/acme/app/issues", "keeps its method limit",
				"the route carries a credential: the Bearer token for api.github.com would then be sent on paths /repos/acme/app/pulls, /repos/acme/app/issues, with GET"}},
		{name: "the root prefix and DELETE", payload: `{"host":"api.github.com","path_prefixes":["/"],"methods":["DELETE"]}`,
			paths: []string{"/repos/acme/app/pulls", "/"}, methods: []string{"GET", "DELETE"},
			summary: []string{"the prefix / matches every path, so this lifts the route's path limit", "adds methods DELETE",
				"the Bearer token for api.github.com would then be sent on paths /repos/acme/app/pulls, /, with GET, DELETE"}},
		{name: "an open route stays open", payload: `{"host":"open.example.test","methods":["GET"]}`,
			summary: []string{"changes nothing"}, notInSum: []string{"credential:"}},
		{name: "a new route", payload: `{"host":"new.example.test"}`,
			summary: []string{"opens a new route to new.example.test (port 443, HTTPS), on every path, with every method; egress sends no credential on it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _ := setup(t, routes)
			id := queueProposal(t, o, contract.ToolEgressBlock, tt.payload)
			it, err := o.Find(id)
			if err != nil {
				t.Fatal(err)
			}
			ch, err := o.Preview(it, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Preview = %+v, %v; want it refused with %q", ch, err, tt.wantErr)
				}
				if _, err := o.Approve(t.Context(), id, ""); err == nil {
					t.Fatal("approve applied a proposal that would lift the route's limits")
				}
				if r, _ := routesNow(t, o).Lookup("api.github.com"); len(r.PathAllowlist) != 1 || len(r.Methods) != 1 {
					t.Errorf("route changed: %+v", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.summary {
				if !strings.Contains(ch.Summary, want) {
					t.Errorf("summary lacks %q:\n%s", want, ch.Summary)
				}
			}
			for _, no := range tt.notInSum {
				if strings.Contains(ch.Summary, no) {
					t.Errorf("summary has %q:\n%s", no, ch.Summary)
				}
			}
			if _, err := o.Approve(t.Context(), id, ""); err != nil {
				t.Fatal(err)
			}
			if tt.paths != nil {
				r, _ := routesNow(t, o).Lookup("api.github.com")
				if !slices.Equal(r.PathAllowlist, tt.paths) || !slices.Equal(r.Methods, tt.methods) || r.Auth == nil {
					t.Errorf("route = %+v, want paths %v methods %v and its auth", r, tt.paths, tt.methods)
				}
			}
		})
	}
}

// Host-attacks finding 6 on the operator's side: a queued proposal for a
// wildcard on a public suffix (written past supervise, or edited in) is
// refused by show and approve, and the routes file is unchanged.
func TestWildcardOnAPublicSuffixIsNeverApproved(t *testing.T) {
	for _, tc := range []struct {
		tool    contract.Tool
		payload string
	}{
		{contract.ToolEgressBlock, `{"host":"*.github.io"}`},
		{contract.ToolEgressBlock, `{"host":"*.co.uk","path_prefixes":["/"]}`},
		{contract.ToolCredBlock, `{"host":"*.s3.amazonaws.com","scheme":"token","purpose":"p"}`},
	} {
		t.Run(tc.payload, func(t *testing.T) {
			o, _ := setup(t, startRoutes)
			id := queueProposal(t, o, tc.tool, tc.payload)
			it, err := o.Find(id)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := o.Preview(it, nil); err == nil || !strings.Contains(err.Error(), "public suffix") {
				t.Errorf("Preview = %v, want it refused as a wildcard on a public suffix", err)
			}
			if _, err := o.Approve(t.Context(), id, ""); err == nil {
				t.Error("approved")
			}
			if rf := routesNow(t, o); len(rf.Routes) != 1 {
				t.Errorf("routes = %+v", rf.Routes)
			}
		})
	}
	o, _ := setup(t, startRoutes)
	id := queueProposal(t, o, contract.ToolEgressBlock, `{"host":"*.acme.github.io"}`)
	if _, err := o.Edit(t.Context(), id, json.RawMessage(`{"host":"*.github.io"}`), ""); err == nil || !strings.Contains(err.Error(), "public suffix") {
		t.Errorf("an edit to a public-suffix wildcard = %v, want it refused", err)
	}
}

// A dlp-block approval says which rule it lifts, where, and that the
// route carries a credential.
func TestDLPBlockSaysWhatItLifts(t *testing.T) {
	o, _ := setup(t, "version: 1\nroutes:\n  - host: api.github.com\n    path_allowlist: [\"/repos/\"]\n    auth: {scheme: Bearer, secret: token_gh}\n")
	id := queueProposal(t, o, contract.ToolDLPBlock, `{"host":"api.github.com","rule_id":"generic-api-key"}`)
	d, err := o.Approve(t.Context(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lifts DLP rule generic-api-key on the route to api.github.com: requests on paths /repos/, with every method",
		"every other rule still applies", "the route carries a credential (the Bearer token for api.github.com)"} {
		if !strings.Contains(d.Change.Summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, d.Change.Summary)
		}
	}
}
