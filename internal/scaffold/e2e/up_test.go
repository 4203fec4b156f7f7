package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/bot-bottle/bot-bottle/internal/host/demo"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// The tests below drive the bot-bottle binary as an operator would: up,
// list, proposals, down, resume, with the real engine, the test agent
// image run through the custom provider, and the demo's pretend internet
// connected to each bottle's egress network.

// upEnv is a home for bot-bottle and the pretend internet beside it.
type upEnv struct {
	bin      string
	home     string
	work     string
	upstream *demo.Upstream
	net      string   // the network the upstream servers start on
	servers  []string // their container ids
	started  []demo.Server
	aliases  []string // the API's other names
	env      []string // more of bot-bottle's environment (NAME=value)
}

// newUpEnv makes the home and the pretend internet's files; its API also
// answers as each of alsoAPI.
func newUpEnv(t *testing.T, alsoAPI ...string) *upEnv {
	t.Helper()
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine reachable (docker info: %v: %s)", err, bytes.TrimSpace(out))
	}
	testutil.DockerImages(t, tag, demo.ImageNames...)
	e := &upEnv{bin: testutil.BuildCommand(t, "github.com/bot-bottle/bot-bottle/cmd/bot-bottle"), work: t.TempDir()}
	e.home = filepath.Join(e.work, "home")
	for _, d := range []string{"bottles", "agents"} {
		if err := os.MkdirAll(filepath.Join(e.home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if e.upstream, err = demo.PrepareUpstream(e.work, alsoAPI...); err != nil {
		t.Fatal(err)
	}
	return e
}

// bottle writes bottles/NAME.md and agents/NAME.md: the test agent image
// running command, with yaml added to the bottle, and the agent's prompt.
func (e *upEnv) bottle(t *testing.T, name, command, yaml string) {
	t.Helper()
	b := "---\nagent_provider:\n  template: custom\n  image: " + demo.Image("agent-test", tag) + "\n  command: " + command + "\n" +
		"resources: {memory: 512m, cpus: 1, pids: 256}\n" + yaml + "---\n"
	write(t, filepath.Join(e.home, "bottles", name+".md"), b)
	write(t, filepath.Join(e.home, "agents", name+".md"), "---\nbottle: "+name+"\n---\nYou are the "+name+" test agent.\n")
}

// internetBottle writes a bottle whose gate repo and API route are the
// pretend internet's.
func (e *upEnv) internetBottle(t *testing.T, name, command string) {
	t.Helper()
	m := e.upstream.BottleManifest()
	m = strings.Replace(m, "---\n", "---\nagent_provider:\n  template: custom\n  image: "+demo.Image("agent-test", tag)+"\n  command: "+command+"\n", 1)
	write(t, filepath.Join(e.home, "bottles", name+".md"), m)
	write(t, filepath.Join(e.home, "agents", name+".md"), "---\nbottle: "+name+"\n---\nPush your work through the gate.\n")
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// bb runs bot-bottle with args and returns its exit code and output.
func (e *upEnv) bb(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(e.bin, append([]string{"--home", e.home}, args...)...)
	cmd.Env = append(append(os.Environ(), demo.TokenEnv+"="+e.upstream.Token), e.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("bot-bottle %v: %v", args, err)
	}
	code := 0
	if ee != nil {
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

// upDetached starts agent and returns its slug, taking it down at the end.
func (e *upEnv) upDetached(t *testing.T, agent string, extra ...string) string {
	t.Helper()
	code, out, errs := e.bb(t, "", append([]string{"up", agent, "--yes", "--detach"}, extra...)...)
	if code != 0 {
		t.Fatalf("up %s: exit %d\n%s%s", agent, code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	slug := lines[len(lines)-1]
	if contract.ValidSlug(slug) != nil || !strings.HasPrefix(slug, agent+"-") {
		t.Fatalf("up's last line is %q, not a slug of %s:\n%s", slug, agent, out)
	}
	t.Cleanup(func() { e.bb(t, "", "down", slug) })
	return slug
}

// startServers runs the pretend internet's servers on a network of the
// test's own, so they can join bottles' egress networks later.
func (e *upEnv) startServers(t *testing.T) { e.start(t, e.upstream.Servers()) }

// startAPI runs only the pretend internet's API, which also answers to
// aliases on the egress networks it joins.
func (e *upEnv) startAPI(t *testing.T, aliases ...string) {
	api := e.upstream.Servers()[0]
	if api.Name != "api" {
		t.Fatalf("the pretend internet's first server is %s, not api", api.Name)
	}
	e.aliases = aliases
	e.start(t, []demo.Server{api})
}

func (e *upEnv) start(t *testing.T, servers []demo.Server) {
	t.Helper()
	e.net = "bbup-" + runID + "-" + strings.ToLower(t.Name()[len(t.Name())-4:])
	if out, err := exec.Command("docker", "network", "create", e.net).CombinedOutput(); err != nil {
		t.Fatalf("network create: %v: %s", err, out)
	}
	t.Cleanup(func() {
		for _, id := range e.servers {
			_ = exec.Command("docker", "rm", "-f", id).Run()
		}
		_ = exec.Command("docker", "network", "rm", e.net).Run()
	})
	for _, srv := range servers {
		args := []string{"run", "-d", "--network", e.net, "--user", "0:0"}
		for _, v := range srv.Volumes {
			args = append(args, "-v", v)
		}
		args = append(append(args, demo.Image("demo-upstream", tag)), srv.Command...)
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("start %s: %v: %s", srv.Name, err, out)
		}
		e.servers = append(e.servers, strings.TrimSpace(string(out)))
		e.started = append(e.started, srv)
	}
}

// connect puts the pretend internet on the bottle slug's egress network,
// under the names the bottle's routes and repos use.
func (e *upEnv) connect(t *testing.T, slug string) {
	t.Helper()
	for i, srv := range e.started {
		args := []string{"network", "connect", "--alias", srv.Alias}
		if srv.Name == "api" {
			for _, a := range e.aliases {
				args = append(args, "--alias", a)
			}
		}
		if out, err := exec.Command("docker", append(args, "bot-bottle-"+slug+"_egress", e.servers[i])...).CombinedOutput(); err != nil {
			t.Fatalf("connect %s: %v: %s", srv.Name, err, out)
		}
	}
}

// disconnect takes the pretend internet off the bottle's egress network,
// which compose could not remove with them on it.
func (e *upEnv) disconnect(t *testing.T, slug string) {
	t.Helper()
	for _, id := range e.servers {
		if out, err := exec.Command("docker", "network", "disconnect", "bot-bottle-"+slug+"_egress", id).CombinedOutput(); err != nil {
			t.Errorf("disconnect: %v: %s", err, out)
		}
	}
}

// agentContainer is the id of the bottle slug's agent container.
func agentContainer(t *testing.T, slug string) string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label="+contract.LabelBottle+"="+slug,
		"--filter", "label=com.docker.compose.service=agent").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("no agent container for %s (%v)", slug, err)
	}
	return strings.TrimSpace(string(out))
}

// inAgent runs a script in the bottle's agent as its user.
func inAgent(t *testing.T, slug, script string) (string, error) {
	t.Helper()
	out, err := exec.Command("docker", "exec", "-u", "1000:1000", "-w", "/home/agent/workspace", agentContainer(t, slug), "sh", "-c", script).CombinedOutput()
	return string(out), err
}

// TestUpWorkspaceGateAndApprovals: up --detach --cwd of a bottle with a
// gate repo (the workspace's origin) and supervise. Inside: the workspace
// and its .git belong to the agent, TLS through egress verifies with no
// extra flag, the prompt, git config and MCP entry are in place, and a
// push to origin lands upstream through the gate. With the bottle up, an
// approved egress-block opens its host for the agent's next request, an
// approved capability-block rebuilds and recreates the agent with the
// workspace kept, and down --keep-state then resume bring it back.
func TestUpWorkspaceGateAndApprovals(t *testing.T) {
	e := newUpEnv(t)
	e.startServers(t)
	e.internetBottle(t, "gated", "[sh]")
	ws := t.TempDir()
	for _, args := range [][]string{
		{"init", "--quiet", "-b", "main"},
		{"remote", "add", "origin", "ssh://git@" + demo.GitHost + ":2222/" + demo.RepoName + ".git"},
	} {
		gitIn(t, ws, args...)
	}
	write(t, filepath.Join(ws, "work.txt"), "from the host\n")
	gitIn(t, ws, "add", "work.txt")
	gitIn(t, ws, "-c", "user.name=op", "-c", "user.email=op@example.test", "commit", "--quiet", "-m", "host work")

	slug := e.upDetached(t, "gated", "--cwd", ws)
	e.connect(t, slug)

	out, err := inAgent(t, slug, `stat -c '%u:%g %n' . .git work.txt
git log --oneline -1
stat -c '%a %u' ~/.bot-bottle-prompt.txt; cat ~/.bot-bottle-prompt.txt
git config --get user.email; git config --get-regexp 'url\..*insteadof' | head -3
cat ~/.bot-bottle/mcp.json`)
	if err != nil {
		t.Fatalf("inside the agent: %v\n%s", err, out)
	}
	for _, want := range []string{"1000:1000 .", "1000:1000 .git", "1000:1000 work.txt", "host work", "600 1000",
		"Push your work through the gate.", "agent@demo.test", "http://git-gate:9420/demo.git", "http://supervise:9100/mcp"} {
		if !strings.Contains(out, want) {
			t.Errorf("inside the agent, %q is missing:\n%s", want, out)
		}
	}

	// TLS through egress verifies against the system store: git's own
	// HTTPS client, no flag, gets an HTTP answer, not a certificate error.
	out, _ = inAgent(t, slug, "git ls-remote https://"+demo.APIHost+"/v1/nothing.git 2>&1; true")
	if strings.Contains(out, "SSL certificate") || strings.Contains(out, "certificate verify") || !strings.Contains(out, "api.demo.test") {
		t.Errorf("git over HTTPS through egress:\n%s", out)
	}

	// A push to origin goes through the gate and lands upstream.
	out, err = inAgent(t, slug, `echo agent > agent.txt && git add agent.txt && git -c user.name=agent -c user.email=agent@demo.test commit --quiet -m "agent work" && git push --quiet origin HEAD:refs/heads/from-agent 2>&1 && git rev-parse HEAD`)
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	head := lastLine(out)
	up, err := exec.Command("git", "--git-dir", filepath.Join(e.upstream.Dir, "git", demo.RepoName+".git"), "rev-parse", "refs/heads/from-agent").Output()
	if err != nil || strings.TrimSpace(string(up)) != head {
		t.Fatalf("upstream from-agent = %q (%v), want %s", up, err, head)
	}

	// egress-block: refused, proposed, approved with the CLI, open.
	if out, _ := inAgent(t, slug, "probe http https://docs.demo.test/ 2>&1; true"); !strings.Contains(out, "403") {
		t.Fatalf("an undeclared host was not refused:\n%s", out)
	}
	call := e.propose(t, slug, "egress-block", `{"host":"docs.demo.test","reason":"the docs"}`)
	id := e.waitProposal(t, slug, "egress-block")
	if code, o, es := e.bb(t, "", "proposals", "approve", id); code != 0 {
		t.Fatalf("approve: %d\n%s%s", code, o, es)
	}
	if r := <-call; !strings.Contains(r, "approved") {
		t.Errorf("the agent's call answered:\n%s", r)
	}
	if out, _ := inAgent(t, slug, "probe http https://docs.demo.test/ 2>&1; true"); strings.Contains(out, "403") {
		t.Errorf("after the approval the host is still refused:\n%s", out)
	}

	// capability-block: the agent is rebuilt and recreated; the workspace
	// (and a file written in it) stays.
	if out, err := inAgent(t, slug, "echo kept > keep.txt"); err != nil {
		t.Fatal(out)
	}
	before := agentContainer(t, slug)
	e.propose(t, slug, "capability-block", `{"dockerfile_lines":["USER 0","RUN mkdir -p /opt/cap && echo installed > /opt/cap/tool"],"reason":"a tool"}`)
	id = e.waitProposal(t, slug, "capability-block")
	if code, o, es := e.bb(t, "", "proposals", "approve", id); code != 0 {
		t.Fatalf("approve capability: %d\n%s%s", code, o, es)
	}
	if after := agentContainer(t, slug); after == before {
		t.Fatal("the agent container was not recreated")
	}
	out, err = inAgent(t, slug, "cat /opt/cap/tool keep.txt; id -u")
	if err != nil || !strings.Contains(out, "installed") || !strings.Contains(out, "kept") || !strings.Contains(out, "1000") {
		t.Fatalf("after the rebuild: %v\n%s", err, out)
	}

	// down --keep-state, resume: the workspace as it was. (The pretend
	// internet leaves the egress network first: down refuses to leave a
	// network behind, and one that another container joined cannot go.)
	e.disconnect(t, slug)
	if code, o, es := e.bb(t, "", "down", slug, "--keep-state"); code != 0 {
		t.Fatalf("down --keep-state: %d\n%s%s", code, o, es)
	}
	if code, o, es := e.bb(t, "", "resume", slug, "--detach"); code != 0 {
		t.Fatalf("resume: %d\n%s%s", code, o, es)
	}
	if out, err := inAgent(t, slug, "cat keep.txt /opt/cap/tool"); err != nil || !strings.Contains(out, "kept") || !strings.Contains(out, "installed") {
		t.Fatalf("after resume: %v\n%s", err, out)
	}
	e.downAndGone(t, slug)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// propose makes an MCP tool call from inside the agent, in the
// background; the channel gets what it printed.
func (e *upEnv) propose(t *testing.T, slug, tool, args string) <-chan string {
	t.Helper()
	done := make(chan string, 1)
	id := agentContainer(t, slug)
	go func() {
		out, _ := exec.Command("docker", "exec", "-u", "1000:1000", id, "sh", "-c", mcpScript(tool, args)).CombinedOutput()
		done <- string(out)
	}()
	return done
}

// waitProposal waits for a pending proposal of tool in the bottle and
// returns its id, as an operator would see it with proposals list.
func (e *upEnv) waitProposal(t *testing.T, slug, tool string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		_, out, _ := e.bb(t, "", "proposals", "list", "--json", "--bottle", slug)
		var views []struct {
			ID, Tool string
		}
		if json.Unmarshal([]byte(out), &views) == nil {
			for _, v := range views {
				if v.Tool == tool {
					return v.ID
				}
			}
		}
	}
	t.Fatalf("no %s proposal from %s within 30s", tool, slug)
	return ""
}

// downAndGone takes the bottle down and checks nothing of it is left.
func (e *upEnv) downAndGone(t *testing.T, slug string) {
	t.Helper()
	if code, o, es := e.bb(t, "", "down", slug); code != 0 {
		t.Fatalf("down: %d\n%s%s", code, o, es)
	}
	if _, err := os.Stat(filepath.Join(contract.StateBottlesDir(e.home), slug)); !os.IsNotExist(err) {
		t.Errorf("the state directory of %s survived down (%v)", slug, err)
	}
	for _, kind := range [][]string{{"ps", "-a", "-q"}, {"network", "ls", "-q"}, {"volume", "ls", "-q"}} {
		out, _ := exec.Command("docker", append(kind, "--filter", "label="+contract.LabelBottle+"="+slug)...).Output()
		if len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("after down, docker %s still lists %s", kind[0], bytes.TrimSpace(out))
		}
	}
}

// TestTwoBottlesOfOneAgent: two ups of the same agent at once get their
// own slugs; list --json shows both; down of one leaves the other.
func TestTwoBottlesOfOneAgent(t *testing.T) {
	e := newUpEnv(t)
	e.bottle(t, "twin", "[sh]", "")
	// Both start at once; t.Fatal belongs to the test's goroutine, so
	// each start only reports, and the test checks after both.
	slugs := make([]string, 2)
	outs := make([]string, 2)
	codes := make([]int, 2)
	var wg sync.WaitGroup
	for i := range slugs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out, errs string
			codes[i], out, errs = e.bb(t, "", "up", "twin", "--yes", "--detach")
			outs[i] = out + errs
			slugs[i] = lastLine(out)
		}()
	}
	wg.Wait()
	for i, slug := range slugs {
		if contract.ValidSlug(slug) == nil {
			t.Cleanup(func() { e.bb(t, "", "down", slug) })
		}
		if codes[i] != 0 || !strings.HasPrefix(slug, "twin-") {
			t.Fatalf("up twin: exit %d, last line %q:\n%s", codes[i], slug, outs[i])
		}
	}
	if slugs[0] == slugs[1] {
		t.Fatalf("both bottles are %s", slugs[0])
	}
	running := func() map[string]string {
		_, out, es := e.bb(t, "", "list", "--json")
		var rows []struct{ Slug, Status string }
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("list --json: %v\n%s%s", err, out, es)
		}
		m := map[string]string{}
		for _, r := range rows {
			m[r.Slug] = r.Status
		}
		return m
	}
	if m := running(); m[slugs[0]] != "running" || m[slugs[1]] != "running" {
		t.Fatalf("list --json: %v, want both %v running", m, slugs)
	}
	e.downAndGone(t, slugs[0])
	if m := running(); m[slugs[1]] != "running" || m[slugs[0]] != "" {
		t.Fatalf("after down of %s: %v", slugs[0], m)
	}
}

// ptySession runs bot-bottle in a pseudo-terminal, as an operator at a
// terminal would.
type ptySession struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (e *upEnv) ptyRun(t *testing.T, args ...string) *ptySession {
	t.Helper()
	cmd := exec.Command(e.bin, append([]string{"--home", e.home}, args...)...)
	cmd.Env = append(os.Environ(), demo.TokenEnv+"="+e.upstream.Token, "TERM=xterm")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	s := &ptySession{t: t, cmd: cmd, tty: tty, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			s.mu.Lock()
			s.out.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); tty.Close() })
	return s
}

func (s *ptySession) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// expect waits until the terminal has shown want.
func (s *ptySession) expect(want string, within time.Duration) {
	s.t.Helper()
	for deadline := time.Now().Add(within); !strings.Contains(s.output(), want); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal did not show %q within %v:\n%s", want, within, s.output())
		}
	}
}

func (s *ptySession) send(text string) {
	s.t.Helper()
	if _, err := io.WriteString(s.tty, text); err != nil {
		s.t.Fatal(err)
	}
}

// wait waits for bot-bottle to exit and returns its exit code.
func (s *ptySession) wait(within time.Duration) int {
	s.t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	select {
	case err := <-exited:
		<-s.done
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			s.t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		s.t.Fatalf("bot-bottle did not exit within %v:\n%s", within, s.output())
	}
	return -1
}

// slugShown is the slug the session's "bottle SLUG is up" line names.
func (s *ptySession) slugShown() string {
	s.t.Helper()
	m := regexp.MustCompile(`bottle ([a-z0-9-]+) is up`).FindStringSubmatch(s.output())
	if m == nil {
		s.t.Fatalf("no 'bottle SLUG is up' line:\n%s", s.output())
	}
	return m[1]
}

// TestUpInTheForeground: through a pseudo-terminal, up shows the
// preflight and asks; y starts the bottle; the agent's output reaches the
// terminal; its exit status is up's; and the bottle is gone after.
func TestUpInTheForeground(t *testing.T) {
	e := newUpEnv(t)
	e.bottle(t, "fg", `[sh, -c, "echo hello from the foreground agent; exit 7"]`, "")
	s := e.ptyRun(t, "up", "fg")
	s.expect("Start? [y/N]", 30*time.Second)
	for _, want := range []string{"agent:", "fg", "provider:", "custom", "state:"} {
		if !strings.Contains(s.output(), want) {
			t.Errorf("the preflight lacks %q:\n%s", want, s.output())
		}
	}
	s.send("y\r")
	s.expect("hello from the foreground agent", 120*time.Second)
	if code := s.wait(60 * time.Second); code != 7 {
		t.Errorf("up exited %d, want the agent's 7:\n%s", code, s.output())
	}
	slug := s.slugShown()
	if _, err := os.Stat(filepath.Join(contract.StateBottlesDir(e.home), slug)); !os.IsNotExist(err) {
		t.Errorf("the bottle %s was not torn down (%v):\n%s", slug, err, s.output())
	}
	if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+contract.LabelBottle+"="+slug).Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("containers of %s are left: %s", slug, out)
	}
}

// TestPromptedValueStaysSecret: a ?prompt value typed at the terminal
// reaches the agent's environment and nowhere else: no process's command
// line on this machine during the run, not compose.yaml, not docker
// inspect of a sidecar, not the logs, and nothing on disk after down.
func TestPromptedValueStaysSecret(t *testing.T) {
	e := newUpEnv(t)
	value := "s3cr3t-" + runID + "-typed"
	// The agent prints the value's first word, computed, so the line
	// cannot be matched in the preflight's copy of the command.
	e.bottle(t, "sec", `[sh, -c, "echo \"agent holds ${THE_SECRET%%-*}\"; sleep 4"]`,
		"env:\n  THE_SECRET: \"?The secret thing\"\nsupervise: true\n")
	s := e.ptyRun(t, "up", "sec")
	s.expect("The secret thing", 30*time.Second)
	s.send(value + "\r")
	s.expect("Start? [y/N]", 30*time.Second)
	s.send("y\r")
	s.expect("agent holds s3cr3t", 120*time.Second)
	if strings.Contains(s.output(), value) {
		t.Errorf("the terminal echoed the value:\n%s", s.output())
	}
	slug := s.slugShown()

	// While the agent runs: every command line on this machine, the
	// compose file, the sidecars' inspect and the logs.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if data, err := os.ReadFile(p); err == nil && bytes.Contains(data, []byte(value)) {
			t.Errorf("%s holds the value: %q", p, bytes.ReplaceAll(data, []byte{0}, []byte{' '}))
		}
	}
	dir := filepath.Join(contract.StateBottlesDir(e.home), slug)
	if data, _ := os.ReadFile(filepath.Join(dir, contract.BottleComposeFile)); bytes.Contains(data, []byte(value)) || len(data) == 0 {
		t.Errorf("compose.yaml holds the value (or is missing)")
	}
	for _, svc := range []string{"egress", "supervise", "netguard", "agent-net"} {
		out, _ := exec.Command("docker", "ps", "-q", "--filter", "label="+contract.LabelBottle+"="+slug, "--filter", "label=com.docker.compose.service="+svc).Output()
		id := strings.TrimSpace(string(out))
		if id == "" {
			t.Errorf("no %s container", svc)
			continue
		}
		if insp, _ := exec.Command("docker", "inspect", id).Output(); bytes.Contains(insp, []byte(value)) {
			t.Errorf("docker inspect of %s holds the value", svc)
		}
	}
	if _, out, es := e.bb(t, "", "logs", slug); strings.Contains(out+es, value) {
		t.Error("the bottle's logs hold the value")
	}
	if code := s.wait(90 * time.Second); code != 0 {
		t.Errorf("up exited %d:\n%s", code, s.output())
	}
	// After down: nothing on disk holds it.
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				if data, _ := os.ReadFile(p); bytes.Contains(data, []byte(value)) {
					t.Errorf("after down %s holds the value", p)
				}
			}
			return nil
		})
	}
}

// TestUnsetHostVariableStopsBeforeAnything: up of a bottle whose env
// names an unset ${VAR} fails at once, naming it and its line, and
// starts nothing.
func TestUnsetHostVariableStopsBeforeAnything(t *testing.T) {
	e := newUpEnv(t)
	e.bottle(t, "unset", "[sh]", "env:\n  TICKET: ${BB_E2E_NEVER_SET}\n")
	code, out, errs := e.bb(t, "", "up", "unset", "--yes")
	if code != 1 || !strings.Contains(errs, "BB_E2E_NEVER_SET") || !strings.Contains(errs, "unset.md:") {
		t.Fatalf("exit %d, want 1 naming the variable and the line:\n%s%s", code, out, errs)
	}
	if entries, _ := os.ReadDir(contract.StateBottlesDir(e.home)); len(entries) != 0 {
		t.Errorf("a state directory was made: %v", entries)
	}
	if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+contract.LabelAgent+"=unset").Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("containers were started: %s", out)
	}
}
