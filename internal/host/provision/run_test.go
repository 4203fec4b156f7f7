package provision

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// exitStatus is a command's non-zero exit, as the fake container reports
// it.
type exitStatus int

func (e exitStatus) Error() string { return "exit status " + strconv.Itoa(int(e)) }
func (e exitStatus) ExitCode() int { return int(e) }

// call is one command the fake container ran.
type call struct {
	user  string
	name  string // the program, or a script's $0
	argv  []string
	stdin []byte
}

// fakeContainer plays the agent container for Run: the CA step's scripts
// act on bundle, written files land in files, and programs answer from
// tools.
type fakeContainer struct {
	cert, bundle []byte
	// uccAdds makes update-ca-certificates put cert into the bundle.
	uccAdds bool
	files   map[string][]byte
	modes   map[string]string
	// tools answer other programs by base name: stdout, stderr, exit.
	tools map[string]func(argv []string) (string, string, int)
	// fail, when it matches a call, makes it exit 1 saying "boom".
	fail  func(c call) bool
	calls []call
}

func newFake(t *testing.T) *fakeContainer {
	return &fakeContainer{cert: testCA(t, "bottle"), files: map[string][]byte{}, modes: map[string]string{},
		tools: map[string]func([]string) (string, string, int){}}
}

func (f *fakeContainer) Exec(_ context.Context, user string, stdin io.Reader, argv ...string) ([]byte, error) {
	c := call{user: user, name: argv[0], argv: argv}
	if len(argv) >= 4 && argv[0] == "/bin/sh" && argv[1] == "-c" {
		c.name = argv[3]
	}
	if stdin != nil {
		c.stdin, _ = io.ReadAll(stdin)
	}
	f.calls = append(f.calls, c)
	fail := func(stderr string, code int) ([]byte, error) {
		return nil, &ExecError{Argv: argv, User: user, Stderr: []byte(stderr), Err: exitStatus(code)}
	}
	if f.fail != nil && f.fail(c) {
		return fail("boom", 1)
	}
	switch c.name {
	case "read-ca":
		return append(append(bytes.Clone(f.cert), 0), f.bundle...), nil
	case "write-bundle":
		f.bundle = c.stdin
		return nil, nil
	case "update-ca-certificates":
		if f.uccAdds {
			f.bundle = append(bytes.Clone(f.bundle), f.cert...)
		}
		return nil, nil
	case "write-file":
		f.files[argv[4]], f.modes[argv[4]] = c.stdin, argv[5]
		return nil, nil
	case "extract-skills":
		return nil, nil
	}
	if tool := f.tools[path.Base(c.name)]; tool != nil {
		out, stderr, code := tool(argv)
		if code != 0 {
			return fail(stderr, code)
		}
		return []byte(out), nil
	}
	return fail("sh: "+c.name+": not found", 127)
}

// trail is each call as "USER NAME".
func (f *fakeContainer) trail() []string {
	var out []string
	for _, c := range f.calls {
		out = append(out, c.user+" "+c.name)
	}
	return out
}

var testAgent = Agent{UID: 1000, GID: 1000, Name: "agent", Home: "/home/agent",
	Tools: map[string]string{"tar": "/bin/tar", "curl": "/usr/bin/curl", "probe": "/usr/local/bin/probe"}}

func ok(string) func([]string) (string, string, int) {
	return func([]string) (string, string, int) { return "", "", 0 }
}

func fullPlan(t *testing.T, progress io.Writer) Plan {
	root := t.TempDir()
	writeTree(t, filepath.Join(root, "review"), map[string]string{"SKILL.md": "# review\n"})
	return Plan{
		Prompt:       "Do the thing.\n",
		Skills:       []Skill{{Name: "review", Dir: filepath.Join(root, "review")}},
		Git:          GitIdentity{Name: "Ada", Email: "ada@example.test"},
		Repos:        []GateRepo{{Name: "demo", URL: "ssh://git@git.example.test/srv/demo.git"}},
		SelfTestHost: "api.example.test",
		MCP:          GenericMCP(SuperviseURL),
		Progress:     progress,
	}
}

func TestRunStepsInOrder(t *testing.T) {
	f := newFake(t)
	var curlArgv []string
	f.tools["curl"] = func(argv []string) (string, string, int) { curlArgv = argv; return "", "", 0 }
	var progress bytes.Buffer
	plan := fullPlan(t, &progress)
	if err := Run(context.Background(), f, testAgent, plan); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"0:0 read-ca", "0:0 write-bundle",
		"1000:1000 /usr/bin/curl",
		"1000:1000 write-file", "1000:1000 extract-skills", "1000:1000 write-file", "1000:1000 write-file",
	}
	if diff := cmp.Diff(want, f.trail()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	wantLines := []string{
		"provision: CA trusted in /etc/ssl/certs/ca-certificates.crt (appended; no update-ca-certificates to run)",
		"provision: self-test passed: TLS to api.example.test through egress verified against the system trust store (curl)",
		"provision: prompt written to /home/agent/.bot-bottle-prompt.txt (0600, 14 bytes)",
		"provision: skills copied to /home/agent/.bot-bottle/skills: review (from " + plan.Skills[0].Dir + ")",
		"provision: /home/agent/.gitconfig written (commit identity; upstream URLs of demo rewritten to the gate)",
		"provision: MCP server supervise (http://supervise:9100/mcp) registered in /home/agent/.bot-bottle/mcp.json",
	}
	if diff := cmp.Diff(strings.Join(wantLines, "\n")+"\n", progress.String()); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}

	// What each step handed the container.
	if diff := cmp.Diff([]string{"/usr/bin/curl", "-q", "-sS", "-o", "/dev/null", "--max-time", "20", "https://api.example.test/"}, curlArgv); diff != "" {
		t.Errorf("curl argv (-want +got):\n%s", diff)
	}
	if want, _, _ := AddCA(nil, f.cert); !bytes.Equal(f.bundle, want) {
		t.Errorf("bundle written = %q, want %q", f.bundle, want)
	}
	if got := f.calls[1].argv[4:]; !cmp.Equal(got, []string{CABundlePath, "0644"}) {
		t.Errorf("write-bundle args = %q", got)
	}
	gitText, _, _ := GitConfig(plan.Git, plan.Repos)
	mcpJSON, _ := MCPServersJSON(SuperviseURL)
	wantFiles := map[string]string{
		"/home/agent/.bot-bottle-prompt.txt": "0600 " + plan.Prompt,
		"/home/agent/.gitconfig":             "0644 " + gitText,
		"/home/agent/.bot-bottle/mcp.json":   "0600 " + string(mcpJSON),
	}
	gotFiles := map[string]string{}
	for p, data := range f.files {
		gotFiles[p] = f.modes[p] + " " + string(data)
	}
	if diff := cmp.Diff(wantFiles, gotFiles); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	extract := f.calls[4]
	if diff := cmp.Diff([]string{"/home/agent/.bot-bottle/skills", "review"}, extract.argv[4:]); diff != "" {
		t.Errorf("extract-skills args (-want +got):\n%s", diff)
	}
	h, err := tar.NewReader(bytes.NewReader(extract.stdin)).Next()
	if err != nil || h.Name != "review/" || h.Uid != 1000 {
		t.Errorf("extract-skills stdin: first entry %+v, %v", h, err)
	}

	// Values reach scripts only as positional parameters: no script text
	// holds one.
	for _, c := range f.calls {
		if len(c.argv) > 2 && c.argv[1] == "-c" {
			for _, v := range []string{plan.Prompt, "api.example.test", "/home/agent", "review", CABundlePath} {
				if strings.Contains(c.argv[2], strings.TrimSpace(v)) {
					t.Errorf("script %s has %q spliced into its text", c.name, v)
				}
			}
		}
	}
}

func TestRunStopsAtTheFailingStepAndNamesIt(t *testing.T) {
	tests := []struct {
		step string
		fail func(c call) bool
		want string
	}{
		{StepCA, func(c call) bool { return c.name == "read-ca" }, "provision: CA trust: read the bottle CA and the bundle: read-ca: exit status 1: boom"},
		{StepCA, func(c call) bool { return c.name == "write-bundle" }, "provision: CA trust: write /etc/ssl/certs/ca-certificates.crt: write-bundle: exit status 1: boom"},
		{StepSelfTest, func(c call) bool { return c.name == "/usr/bin/curl" }, "provision: TLS self-test: TLS to api.example.test through egress failed with curl: /usr/bin/curl: exit status 1: boom"},
		{StepPrompt, func(c call) bool { return c.name == "write-file" && strings.HasSuffix(c.argv[4], PromptFileName) }, "provision: prompt: write /home/agent/.bot-bottle-prompt.txt: write-file: exit status 1: boom"},
		{StepSkills, func(c call) bool { return c.name == "extract-skills" }, "provision: skills: unpack into /home/agent/.bot-bottle/skills: extract-skills: exit status 1: boom"},
		{StepGit, func(c call) bool { return c.name == "write-file" && strings.HasSuffix(c.argv[4], ".gitconfig") }, "provision: git config: write /home/agent/.gitconfig: write-file: exit status 1: boom"},
		{StepMCP, func(c call) bool { return c.name == "write-file" && strings.HasSuffix(c.argv[4], "mcp.json") }, "provision: MCP registration: write /home/agent/.bot-bottle/mcp.json: write-file: exit status 1: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			f := newFake(t)
			f.tools["curl"] = ok("")
			f.fail = tt.fail
			var progress bytes.Buffer
			err := Run(context.Background(), f, testAgent, fullPlan(t, &progress))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Run = %v\nwant %s", err, tt.want)
			}
			if last := f.calls[len(f.calls)-1]; !tt.fail(last) {
				t.Errorf("Run went on after the failure: last command %s", last.name)
			}
			if strings.Contains(progress.String(), tt.step) {
				t.Errorf("progress reports the failed step as done:\n%s", progress.String())
			}
		})
	}
}

func TestRunRefusesBadSkillsBeforeSendingAnything(t *testing.T) {
	f := newFake(t)
	f.tools["curl"] = ok("")
	plan := fullPlan(t, nil)
	if err := os.Symlink("/etc/shadow", filepath.Join(plan.Skills[0].Dir, "shadow")); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), f, testAgent, plan)
	if err == nil || !strings.HasPrefix(err.Error(), "provision: skills: skill \"review\": ") || !strings.Contains(err.Error(), "absolute path \"/etc/shadow\"") {
		t.Fatalf("Run = %v", err)
	}
	for _, c := range f.calls {
		if c.name == "extract-skills" {
			t.Error("the skills were sent to the container")
		}
	}
}

func TestRunSkipLines(t *testing.T) {
	f := newFake(t)
	var progress bytes.Buffer
	a := Agent{UID: 1000, GID: 1000, Home: "/h", Tools: map[string]string{}}
	if err := Run(context.Background(), f, a, Plan{SelfTestSkip: "the bottle declares no egress host", MCPSkip: "custom", Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"provision: TLS self-test skipped: the bottle declares no egress host\n",
		"provision: prompt written to /h/.bot-bottle-prompt.txt (0600, 0 bytes)\n",
		"provision: no skills to copy\n",
		"provision: /h/.gitconfig written (no identity, no gate repos)\n",
		"provision: no MCP server registered: custom\n",
	} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	progress.Reset()
	if err := Run(context.Background(), f, a, Plan{Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"provision: TLS self-test skipped: no host to test against\n", "provision: no MCP server registered: supervise is off\n"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
}

func TestRunEscapesWhatTheContainerSays(t *testing.T) {
	f := newFake(t)
	var progress bytes.Buffer
	a := Agent{UID: 1000, GID: 1000, Home: "/h", Tools: map[string]string{}}
	mcp := func(context.Context, Target, Agent) (string, error) { return "did \x1b]0;owned\x07 it", nil }
	if err := Run(context.Background(), f, a, Plan{MCP: mcp, Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(progress.String(), "\x1b\x07") || !strings.Contains(progress.String(), `provision: did \x1b]0;owned\x07 it`) {
		t.Errorf("progress = %q", progress.String())
	}
}

func TestTrustCA(t *testing.T) {
	root := testCA(t, "image-root")
	tests := []struct {
		name      string
		ucc       bool
		uccPath   string // where Identify found it, if not /usr/sbin
		uccAdds   bool
		bundle    []byte
		preAdded  bool
		wantLine  string
		wantTrail []string
	}{
		{name: "update-ca-certificates adds it", ucc: true, uccAdds: true, bundle: root,
			wantLine:  "CA trusted in /etc/ssl/certs/ca-certificates.crt (update-ca-certificates)",
			wantTrail: []string{"0:0 update-ca-certificates", "0:0 read-ca"}},
		{name: "update-ca-certificates leaves it out", ucc: true, bundle: root,
			wantLine:  "CA trusted in /etc/ssl/certs/ca-certificates.crt (update-ca-certificates left it out; appended)",
			wantTrail: []string{"0:0 update-ca-certificates", "0:0 read-ca", "0:0 write-bundle"}},
		{name: "no tool: appended", bundle: root,
			wantLine:  "CA trusted in /etc/ssl/certs/ca-certificates.crt (appended; no update-ca-certificates to run)",
			wantTrail: []string{"0:0 read-ca", "0:0 write-bundle"}},
		{name: "no tool, no bundle: created", bundle: nil,
			wantLine:  "CA trusted in /etc/ssl/certs/ca-certificates.crt (appended; no update-ca-certificates to run)",
			wantTrail: []string{"0:0 read-ca", "0:0 write-bundle"}},
		{name: "a tool the agent put in its own PATH is not run as root", uccPath: "/home/agent/bin/update-ca-certificates", uccAdds: true, bundle: root,
			wantLine:  "CA trusted in /etc/ssl/certs/ca-certificates.crt (appended; no update-ca-certificates to run)",
			wantTrail: []string{"0:0 read-ca", "0:0 write-bundle"}},
		{name: "nor a builtin's bare name", uccPath: "update-ca-certificates", uccAdds: true, bundle: root,
			wantLine:  "CA trusted in /etc/ssl/certs/ca-certificates.crt (appended; no update-ca-certificates to run)",
			wantTrail: []string{"0:0 read-ca", "0:0 write-bundle"}},
		{name: "no tool, already there: nothing written", bundle: root, preAdded: true,
			wantLine:  "CA trusted in /etc/ssl/certs/ca-certificates.crt (already there; no update-ca-certificates to run)",
			wantTrail: []string{"0:0 read-ca"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.bundle, f.uccAdds = bytes.Clone(tt.bundle), tt.uccAdds
			if tt.preAdded {
				f.bundle, _, _ = AddCA(f.bundle, f.cert)
			}
			a := Agent{UID: 1000, GID: 1000, Home: "/h", Tools: map[string]string{}}
			if tt.ucc {
				a.Tools["update-ca-certificates"] = "/usr/sbin/update-ca-certificates"
			}
			if tt.uccPath != "" {
				a.Tools["update-ca-certificates"] = tt.uccPath
			}
			line, err := trustCA(context.Background(), f, a)
			if err != nil {
				t.Fatal(err)
			}
			if line != tt.wantLine {
				t.Errorf("line = %q\nwant   %q", line, tt.wantLine)
			}
			if diff := cmp.Diff(tt.wantTrail, f.trail()); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
			der, _ := certDER(f.cert)
			if !hasCert(f.bundle, der) {
				t.Error("the bundle does not hold the CA")
			}
		})
	}
}

func TestTrustCARefusesWhatIsMountedIfNotACA(t *testing.T) {
	f := newFake(t)
	f.cert = []byte("not a certificate")
	_, err := trustCA(context.Background(), f, testAgent)
	if err == nil || err.Error() != "the bottle CA at "+contract.AgentCACertPath+": no PEM certificate in it" {
		t.Fatalf("trustCA = %v", err)
	}
	if len(f.calls) != 1 {
		t.Errorf("trustCA went on: %v", f.trail())
	}
}

func TestSelfTestClients(t *testing.T) {
	const host = "api.example.test"
	tests := []struct {
		name  string
		tools map[string]string // tool → "CODE STDOUT|STDERR"
		want  string            // the line, or "error: ..." (a substring)
		argv  string            // the command that ran, joined by spaces (a prefix)
	}{
		{name: "curl first", tools: map[string]string{"curl": "0", "probe": "0"},
			want: "self-test passed: TLS to api.example.test through egress verified against the system trust store (curl)",
			argv: "/usr/bin/curl -q -sS -o /dev/null --max-time 20 https://api.example.test/"},
		{name: "curl's verification error", tools: map[string]string{"curl": "60 |curl: (60) SSL certificate problem: unable to get local issuer certificate"},
			want: "error: TLS to api.example.test through egress failed with curl: /usr/bin/curl: exit status 60: curl: (60) SSL certificate problem: unable to get local issuer certificate"},
		{name: "curl's refused CONNECT", tools: map[string]string{"curl": "56 |curl: (56) CONNECT tunnel failed, response 403"},
			want: "failed with curl: /usr/bin/curl: exit status 56: curl: (56) CONNECT tunnel failed, response 403"},
		{name: "GNU Wget", tools: map[string]string{"wget": "0 GNU Wget 1.21.3 built on linux-gnu."},
			want: "(wget)", argv: "/usr/bin/wget -q -O /dev/null --tries=1 --timeout=20 https://api.example.test/"},
		{name: "GNU Wget's HTTP error status is an answer", tools: map[string]string{"wget": "8 GNU Wget 1.21.3|ERROR 404: Not Found."},
			want: "(wget)"},
		{name: "GNU Wget's certificate error", tools: map[string]string{"wget": "5 GNU Wget 1.21.3|ERROR: cannot verify api.example.test's certificate"},
			want: "failed with wget: /usr/bin/wget: exit status 5: ERROR: cannot verify"},
		{name: "busybox wget cannot verify, so it is not used", tools: map[string]string{"wget": "0 BusyBox v1.35.0 multi-call binary."},
			want: "error: no tool in the image can make a verified TLS handshake to api.example.test: looked for curl, GNU Wget (busybox wget does not verify certificates), python3, node (trusting NODE_EXTRA_CA_CERTS), openssl, probe (bot-bottle's test agent image only)"},
		{name: "busybox wget, then python3", tools: map[string]string{"wget": "0 BusyBox v1.35.0", "python3": "0"},
			want: "(python3)", argv: "/usr/bin/python3 -c " + pythonSelfTest + " https://api.example.test/"},
		{name: "node", tools: map[string]string{"node": "0"}, want: "(node)", argv: "/usr/bin/node -e " + nodeSelfTest + " api.example.test"},
		{name: "node's error", tools: map[string]string{"node": "1 |unable to verify the first certificate"},
			want: "failed with node: /usr/bin/node: exit status 1: unable to verify the first certificate"},
		{name: "openssl", tools: map[string]string{"openssl": "0"}, want: "(openssl)",
			argv: "/bin/sh -c " + opensslSelfTest + " openssl-self-test /usr/bin/openssl api.example.test"},
		{name: "probe, a 2xx", tools: map[string]string{"probe": "0 HTTP 200"}, want: "(probe)",
			argv: "/usr/bin/probe http --ca= --timeout 20s https://api.example.test/"},
		{name: "probe, another status is an answer", tools: map[string]string{"probe": "3 HTTP 404"}, want: "(probe)"},
		{name: "probe, the proxy refused the CONNECT", tools: map[string]string{"probe": "3 HTTP 403|probe http: the proxy refused CONNECT api.example.test: Forbidden"},
			want: "failed with probe: /usr/bin/probe: exit status 3: probe http: the proxy refused CONNECT"},
		{name: "nothing at all", tools: map[string]string{},
			want: "error: no tool in the image can make a verified TLS handshake to api.example.test: looked for curl, GNU Wget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			a := Agent{UID: 1000, GID: 1000, Home: "/h", Tools: map[string]string{}}
			var ran []string
			for tool, spec := range tt.tools {
				p := "/usr/bin/" + tool
				a.Tools[tool] = p
				codeStr, rest, _ := strings.Cut(spec, " ")
				stdout, stderr, _ := strings.Cut(rest, "|")
				code, _ := strconv.Atoi(codeStr)
				f.tools[tool] = func(argv []string) (string, string, int) {
					if len(argv) == 2 && argv[1] == "--version" {
						return stdout + "\n", "", 0
					}
					ran = append(ran, strings.Join(argv, " "))
					return stdout, stderr, code
				}
			}
			f.tools["openssl-self-test"] = func(argv []string) (string, string, int) { // openssl's wrapper
				ran = append(ran, strings.Join(argv, " "))
				return "", "", 0
			}
			line, err := selfTest(context.Background(), f, a, host)
			got := line
			if err != nil {
				got = "error: " + err.Error()
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("selfTest = %q\nwant %q", got, tt.want)
			}
			if tt.argv != "" && (len(ran) != 1 || ran[0] != tt.argv) {
				t.Errorf("ran %q\nwant %q", ran, tt.argv)
			}
			for _, c := range f.calls {
				if c.user != "1000:1000" {
					t.Errorf("%s ran as %q, not the agent", c.name, c.user)
				}
			}
		})
	}
}

func TestSelfTestHostIsChecked(t *testing.T) {
	f := newFake(t)
	var got []string
	f.tools["curl"] = func(argv []string) (string, string, int) { got = argv; return "", "", 0 }
	a := Agent{UID: 1000, GID: 1000, Home: "/h", Tools: map[string]string{"curl": "/usr/bin/curl"}}
	for host, want := range map[string]string{
		"*.example.test":       `self-test host "*.example.test" is a wildcard`,
		"https://x.test":       "has a scheme",
		"x.test/path":          "has a path",
		"x.test -k":            "contains whitespace",
		"":                     "host is empty",
		"2001:db8::1":          "https://[2001:db8::1]/",
		"[2001:db8::1]":        "in brackets",
		"192.0.2.1":            "https://192.0.2.1/",
		"api.example.test:443": "has a port",
		"API.Example.test":     "https://API.Example.test/",
	} {
		got = nil
		_, err := selfTest(context.Background(), f, a, host)
		switch {
		case strings.HasPrefix(want, "https://"):
			if err != nil || len(got) == 0 || got[len(got)-1] != want {
				t.Errorf("host %q: %v, ran %q; want the URL %s", host, err, got, want)
			}
		case err == nil || !strings.Contains(err.Error(), want):
			t.Errorf("host %q: %v; want an error containing %q", host, err, want)
		case got != nil:
			t.Errorf("host %q: curl ran", host)
		}
	}
}

func TestChooseSelfTestHost(t *testing.T) {
	tests := []struct {
		name   string
		routes []contract.Route
		host   string
		why    string
	}{
		{name: "no routes", why: "the bottle declares no egress host"},
		{name: "the first usable", routes: []contract.Route{
			{Host: "*.example.test"},
			{Host: "pass.example.test", TLSPassthrough: true},
			{Host: "other-port.example.test", Ports: []int{8443}},
			{Host: "api.example.test"},
			{Host: "later.example.test"},
		}, host: "api.example.test"},
		{name: "a port list with 443", routes: []contract.Route{{Host: "api.example.test", Ports: []int{8443, 443}}}, host: "api.example.test"},
		{name: "none usable", routes: []contract.Route{{Host: "*.example.test"}, {Host: "p.test", TLSPassthrough: true}},
			why: "no declared egress host is intercepted by egress on port 443 without a wildcard (tls_passthrough, wildcard or other-port routes only)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, why := ChooseSelfTestHost(tt.routes)
			if host != tt.host || why != tt.why {
				t.Errorf("ChooseSelfTestHost = %q, %q; want %q, %q", host, why, tt.host, tt.why)
			}
		})
	}
}

func TestWriteAgentFileStaysInTheHome(t *testing.T) {
	f := newFake(t)
	for _, rel := range []string{"", ".", "..", "../etc/passwd", "/etc/passwd", "a/../../b", "a//b", "a/"} {
		if _, err := WriteAgentFile(context.Background(), f, testAgent, rel, 0o600, nil); err == nil {
			t.Errorf("WriteAgentFile(%q) succeeded", rel)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("commands ran: %v", f.trail())
	}
	if dst, err := WriteAgentFile(context.Background(), f, testAgent, ".config/x/y.json", 0o640, []byte("{}")); err != nil || dst != "/home/agent/.config/x/y.json" {
		t.Fatalf("WriteAgentFile = %q, %v", dst, err)
	}
	if c := f.calls[0]; c.user != "1000:1000" || f.modes["/home/agent/.config/x/y.json"] != "0640" || string(c.stdin) != "{}" {
		t.Errorf("call %+v, mode %q", c, f.modes["/home/agent/.config/x/y.json"])
	}
}

func TestSuperviseURL(t *testing.T) {
	want := fmt.Sprintf("http://%s:%d/mcp", contract.SuperviseHost, contract.MCPPort)
	if SuperviseURL != want {
		t.Errorf("SuperviseURL = %q; the contract says %q", SuperviseURL, want)
	}
	got, err := MCPServersJSON(SuperviseURL)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"mcpServers":{"supervise":{"type":"http","url":"http://supervise:9100/mcp"}}}`+"\n" {
		t.Errorf("MCPServersJSON = %s", got)
	}
}

func TestExecErrorIsBoundedAndEscaped(t *testing.T) {
	c := &capped{max: 8}
	for _, p := range []string{"12345", "67890", "abc"} {
		if n, err := c.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if c.buf.String() != "12345678" || c.dropped != 5 {
		t.Errorf("capped kept %q, dropped %d", c.buf.String(), c.dropped)
	}
	e := &ExecError{Argv: []string{"/bin/sh", "-c", "script", "write-file", "/x"}, Stderr: []byte("line one\n\x1b[2Jline two\n"), Dropped: 10, Err: exitStatus(2)}
	if got, want := e.Error(), `write-file: exit status 2: line one\n\x1b[2Jline two [10 more bytes]`; got != want {
		t.Errorf("Error() = %q\nwant %q", got, want)
	}
	if e.ExitCode() != 2 {
		t.Errorf("ExitCode = %d", e.ExitCode())
	}
	if (&ExecError{Argv: []string{"x"}, Err: errors.New("not started")}).ExitCode() != -1 {
		t.Error("ExitCode of a command that did not run is not -1")
	}
}

// TestDockerExecArguments runs DockerExec against a stand-in docker that
// prints its arguments and standard input.
func TestDockerExecArguments(t *testing.T) {
	fakeDocker := filepath.Join(t.TempDir(), "docker")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done\necho\nif [ \"$2\" = -i ]; then cat; fi\n" +
		"case \"$*\" in *fail*) echo 'it failed' >&2; exit 3;; esac\n"
	if err := os.WriteFile(fakeDocker, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d := DockerExec{Container: "c0ffee", Docker: fakeDocker}
	ctx := context.Background()
	for _, tt := range []struct {
		user  string
		stdin io.Reader
		argv  []string
		want  string
	}{
		{"1000:1000", strings.NewReader("data $(x)"), []string{"sh", "-c", `cat > "$1"`, "w", "/a b"}, "[exec][-i][-u][1000:1000][c0ffee][sh][-c][cat > \"$1\"][w][/a b]\ndata $(x)"},
		{"", nil, []string{"id", "-u"}, "[exec][c0ffee][id][-u]\n"},
		{"0:0", nil, []string{"--help"}, "[exec][-u][0:0][c0ffee][--help]\n"},
	} {
		out, err := d.Exec(ctx, tt.user, tt.stdin, tt.argv...)
		if err != nil || string(out) != tt.want {
			t.Errorf("Exec(%q, %q) = %q, %v\nwant %q", tt.user, tt.argv, out, err, tt.want)
		}
	}
	_, err := d.Exec(ctx, "0:0", nil, "fail")
	var ee *ExecError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || err.Error() != "fail: exit status 3: it failed" {
		t.Errorf("failing Exec = %v", err)
	}
	if _, err := (DockerExec{Docker: fakeDocker}).Exec(ctx, "", nil, "id"); err == nil {
		t.Error("Exec without a container succeeded")
	}
	if _, err := d.Exec(ctx, "", nil); err == nil {
		t.Error("Exec without a command succeeded")
	}
}
