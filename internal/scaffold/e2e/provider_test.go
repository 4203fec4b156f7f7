package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/demo"
	"github.com/bot-bottle/bot-bottle/internal/host/provider"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/fakeagent"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// The tests below run Claude Code and Codex bottles through bot-bottle up
// with the test agent image, whose claude and codex are one stand-in
// (cmd/fake-agent): it records its argv, environment and the config files
// bot-bottle wrote, calls its provider's API through egress with the
// credential it holds, and initializes the supervise MCP server it finds
// registered. The provider's API is the pretend internet's, answering as
// api.anthropic.com, api.openai.com and chatgpt.com on the bottle's
// egress network; it accepts only the real token.

// privateRanges lets egress reach the pretend internet, a Docker network.
const privateRanges = `["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]`

// providerBottle writes bottles/NAME.md, a bottle of template whose
// agent_provider has more (YAML lines indented by two), with the egress
// routes and env given (YAML list items and mapping lines, indented by
// four and two), and agents/NAME.md with prompt.
func (e *upEnv) providerBottle(t *testing.T, name, template, more, routes, env, prompt string) {
	t.Helper()
	b := "---\nagent_provider:\n  template: " + template + "\n" + more +
		"egress:\n  ssrf_allow: " + privateRanges + "\n  upstream_ca: " + filepath.Join(e.upstream.Dir, "api-ca.crt") + "\n"
	if routes != "" {
		b += "  routes:\n" + routes
	}
	if env != "" {
		b += "env:\n" + env
	}
	b += "supervise: true\nresources: {memory: 512m, cpus: 1, pids: 256}\n---\n"
	write(t, filepath.Join(e.home, "bottles", name+".md"), b)
	write(t, filepath.Join(e.home, "agents", name+".md"), "---\nbottle: "+name+"\n---\n"+prompt)
}

// gitWorkspace is an empty git repository: the stand-in's record, which
// it writes there, is work not committed, so up keeps the bottle when
// the agent exits and the test can look inside.
func gitWorkspace(t *testing.T) string {
	t.Helper()
	ws := t.TempDir()
	gitIn(t, ws, "init", "--quiet", "-b", "main")
	return ws
}

// launched is one attached run of the stand-in agent.
type launched struct {
	slug   string
	code   int
	stdout string
	stderr string
	rec    fakeagent.Record
}

var keptRE = regexp.MustCompile(`bottle (\S+) is kept`)

// attachedUp runs `up AGENT --yes --cwd ws --agent-image agent-test`
// without a terminal: the agent runs attached, and the pretend API joins
// the bottle's egress network as soon as it exists. The agent leaves
// uncommitted work, so the bottle is kept; the test takes it down.
func (e *upEnv) attachedUp(t *testing.T, agent, ws string) launched {
	t.Helper()
	done := make(chan launched, 1)
	go func() {
		code, out, errs := e.bb(t, "", "up", agent, "--yes", "--cwd", ws, "--agent-image", demo.Image("agent-test", tag))
		done <- launched{code: code, stdout: out, stderr: errs}
	}()
	connected := ""
	var l launched
	for deadline := time.Now().Add(4 * time.Minute); ; {
		select {
		case l = <-done:
		case <-time.After(200 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatalf("up %s did not finish in 4 minutes", agent)
			}
			if connected == "" && len(e.servers) > 0 {
				if slug := e.egressOf(agent); slug != "" {
					e.connect(t, slug)
					connected = slug
				}
			}
			continue
		}
		break
	}
	m := keptRE.FindStringSubmatch(l.stderr)
	if m == nil {
		t.Fatalf("up %s: exit %d and the bottle was not kept:\n%s%s", agent, l.code, l.stdout, l.stderr)
	}
	l.slug = m[1]
	t.Cleanup(func() {
		if connected != "" {
			e.disconnect(t, connected)
		}
		e.bb(t, "", "down", l.slug)
	})
	l.rec = record(t, l.stdout)
	return l
}

// egressOf is the slug of agent's bottle once its egress network exists:
// the bottle's state directory under this home names it.
func (e *upEnv) egressOf(agent string) string {
	entries, _ := os.ReadDir(contract.StateBottlesDir(e.home))
	for _, en := range entries {
		if slug := en.Name(); strings.HasPrefix(slug, agent+"-") &&
			exec.Command("docker", "network", "inspect", "bot-bottle-"+slug+"_egress").Run() == nil {
			return slug
		}
	}
	return ""
}

// record is the stand-in's record in its output.
func record(t *testing.T, stdout string) fakeagent.Record {
	t.Helper()
	var rec fakeagent.Record
	for _, line := range strings.Split(stdout, "\n") {
		if j, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), fakeagent.RecordPrefix); ok {
			if err := json.Unmarshal([]byte(j), &rec); err != nil {
				t.Fatalf("the stand-in's record: %v\n%s", err, j)
			}
			return rec
		}
	}
	t.Fatalf("the agent printed no record:\n%s", stdout)
	return rec
}

// resumeAttached runs `resume slug` without a terminal and returns the
// stand-in's record.
func (e *upEnv) resumeAttached(t *testing.T, slug string) fakeagent.Record {
	t.Helper()
	code, out, errs := e.bb(t, "", "resume", slug)
	if !keptRE.MatchString(errs) {
		t.Fatalf("resume %s: exit %d, the bottle was not kept:\n%s%s", slug, code, out, errs)
	}
	return record(t, out)
}

// noSecretsInAgent searches the agent container of slug (every file, the
// environment and /proc/*/environ and cmdline of the agent's processes)
// for each of values.
func noSecretsInAgent(t *testing.T, slug string, values ...string) {
	t.Helper()
	cmd := exec.Command("docker", "exec", "-i", "-u", "1000:1000", agentContainer(t, slug), "probe", "secrets", "--values-file", "-", "--root", "/")
	cmd.Stdin = strings.NewReader(strings.Join(values, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		t.Errorf("the agent holds a host token:\n%s", out)
	default:
		t.Fatalf("probe secrets: %v\n%s", err, out)
	}
}

// apiSawToken: the pretend API's log has a whoami with the right token.
func (e *upEnv) apiSawToken(t *testing.T) {
	t.Helper()
	out, _ := exec.Command("docker", "logs", e.servers[0]).CombinedOutput()
	if !bytes.Contains(out, []byte(`"token_ok":true`)) {
		t.Errorf("the API never saw the real token:\n%s", out)
	}
}

func wantArgv(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: argv %q, want %q", what, got, want)
	}
}

// TestClaudeBottle: a Claude Code bottle with auth_token. The agent runs
// as its contract says (permission bypass, the prompt file), finds
// ~/.claude.json with onboarding done, home and workspace trusted and the
// supervise MCP server (initialize succeeds), and holds a placeholder
// only: the API sees the real token, injected by egress on the provider's
// route, which replaces the manifest's route for the same host (whose
// wrong token would be refused). resume runs the resume arguments; an
// agent with no prompt gets no prompt flag.
func TestClaudeBottle(t *testing.T) {
	e := newUpEnv(t, "api.anthropic.com")
	e.startAPI(t, "api.anthropic.com")
	wrong := "wrong-" + runID + "-manifest-token"
	e.env = []string{"BB_E2E_CLAUDE_TOKEN=" + e.upstream.Token, "BB_E2E_WRONG_TOKEN=" + wrong}
	// The manifest has its own route for the provider's host, with a
	// token the API refuses.
	e.providerBottle(t, "claude", "claude", "  auth_token: BB_E2E_CLAUDE_TOKEN\n",
		"    - host: api.anthropic.com\n      auth: {scheme: Bearer, token_ref: BB_E2E_WRONG_TOKEN}\n", "",
		"You are the Claude test agent.\n")

	code, out, errs := e.bb(t, "", "up", "claude", "--dry-run", "--agent-image", demo.Image("agent-test", tag))
	if code != 0 || !regexp.MustCompile(`api\.anthropic\.com.*\[auth:provider\]`).MatchString(out) {
		t.Errorf("the preflight does not show the provider's route: exit %d\n%s%s", code, out, errs)
	}

	l := e.attachedUp(t, "claude", gitWorkspace(t))
	home := "/home/agent"
	rec := l.rec
	wantArgv(t, "up", rec.Argv, []string{"claude", "--dangerously-skip-permissions", "--append-system-prompt-file", home + "/.bot-bottle-prompt.txt"})
	if got := rec.Files[home+"/.bot-bottle-prompt.txt"]; strings.TrimSpace(got) != "You are the Claude test agent." {
		t.Errorf("the prompt file holds %q", got)
	}
	for k, v := range map[string]string{
		"CLAUDE_CODE_OAUTH_TOKEN":                  provider.PlaceholderToken,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
		"DISABLE_ERROR_REPORTING":                  "1",
		"DISABLE_AUTOUPDATER":                      "1",
	} {
		if rec.Env[k] != v {
			t.Errorf("the agent's %s is %q, want %q", k, rec.Env[k], v)
		}
	}
	for _, k := range []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"} {
		if _, ok := rec.Env[k]; ok {
			t.Errorf("the agent has %s", k)
		}
	}
	if np := rec.Env["NO_PROXY"]; !strings.Contains(np, "supervise") || rec.Env["HTTPS_PROXY"] == "" {
		t.Errorf("proxy env: HTTPS_PROXY=%q NO_PROXY=%q", rec.Env["HTTPS_PROXY"], np)
	}
	var cj struct {
		HasCompletedOnboarding        bool `json:"hasCompletedOnboarding"`
		BypassPermissionsModeAccepted bool `json:"bypassPermissionsModeAccepted"`
		Projects                      map[string]struct {
			HasTrustDialogAccepted bool `json:"hasTrustDialogAccepted"`
		} `json:"projects"`
		MCPServers map[string]struct{ Type, URL string } `json:"mcpServers"`
	}
	if err := json.Unmarshal([]byte(rec.Files[home+"/.claude.json"]), &cj); err != nil {
		t.Fatalf("~/.claude.json: %v\n%s", err, rec.Files[home+"/.claude.json"])
	}
	if !cj.HasCompletedOnboarding || !cj.BypassPermissionsModeAccepted || !cj.Projects[home].HasTrustDialogAccepted ||
		!cj.Projects[home+"/workspace"].HasTrustDialogAccepted {
		t.Errorf("~/.claude.json: %+v", cj)
	}
	if s := cj.MCPServers["supervise"]; s.Type != "http" || s.URL != "http://supervise:9100/mcp" {
		t.Errorf("~/.claude.json registers supervise as %+v", s)
	}
	if rec.MCPStatus != 200 || !rec.MCPSession {
		t.Errorf("MCP initialize at %s: status %d, session %v, error %q", rec.MCPURL, rec.MCPStatus, rec.MCPSession, rec.MCPError)
	}
	if rec.APIStatus != 200 || !strings.Contains(rec.APIBody, "token accepted") {
		t.Errorf("the API answered the agent %d %q (%s)", rec.APIStatus, rec.APIBody, rec.APIError)
	}
	e.apiSawToken(t)
	noSecretsInAgent(t, l.slug, e.upstream.Token, wrong)

	rec = e.resumeAttached(t, l.slug)
	wantArgv(t, "resume", rec.Argv, []string{"claude", "--continue", "--dangerously-skip-permissions", "--append-system-prompt-file", home + "/.bot-bottle-prompt.txt"})
}

// TestClaudeBottleWithoutPromptOrToken: no prompt, no prompt flag; no
// auth_token, no placeholder (the operator logs in inside), and the
// preflight says so.
func TestClaudeBottleWithoutPromptOrToken(t *testing.T) {
	e := newUpEnv(t)
	e.providerBottle(t, "quiet", "claude", "", "", "  "+fakeagent.SkipAPIEnv+": \"1\"\n", "")
	code, out, errs := e.bb(t, "", "up", "quiet", "--dry-run", "--agent-image", demo.Image("agent-test", tag))
	if code != 0 || !strings.Contains(out, "log in") {
		t.Errorf("the preflight does not say the operator logs in inside: exit %d\n%s%s", code, out, errs)
	}
	l := e.attachedUp(t, "quiet", gitWorkspace(t))
	wantArgv(t, "up", l.rec.Argv, []string{"claude", "--dangerously-skip-permissions"})
	if _, ok := l.rec.Env["CLAUDE_CODE_OAUTH_TOKEN"]; ok {
		t.Error("without auth_token the agent still gets CLAUDE_CODE_OAUTH_TOKEN")
	}
}

// jwt is an unsigned-looking JWT with claims and a random signature.
func jwt(claims map[string]any, sig string) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "e2e"})
	c, _ := json.Marshal(claims)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "." + enc.EncodeToString([]byte(sig))
}

// codexLogin is a host Codex login (ChatGPT mode) expiring at exp: its
// auth.json and the token strings no byte of which may reach the agent.
func codexLogin(exp time.Time) (authJSON []byte, access string, secrets []string) {
	auth := map[string]any{"chatgpt_account_id": "acct-" + runID, "chatgpt_plan_type": "plus", "chatgpt_user_id": "user-" + runID}
	access = jwt(map[string]any{"exp": exp.Unix(), "iat": exp.Add(-time.Hour).Unix(), "https://api.openai.com/auth": auth,
		"session_id": "authsess_" + runID + "access"}, "access-signature-"+runID)
	id := jwt(map[string]any{"exp": exp.Unix(), "email": "op@example.test", "https://api.openai.com/auth": auth}, "id-signature-"+runID)
	refresh := "rt_" + runID + "refreshrefreshrefresh"
	doc := map[string]any{
		"OPENAI_API_KEY": nil, "auth_mode": "chatgpt", "last_refresh": exp.Add(-time.Hour).UTC().Format(time.RFC3339),
		"tokens": map[string]any{"access_token": access, "id_token": id, "refresh_token": refresh, "account_id": "acct-" + runID},
	}
	authJSON, _ = json.MarshalIndent(doc, "", "  ")
	sigOf := func(tok string) string { return tok[strings.LastIndex(tok, ".")+1:] }
	return authJSON, access, []string{access, id, refresh, sigOf(access), sigOf(id)}
}

// TestCodexBottle: a Codex bottle forwarding the host's login. CODEX_HOME
// is the agent's (0700) with config.toml trusting the workspace and
// registering supervise (initialize succeeds), AGENTS.md the prompt, a
// stand-in auth.json Codex takes as a login; egress holds the access token
// and injects it on chatgpt.com, where the API sees it; no byte of any
// host token is in the agent. resume runs `codex resume --last`.
func TestCodexBottle(t *testing.T) {
	e := newUpEnv(t, "api.openai.com", "chatgpt.com")
	authJSON, access, secrets := codexLogin(time.Now().Add(2 * time.Hour))
	codexHome := filepath.Join(e.work, "host-codex")
	if err := os.MkdirAll(codexHome, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(codexHome, "auth.json"), string(authJSON))
	// The pretend API accepts the host's access token.
	write(t, filepath.Join(e.upstream.Dir, "token"), access+"\n")
	e.upstream.Token = access
	e.startAPI(t, "api.openai.com", "chatgpt.com")
	e.env = []string{"CODEX_HOME=" + codexHome}
	e.providerBottle(t, "codex", "codex", "  forward_host_credentials: true\n", "", "", "You are the Codex test agent.\n")

	// doctor finds the login (and, unless someone built it, no Codex
	// image: the bottle runs the test image instead).
	_, out, errs := e.bb(t, "", "doctor", "--provider", "codex")
	if !strings.Contains(out, "ok   codex login: the host's ChatGPT login in "+filepath.Join(codexHome, "auth.json")) || !strings.Contains(out, "codex image: bot-bottle/agent-codex:local") {
		t.Errorf("doctor --provider codex:\n%s%s", out, errs)
	}

	l := e.attachedUp(t, "codex", gitWorkspace(t))
	home, ch := "/home/agent", "/home/agent/.codex"
	rec := l.rec
	wantArgv(t, "up", rec.Argv, []string{"codex", "--dangerously-bypass-approvals-and-sandbox"})
	if rec.Env["CODEX_HOME"] != ch || rec.Env["CODEX_CA_CERTIFICATE"] == "" {
		t.Errorf("the agent's CODEX_HOME=%q CODEX_CA_CERTIFICATE=%q", rec.Env["CODEX_HOME"], rec.Env["CODEX_CA_CERTIFICATE"])
	}
	for _, k := range []string{"OPENAI_API_KEY", "CODEX_API_KEY"} {
		if _, ok := rec.Env[k]; ok {
			t.Errorf("the agent has %s", k)
		}
	}
	cfg := rec.Files[ch+"/config.toml"]
	for _, want := range []string{"check_for_update_on_startup = false", `cli_auth_credentials_store = "file"`, `[projects."` + home + `/workspace"]`, `trust_level = "trusted"`, "[mcp_servers.supervise]", `url = "http://supervise:9100/mcp"`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config.toml lacks %q:\n%s", want, cfg)
		}
	}
	if got := rec.Files[ch+"/AGENTS.md"]; strings.TrimSpace(got) != "You are the Codex test agent." {
		t.Errorf("AGENTS.md holds %q", got)
	}
	var dummy struct {
		Key    *string `json:"OPENAI_API_KEY"`
		Mode   string  `json:"auth_mode"`
		Tokens struct {
			AccessToken string `json:"access_token"`
			AccountID   string `json:"account_id"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(rec.Files[ch+"/auth.json"]), &dummy); err != nil {
		t.Fatalf("the agent's auth.json: %v\n%s", err, rec.Files[ch+"/auth.json"])
	}
	if dummy.Key != nil || dummy.Mode != "chatgpt" || dummy.Tokens.AccountID != "acct-"+runID || strings.Count(dummy.Tokens.AccessToken, ".") != 2 {
		t.Errorf("the agent's auth.json: %+v", dummy)
	}
	if out, err := inAgent(t, l.slug, "stat -c '%a %u' "+ch+" "+ch+"/auth.json"); err != nil || out != "700 1000\n600 1000\n" {
		t.Errorf("CODEX_HOME and auth.json modes: %v %q", err, out)
	}
	if rec.MCPStatus != 200 || !rec.MCPSession {
		t.Errorf("MCP initialize at %s: status %d, session %v, error %q", rec.MCPURL, rec.MCPStatus, rec.MCPSession, rec.MCPError)
	}
	if rec.APIStatus != 200 || !strings.Contains(rec.APIBody, "token accepted") {
		t.Errorf("the API answered the agent %d %q (%s)", rec.APIStatus, rec.APIBody, rec.APIError)
	}
	e.apiSawToken(t)
	noSecretsInAgent(t, l.slug, secrets...)

	rec = e.resumeAttached(t, l.slug)
	wantArgv(t, "resume", rec.Argv, []string{"codex", "resume", "--last", "--dangerously-bypass-approvals-and-sandbox"})
}

// TestCodexRefusals: each host login Codex cannot forward stops up before
// anything starts, saying what is wrong and how to fix it.
func TestCodexRefusals(t *testing.T) {
	e := newUpEnv(t)
	e.providerBottle(t, "codex", "codex", "  forward_host_credentials: true\n", "", "", "")
	expired, _, _ := codexLogin(time.Now().Add(-time.Hour))
	for _, tc := range []struct {
		name, auth, want string
	}{
		{"missing file", "", "does not exist"},
		{"API-key mode", `{"OPENAI_API_KEY": "sk-` + runID + `-not-a-login", "auth_mode": "apikey"}`, "API-key login"},
		{"token not a JWT", `{"OPENAI_API_KEY": null, "tokens": {"access_token": "opaque", "refresh_token": "rt_x"}}`, "not a JWT"},
		{"expired", string(expired), "expired at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "codex")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				write(t, filepath.Join(dir, "auth.json"), tc.auth)
			}
			e.env = []string{"CODEX_HOME=" + dir}
			code, out, errs := e.bb(t, "", "up", "codex", "--yes", "--agent-image", demo.Image("agent-test", tag))
			if code == 0 || !strings.Contains(errs, tc.want) || !strings.Contains(errs, "codex login --device-auth") {
				t.Errorf("exit %d, want a refusal naming %q and the fix:\n%s%s", code, tc.want, out, errs)
			}
			if strings.Contains(out+errs, "sk-"+runID) {
				t.Error("the refusal prints the API key")
			}
			if entries, _ := os.ReadDir(contract.StateBottlesDir(e.home)); len(entries) != 0 {
				t.Errorf("a state directory was made: %v", entries)
			}
			if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+contract.LabelAgent+"=codex").Output(); len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("containers were started: %s", out)
			}
			_, dout, derrs := e.bb(t, "", "doctor", "--provider", "codex")
			if !strings.Contains(dout+derrs, tc.want) {
				t.Errorf("doctor --provider codex does not name %q:\n%s%s", tc.want, dout, derrs)
			}
		})
	}
}

// TestMissingAgentImageNamesItsBuild: on a machine without Claude Code's
// image, up of a claude bottle and doctor both name the docker build that
// makes it, and up leaves nothing behind.
func TestMissingAgentImageNamesItsBuild(t *testing.T) {
	c, _ := provider.For(provider.Claude)
	if exec.Command("docker", "image", "inspect", c.Image).Run() == nil {
		t.Skipf("%s is on this machine", c.Image)
	}
	e := newUpEnv(t)
	e.providerBottle(t, "noimage", "claude", "", "", "", "")
	build := "docker build -t " + c.Image + " images/agent-claude"
	code, out, errs := e.bb(t, "", "up", "noimage", "--yes")
	if code == 0 || !strings.Contains(errs, build) {
		t.Errorf("up: exit %d, want an error naming %q:\n%s%s", code, build, out, errs)
	}
	if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+contract.LabelAgent+"=noimage").Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("containers were left: %s", out)
	}
	_, out, errs = e.bb(t, "", "doctor", "--check", "agent-images")
	if !strings.Contains(out, "FAIL agent images: "+c.Image+" is not on this machine (bottle noimage); fix: "+build) {
		t.Errorf("doctor --check agent-images:\n%s%s", out, errs)
	}
}
