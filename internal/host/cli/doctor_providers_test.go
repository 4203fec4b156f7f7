package cli

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// providerHome is a home with a claude bottle taking its token from
// $MY_TOKEN, a codex bottle forwarding the host's login, and a custom
// bottle running foo/agent:1.
func providerHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	for name, front := range map[string]string{
		"cl":     "agent_provider:\n  template: claude\n  auth_token: MY_TOKEN\n",
		"cx":     "agent_provider:\n  template: codex\n  forward_host_credentials: true\n",
		"custom": "agent_provider:\n  template: custom\n  image: foo/agent:1\n  command: [sh]\n",
	} {
		if err := os.MkdirAll(filepath.Join(home, "bottles"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, "bottles", name+".md"), []byte("---\n"+front+"---\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// codexHome writes a host Codex login whose access token expires at exp
// and returns its CODEX_HOME and the token.
func codexHome(t *testing.T, exp time.Time) (string, string) {
	t.Helper()
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{"exp": exp.Unix(), "https://api.openai.com/auth": map[string]any{"chatgpt_plan_type": "plus"}})
	access := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString([]byte("signature-of-the-host-token"))
	doc, _ := json.Marshal(map[string]any{"OPENAI_API_KEY": nil, "auth_mode": "chatgpt",
		"tokens": map[string]any{"access_token": access, "refresh_token": "rt_host-refresh-token-value", "account_id": "acct-1"}})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "auth.json"), doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, access
}

// TestDoctorProviders: --provider checks the host side of a provider
// (its image, its credential) and only that; the agent-images check
// names the build of every bottle's missing image.
func TestDoctorProviders(t *testing.T) {
	home := providerHome(t)
	fresh, token := codexHome(t, fixtureNow.Add(3*time.Hour))
	stale, _ := codexHome(t, fixtureNow.Add(-time.Hour))
	for _, tc := range []struct {
		name    string
		args    []string
		vars    map[string]string
		missing []string
		code    int
		want    []string
		absent  []string
	}{
		{"claude, token set, no image", []string{"--provider", "claude"}, map[string]string{"MY_TOKEN": "sk-ant-oat01-secret-value"}, []string{"bot-bottle/agent-claude:local"}, 1,
			[]string{"FAIL claude image: bot-bottle/agent-claude:local is not on this machine; fix: docker build -t bot-bottle/agent-claude:local images/agent-claude",
				"ok   claude token: bottle cl: $MY_TOKEN is set", "doctor: 1 problem\n"},
			[]string{"sk-ant-oat01-secret-value", "docker CLI", "leftovers", "codex"}},
		{"claude, token unset", []string{"--provider", "claude"}, nil, nil, 1,
			[]string{"ok   claude image: bot-bottle/agent-claude:local is built",
				"FAIL claude token: bottle cl takes its token from $MY_TOKEN, which is not set here; fix: export MY_TOKEN=<token> before bot-bottle up (claude setup-token prints one)"}, nil},
		{"codex, fresh login", []string{"--provider", "codex"}, map[string]string{"CODEX_HOME": fresh}, nil, 0,
			[]string{"ok   codex login: the host's ChatGPT login in " + filepath.Join(fresh, "auth.json") + ", its access token valid until ", "(3h left)", "doctor: no problems found"},
			[]string{token, "rt_host-refresh-token-value", "claude"}},
		{"codex, expired login", []string{"--provider", "codex"}, map[string]string{"CODEX_HOME": stale}, nil, 1,
			[]string{"FAIL codex login: codex login " + filepath.Join(stale, "auth.json") + ": the access token expired at", "codex login --device-auth"}, nil},
		{"both, comma", []string{"--provider", "claude,codex"}, map[string]string{"MY_TOKEN": "x", "CODEX_HOME": fresh}, nil, 0,
			[]string{"claude token", "codex login"}, nil},
		{"agent images of the bottles", []string{"--check", "agent-images"}, nil, []string{"bot-bottle/agent-codex:local", "foo/agent:1"}, 1,
			[]string{"ok   agent images: bot-bottle/agent-claude:local is built (bottle cl)",
				"FAIL agent images: bot-bottle/agent-codex:local is not on this machine (bottle cx); fix: docker build -t bot-bottle/agent-codex:local images/agent-codex",
				"FAIL agent images: foo/agent:1 is not on this machine (bottle custom); fix: docker pull foo/agent:1 (or build it)"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := loadFakeEngine(t)
			e.missing = tc.missing
			r := runOpsEnv(t, t.Context(), home, home, fixtureDeps(e), tc.vars, append([]string{"doctor"}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(r.stdout+r.stderr, a) {
					t.Errorf("output has %q:\n%s", a, r.stdout)
				}
			}
			checkNoControl(t, r.stdout)
		})
	}
	r := runOps(t, t.Context(), home, home, fixtureDeps(loadFakeEngine(t)), "doctor", "--provider", "gemini")
	if r.code != 2 || !strings.Contains(r.stderr, "the providers are claude and codex") {
		t.Fatalf("an unknown provider: exit %d\n%s", r.code, r.stderr)
	}
}
