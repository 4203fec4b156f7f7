package provider

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// TestArgv is each template's launch contract: the bypass flag always,
// the prompt flag only with a prompt, the resume arguments for resume;
// a custom provider runs its command and prompt_arg.
func TestArgv(t *testing.T) {
	claude := manifest.Provider{Template: Claude}
	codex := manifest.Provider{Template: Codex}
	custom := manifest.Provider{Template: Custom, Image: "a/b", Command: []string{"agent", "--yes"}, PromptArg: "--prompt-file"}
	const pf = "/home/node/.bot-bottle-prompt.txt"
	for _, tt := range []struct {
		name   string
		p      manifest.Provider
		prompt string
		resume bool
		want   []string
	}{
		{"claude with a prompt", claude, pf, false, []string{"claude", "--dangerously-skip-permissions", "--append-system-prompt-file", pf}},
		{"claude without a prompt", claude, "", false, []string{"claude", "--dangerously-skip-permissions"}},
		{"claude resumed", claude, pf, true, []string{"claude", "--continue", "--dangerously-skip-permissions", "--append-system-prompt-file", pf}},
		{"codex (its prompt is AGENTS.md)", codex, pf, false, []string{"codex", "--dangerously-bypass-approvals-and-sandbox"}},
		{"codex resumed", codex, "", true, []string{"codex", "resume", "--last", "--dangerously-bypass-approvals-and-sandbox"}},
		{"custom with a prompt", custom, pf, false, []string{"agent", "--yes", "--prompt-file", pf}},
		{"custom without a prompt", custom, "", false, []string{"agent", "--yes"}},
		{"custom resumed is the same", custom, "", true, []string{"agent", "--yes"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Argv(tt.p, tt.prompt, tt.resume)); diff != "" {
				t.Errorf("Argv (-want +got):\n%s", diff)
			}
		})
	}
	Argv(custom, pf, false)[0] = "changed"
	if custom.Command[0] != "agent" {
		t.Error("Argv returned the manifest's own slice")
	}
}

// TestRoutesCarryTheCredentialOnlyWhenGiven: Claude's route injects the
// auth_token's value, Codex's two routes the host login's token; without
// them the routes exist with no credential.
func TestRoutesCarryTheCredentialOnlyWhenGiven(t *testing.T) {
	for _, tt := range []struct {
		p      manifest.Provider
		hosts  string
		secret string
	}{
		{manifest.Provider{Template: Claude, AuthToken: "CLAUDE_TOKEN"}, "api.anthropic.com", ClaudeTokenSecret},
		{manifest.Provider{Template: Claude}, "api.anthropic.com", ""},
		{manifest.Provider{Template: Codex, ForwardHostCredentials: true}, "api.openai.com,chatgpt.com", CodexTokenSecret},
		{manifest.Provider{Template: Codex}, "api.openai.com,chatgpt.com", ""},
		{manifest.Provider{Template: Custom}, "", ""},
	} {
		var hosts []string
		for _, r := range Routes(tt.p) {
			hosts = append(hosts, r.Host)
			if tt.secret == "" && r.Auth != nil || tt.secret != "" && (r.Auth == nil || r.Auth.Secret != tt.secret || r.Auth.Scheme != contract.AuthBearer) {
				t.Errorf("%+v: route %s auth %+v, want secret %q", tt.p, r.Host, r.Auth, tt.secret)
			}
			if err := (&contract.RoutesFile{Version: contract.Version, Routes: []contract.Route{r.Route}}).Validate(); err != nil {
				t.Errorf("route %s is not valid: %v", r.Host, err)
			}
		}
		if strings.Join(hosts, ",") != tt.hosts {
			t.Errorf("%+v: hosts %v, want %s", tt.p, hosts, tt.hosts)
		}
	}
}

// TestAgentEnvHoldsPlaceholdersOnly: the agent's provider environment
// names a placeholder where a token goes, and Codex's home under the
// agent's.
func TestAgentEnvHoldsPlaceholdersOnly(t *testing.T) {
	env := AgentEnv(manifest.Provider{Template: Claude, AuthToken: "X"}, "/home/node")
	if env["CLAUDE_CODE_OAUTH_TOKEN"] != PlaceholderToken || env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] != "1" || env["DISABLE_AUTOUPDATER"] != "1" {
		t.Errorf("claude env %v", env)
	}
	if _, ok := AgentEnv(manifest.Provider{Template: Claude}, "/h")["CLAUDE_CODE_OAUTH_TOKEN"]; ok {
		t.Error("a claude bottle without auth_token gets a token variable (the operator logs in inside)")
	}
	env = AgentEnv(manifest.Provider{Template: Codex}, "/home/node")
	if env["CODEX_HOME"] != "/home/node/.codex" || env["CODEX_CA_CERTIFICATE"] == "" {
		t.Errorf("codex env %v", env)
	}
	if AgentEnv(manifest.Provider{Template: Custom}, "/h") != nil {
		t.Error("custom got a template env")
	}
}

func TestClaudeJSON(t *testing.T) {
	data, err := ClaudeJSON("/home/node", "/home/node/workspace", true)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		HasCompletedOnboarding        bool
		BypassPermissionsModeAccepted bool
		AutoUpdates                   *bool
		Projects                      map[string]struct{ HasTrustDialogAccepted bool }
		MCPServers                    map[string]struct{ Type, URL string }
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.HasCompletedOnboarding || !doc.BypassPermissionsModeAccepted || doc.AutoUpdates == nil || *doc.AutoUpdates ||
		!doc.Projects["/home/node"].HasTrustDialogAccepted || !doc.Projects["/home/node/workspace"].HasTrustDialogAccepted ||
		doc.MCPServers["supervise"].Type != "http" || doc.MCPServers["supervise"].URL != "http://supervise:9100/mcp" {
		t.Errorf("~/.claude.json:\n%s", data)
	}
	data, _ = ClaudeJSON("/h", "/h/workspace", false)
	if strings.Contains(string(data), "mcpServers") {
		t.Errorf("supervise off, yet an MCP server:\n%s", data)
	}
}

func TestCodexConfig(t *testing.T) {
	got := CodexConfig(`/home/node/work "space"`, true)
	want := "# Written by bot-bottle when the bottle started.\ncheck_for_update_on_startup = false\ncli_auth_credentials_store = \"file\"\n\n[projects.\"/home/node/work \\\"space\\\"\"]\ntrust_level = \"trusted\"\n\n[mcp_servers.supervise]\nurl = \"http://supervise:9100/mcp\"\n"
	if got != want {
		t.Errorf("config.toml:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(CodexConfig("/w", false), "mcp_servers") {
		t.Error("supervise off, yet an MCP server")
	}
}
