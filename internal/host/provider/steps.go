package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/provision"
)

// Setup is what a provider's configuration step needs.
type Setup struct {
	// Provider is the bottle's agent_provider.
	Provider manifest.Provider
	// Prompt is the agent's prompt (Codex reads it from AGENTS.md).
	Prompt string
	// Supervise registers the supervise MCP server.
	Supervise bool
	// CodexAuth is the stand-in auth.json the agent gets when Codex
	// forwards the host's login; nil: none.
	CodexAuth []byte
}

// ConfigStep is the provisioning step that configures the agent for its
// provider and registers the supervise MCP server with it: Claude Code's
// ~/.claude.json, Codex's $CODEX_HOME, or (custom) the generic
// ~/.bot-bottle/mcp.json. nil when there is nothing to do (a custom
// provider without supervise).
func ConfigStep(s Setup) provision.Step {
	switch s.Provider.Template {
	case Claude:
		return func(ctx context.Context, t provision.Target, a provision.Agent) (string, error) {
			data, err := ClaudeJSON(a.Home, a.Workspace(), s.Supervise)
			if err != nil {
				return "", err
			}
			dst, err := provision.WriteAgentFile(ctx, t, a, ".claude.json", 0o600, data)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("Claude Code configured in %s (onboarding done, permissions bypassed, home and workspace trusted%s)", dst, mcpNote(s.Supervise)), nil
		}
	case Codex:
		return func(ctx context.Context, t provision.Target, a provision.Agent) (string, error) {
			home := CodexHome(a.Home)
			rel := func(name string) string { return path.Join(".codex", name) }
			if _, err := t.Exec(ctx, a.User(), nil, "sh", "-c", codexHomeScript, "codex-home", home); err != nil {
				return "", fmt.Errorf("prepare %s: %w", home, err)
			}
			if _, err := provision.WriteAgentFile(ctx, t, a, rel("config.toml"), 0o600, []byte(CodexConfig(a.Workspace(), s.Supervise))); err != nil {
				return "", err
			}
			if strings.TrimSpace(s.Prompt) != "" {
				if _, err := provision.WriteAgentFile(ctx, t, a, rel("AGENTS.md"), 0o600, []byte(s.Prompt)); err != nil {
					return "", err
				}
			}
			auth := ""
			if s.CodexAuth != nil {
				if _, err := provision.WriteAgentFile(ctx, t, a, rel("auth.json"), 0o600, s.CodexAuth); err != nil {
					return "", err
				}
				// Codex reads the stand-in as a login, or the agent would
				// start logged out.
				if _, err := t.Exec(ctx, a.User(), nil, "env", "HOME="+a.Home, "CODEX_HOME="+home, "codex", "login", "status"); err != nil {
					return "", fmt.Errorf("codex does not take the stand-in auth.json as a login (%w); check the Codex version in the agent image", err)
				}
				auth = ", a stand-in auth.json (egress holds the real token)"
			}
			return fmt.Sprintf("Codex configured in %s (workspace trusted, prompt as AGENTS.md%s%s)", home, auth, mcpNote(s.Supervise)), nil
		}
	}
	if s.Supervise {
		return provision.GenericMCP(provision.SuperviseURL)
	}
	return nil
}

// codexHomeScript makes $CODEX_HOME ($1) the agent's private directory
// (0700) and removes the state databases an image or an earlier session
// left there: a stale one would hold another login's threads.
const codexHomeScript = `home=$1
if [ -L "$home" ]; then rm -f -- "$home"; fi
umask 077
mkdir -p -- "$home" && chmod 0700 -- "$home" &&
find "$home" -maxdepth 1 -type f \( -name '*.sqlite' -o -name '*.sqlite-*' -o -name '*.codex-repair-*.bak' \) -exec rm -f -- {} +
`

func mcpNote(on bool) string {
	if on {
		return ", MCP server supervise registered"
	}
	return ""
}

// ClaudeJSON is the agent's ~/.claude.json: onboarding done, the
// permission-bypass mode acknowledged, the home and the workspace trusted,
// no self-update, and the supervise MCP server registered (type http).
func ClaudeJSON(home, workspace string, supervise bool) ([]byte, error) {
	type project struct {
		HasTrustDialogAccepted        bool `json:"hasTrustDialogAccepted"`
		HasCompletedProjectOnboarding bool `json:"hasCompletedProjectOnboarding"`
	}
	type server struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	}
	doc := struct {
		HasCompletedOnboarding        bool               `json:"hasCompletedOnboarding"`
		BypassPermissionsModeAccepted bool               `json:"bypassPermissionsModeAccepted"`
		AutoUpdates                   bool               `json:"autoUpdates"`
		Projects                      map[string]project `json:"projects"`
		MCPServers                    map[string]server  `json:"mcpServers,omitempty"`
	}{
		HasCompletedOnboarding: true, BypassPermissionsModeAccepted: true,
		Projects: map[string]project{home: {true, true}, workspace: {true, true}},
	}
	if supervise {
		doc.MCPServers = map[string]server{provision.MCPServerName: {Type: "http", URL: provision.SuperviseURL}}
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// CodexConfig is $CODEX_HOME/config.toml: no update check (the image
// pins the version), the login read from auth.json (a container has no
// keyring), the workspace trusted, and the supervise MCP server
// (streamable HTTP) registered.
func CodexConfig(workspace string, supervise bool) string {
	var b strings.Builder
	b.WriteString("# Written by bot-bottle when the bottle started.\n")
	b.WriteString("check_for_update_on_startup = false\ncli_auth_credentials_store = \"file\"\n\n")
	fmt.Fprintf(&b, "[projects.%s]\ntrust_level = \"trusted\"\n", tomlString(workspace))
	if supervise {
		fmt.Fprintf(&b, "\n[mcp_servers.%s]\nurl = %s\n", provision.MCPServerName, tomlString(provision.SuperviseURL))
	}
	return b.String()
}

// tomlString is s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
