package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/internal/shared/queue"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func queuedHome(t *testing.T, payload string) (string, string) {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Dir(testutil.BottleDir(t, home, "dev").RoutesFile()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testutil.BottleDir(t, home, "dev").RoutesFile(), []byte("version: 1\nroutes: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &contract.Proposal{Version: 1, ID: contract.NewProposalID(), Bottle: "dev", Tool: contract.ToolEgressBlock,
		Payload: json.RawMessage(payload), Justification: "needed", CreatedAt: time.Now().UTC()}
	if err := (queue.Queue{Dir: testutil.BottleDir(t, home, "dev").QueueDir()}).Put(p); err != nil {
		t.Fatal(err)
	}
	return home, p.ID
}

func TestProposalsCommands(t *testing.T) {
	home, id := queuedHome(t, `{"host":"api.example.test","methods":["GET"]}`)
	empty := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		vars   map[string]string
		code   int
		stdout string
		stderr string
	}{
		{"nothing queued", []string{"--home", empty, "proposals", "list"}, nil, 0, "no pending proposals", ""},
		{"nothing queued json", []string{"--home", empty, "proposals", "list", "--json"}, nil, 0, "[]", ""},
		{"list", []string{"--home", home, "proposals", "list"}, nil, 0, id, ""},
		{"show has the diff", []string{"--home", home, "proposals", "show", id}, nil, 0, "+   - host: api.example.test", ""},
		{"reject needs a note", []string{"--home", home, "proposals", "reject", id}, nil, 2, "", "--note"},
		{"unknown id", []string{"--home", home, "proposals", "approve", "0123456789abcdef"}, nil, 1, "", "no proposal 0123456789abcdef"},
		{"bad id", []string{"--home", home, "proposals", "show", "../x"}, nil, 1, "", "not a proposal id"},
		{"edit unchanged keeps it pending", []string{"--home", home, "proposals", "edit", id}, map[string]string{"EDITOR": "true"}, 0, "stays pending", ""},
		{"edit applies the operator's version", []string{"--home", home, "proposals", "edit", id, "--note", "HEAD only"},
			map[string]string{"EDITOR": "sed -i s/GET/HEAD/"}, 0, "edited", ""},
		{"decided proposals leave the pending list", []string{"--home", home, "proposals", "list"}, nil, 0, "no pending proposals", ""},
		{"--all shows them", []string{"--home", home, "proposals", "list", "--all"}, nil, 0, "edited", ""},
		{"a decision is final", []string{"--home", home, "proposals", "reject", id, "--note", "no"}, nil, 1, "", "already edited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "/", tt.vars, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant stdout ⊇ %q, stderr ⊇ %q", r.code, tt.code, r.stdout, r.stderr, tt.stdout, tt.stderr)
			}
		})
	}
	data, _ := os.ReadFile(testutil.BottleDir(t, home, "dev").RoutesFile())
	if !strings.Contains(string(data), "HEAD") || strings.Contains(string(data), "GET") {
		t.Errorf("routes after the edit:\n%s", data)
	}
}

// TestProposalsShowSaysWhatAGateExceptionGrants: for a dlp-block naming a
// git gate finding, show and approve say in words that exactly that one
// finding gets through, and show the change to the gate file.
func TestProposalsShowSaysWhatAGateExceptionGrants(t *testing.T) {
	const fp = "4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:config/app.yaml:github-pat:3"
	home := t.TempDir()
	gate := testutil.BottleDir(t, home, "dev").GateFile()
	if err := os.MkdirAll(filepath.Dir(gate), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gate, []byte("version: 1\nrepos:\n  - name: demo\n    url: ssh://git@up.example.test/demo.git\n"+
		"    identity: demo_key\n    host_key: demo_known_hosts\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &contract.Proposal{Version: 1, ID: contract.NewProposalID(), Bottle: "dev", Tool: contract.ToolDLPBlock,
		Payload: json.RawMessage(`{"repo":"demo","fingerprint":"` + fp + `"}`), Justification: "a test fixture", CreatedAt: time.Now().UTC()}
	if err := (queue.Queue{Dir: testutil.BottleDir(t, home, "dev").QueueDir()}).Put(p); err != nil {
		t.Fatal(err)
	}
	const grants = `lets this one finding (rule github-pat in path "config/app.yaml" at commit ` +
		`4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9 line 3) through the git gate for repo demo`
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"list", []string{"proposals", "list"}, []string{`repo="demo"`, `fingerprint="4f1c9a0e`}},
		{"show", []string{"proposals", "show", p.ID}, []string{"approving it " + grants, "approving would change " + strings.TrimPrefix(gate, "/") + ":", "+         line: 3"}},
		{"approve", []string{"proposals", "approve", p.ID}, []string{"proposal " + p.ID + " approved", "it " + grants, "applied:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, "/", nil, append([]string{"--home", home}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// Host-attacks finding 5 through the CLI: show says where the route's
// token would be sent; a bare-host proposal against a limited route is
// shown as one approving would refuse, and approve refuses it.
func TestProposalsShowSaysWhereACredentialWouldBeSent(t *testing.T) {
	const routes = "version: 1\nroutes:\n  - host: api.github.com\n    path_allowlist: [\"/repos/acme/app/pulls\"]\n    methods: [GET]\n    auth: {scheme: Bearer, secret: token_gh}\n"
	home, bare := queuedHome(t, `{"host":"api.github.com"}`)
	if err := os.WriteFile(testutil.BottleDir(t, home, "dev").RoutesFile(), []byte(routes), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "/", nil, "--home", home, "proposals", "show", bare)
	if !strings.Contains(r.stdout, "approving it now would fail: api.github.com already has a route, for requests on paths /repos/acme/app/pulls, with GET") {
		t.Errorf("show does not say approving would be refused:\n%s", r.stdout)
	}
	if r = run(t, "/", nil, "--home", home, "proposals", "approve", bare); r.code == 0 {
		t.Fatalf("approve lifted the route's limits:\n%s", r.stdout)
	}

	p := &contract.Proposal{Version: 1, ID: contract.NewProposalID(), Bottle: "dev", Tool: contract.ToolEgressBlock,
		Payload: json.RawMessage(`{"host":"api.github.com","path_prefixes":["/"]}`), Justification: "needed", CreatedAt: time.Now().UTC()}
	if err := (queue.Queue{Dir: testutil.BottleDir(t, home, "dev").QueueDir()}).Put(p); err != nil {
		t.Fatal(err)
	}
	r = run(t, "/", nil, "--home", home, "proposals", "show", p.ID)
	for _, want := range []string{"the prefix / matches every path, so this lifts the route's path limit",
		"keeps its method limit", "the Bearer token for api.github.com would then be sent on paths /repos/acme/app/pulls, /, with GET"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}
}
