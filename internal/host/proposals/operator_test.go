package proposals

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/queue"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
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
		if err := os.MkdirAll(filepath.Dir(contract.StateRoutesFile(home, "dev")), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(contract.StateRoutesFile(home, "dev"), []byte(routes), 0o600); err != nil {
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
	if err := (queue.Queue{Dir: contract.QueueDirFor(o.Home, "dev")}).Put(p); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

func routesNow(t *testing.T, o *Operator) *contract.RoutesFile {
	t.Helper()
	data, err := os.ReadFile(contract.StateRoutesFile(o.Home, "dev"))
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
	e, _ := (queue.Queue{Dir: contract.QueueDirFor(o.Home, "dev")}).Get(id)
	if e.Response == nil || e.Response.Status != contract.StatusApproved || e.Response.AppliedDiff == "" {
		t.Errorf("response = %+v", e.Response)
	}
	audit, _ := os.ReadFile(contract.AuditFileFor(o.Home, "dev"))
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
		{"whole host", `{"host":"api.example.test"}`, nil, nil},
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
	before, _ := os.ReadFile(contract.StateRoutesFile(o.Home, "dev"))
	id := queueProposal(t, o, contract.ToolEgressBlock, `{"host":"new.example.test"}`)
	_, err := o.Approve(t.Context(), id, "")
	if err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "stays pending") {
		t.Fatalf("approve with a failing reload = %v", err)
	}
	after, _ := os.ReadFile(contract.StateRoutesFile(o.Home, "dev"))
	if string(before) != string(after) {
		t.Error("routes file changed although the apply failed")
	}
	e, _ := (queue.Queue{Dir: contract.QueueDirFor(o.Home, "dev")}).Get(id)
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
	audit, _ := os.ReadFile(filepath.Join(contract.StateDir(o.Home, "dev"), contract.AuditFileName))
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
