// Package provider is each agent template's launch contract, in one
// table: the command and its permission-bypass flag (the bottle is the
// sandbox, so the agent is not asked to confirm what it runs), how the
// prompt reaches it, the arguments `resume` adds, its environment, where
// its skills go, and the routes to its own API with the credential egress
// injects there. Claude Code and Codex are templates; `custom` is any
// image with its own command (manifest agent_provider).
package provider

import (
	"path"
	"slices"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Contract is how one template's agent is launched.
type Contract struct {
	// Command is the agent's CLI.
	Command string
	// Bypass are the flags that switch the agent's own permission prompts
	// off: the bottle confines it instead.
	Bypass []string
	// PromptFlag takes the prompt file's path; "" when the prompt reaches
	// the agent another way (Codex reads it from $CODEX_HOME/AGENTS.md).
	PromptFlag string
	// Resume is what `bot-bottle resume` starts instead of a new session:
	// arguments placed after Command.
	Resume []string
	// Env is the agent's environment for this template (telemetry and
	// self-updating off); home-relative values are built by AgentEnv.
	Env map[string]string
	// SkillsDir is where the agent reads skills, relative to its home.
	SkillsDir string
	// APIHosts are the provider's API hosts: the bottle gets a route to
	// each, carrying the credential when the manifest gives one.
	APIHosts []string
	// Image is the image the template runs unless the bottle names one.
	Image string
}

// Templates.
const (
	Claude = manifest.TemplateClaude
	Codex  = manifest.TemplateCodex
	Custom = manifest.TemplateCustom
)

// contracts is every template's launch contract.
var contracts = map[string]Contract{
	Claude: {
		Command:    "claude",
		Bypass:     []string{"--dangerously-skip-permissions"},
		PromptFlag: "--append-system-prompt-file",
		Resume:     []string{"--continue"},
		Env: map[string]string{
			"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
			"DISABLE_ERROR_REPORTING":                  "1",
			"DISABLE_AUTOUPDATER":                      "1",
			"DISABLE_TELEMETRY":                        "1",
		},
		SkillsDir: ".claude/skills",
		APIHosts:  []string{"api.anthropic.com"},
		Image:     "bot-bottle/agent-claude:local",
	},
	Codex: {
		Command: "codex",
		Bypass:  []string{"--dangerously-bypass-approvals-and-sandbox"},
		Resume:  []string{"resume", "--last"},
		Env: map[string]string{
			// Codex's own HTTP client trusts this bundle, which holds the
			// bottle CA once provisioned.
			"CODEX_CA_CERTIFICATE": "/etc/ssl/certs/ca-certificates.crt",
		},
		SkillsDir: ".codex/skills",
		APIHosts:  []string{"api.openai.com", "chatgpt.com"},
		Image:     "bot-bottle/agent-codex:local",
	},
}

// For returns the contract of template, and whether it has one (custom
// has none: its manifest says everything).
func For(template string) (Contract, bool) {
	c, ok := contracts[template]
	return c, ok
}

// Argv is the command that starts p's agent. promptFile is the prompt's
// path in the agent, "" when the prompt is empty (the prompt flag is then
// left out); resume starts the template's resume arguments instead of a
// new session. A custom provider runs its command (and prompt_arg).
func Argv(p manifest.Provider, promptFile string, resume bool) []string {
	c, ok := For(p.Template)
	if !ok {
		argv := slices.Clone(p.Command)
		if p.PromptArg != "" && promptFile != "" {
			argv = append(argv, p.PromptArg, promptFile)
		}
		return argv
	}
	argv := []string{c.Command}
	if resume {
		argv = append(argv, c.Resume...)
	}
	argv = append(argv, c.Bypass...)
	if c.PromptFlag != "" && promptFile != "" {
		argv = append(argv, c.PromptFlag, promptFile)
	}
	return argv
}

// BuildCommand is the command that builds image when it is a template's
// own (from a bot-bottle checkout, where a registry is reachable), and
// whether it is one.
func BuildCommand(image string) (string, bool) {
	for _, t := range []string{Claude, Codex} {
		if contracts[t].Image == image {
			return "docker build -t " + image + " images/agent-" + t, true
		}
	}
	return "", false
}

// CodexHome is where Codex keeps its state in the agent: its config,
// AGENTS.md (the prompt) and, with forwarded credentials, auth.json.
func CodexHome(home string) string { return path.Join(home, ".codex") }

// PlaceholderToken is what the agent holds where a provider's CLI wants a
// token: egress strips whatever Authorization the agent sends and injects
// the real one, so the agent needs something shaped like a credential and
// nothing that works.
const PlaceholderToken = "bot-bottle-placeholder-egress-holds-the-real-token"

// AgentEnv is the environment p's agent gets from its template, for an
// agent whose home is home.
func AgentEnv(p manifest.Provider, home string) map[string]string {
	c, ok := For(p.Template)
	if !ok {
		return nil
	}
	env := map[string]string{}
	for k, v := range c.Env {
		env[k] = v
	}
	switch p.Template {
	case Claude:
		if p.AuthToken != "" {
			env["CLAUDE_CODE_OAUTH_TOKEN"] = PlaceholderToken
		}
	case Codex:
		env["CODEX_HOME"] = CodexHome(home)
	}
	return env
}

// ReservedEnv are the agent env names a template sets itself; a manifest
// may not set them (a real token there would reach the agent).
func ReservedEnv(template string) []string {
	switch template {
	case Claude:
		return []string{"CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"}
	case Codex:
		return []string{"CODEX_HOME", "OPENAI_API_KEY", "CODEX_API_KEY"}
	}
	return nil
}

// Secret names of the provider credentials egress holds.
const (
	ClaudeTokenSecret = "provider_claude_token"
	CodexTokenSecret  = "provider_codex_token"
)

// Route is a route the provider needs, with its credential's secret
// ("" when it carries none).
type Route struct {
	contract.Route
	// Credential says where the credential comes from, for the preflight:
	// "$VAR", "the host's Codex login", or "" (none: the operator logs in
	// inside the bottle).
	Credential string
}

// Routes are the routes p's provider needs: one to each API host, with
// the credential egress injects (Bearer) when the manifest gives one.
// They replace manifest routes for the same hosts.
func Routes(p manifest.Provider) []Route {
	c, ok := For(p.Template)
	if !ok {
		return nil
	}
	var secret, from string
	switch {
	case p.Template == Claude && p.AuthToken != "":
		secret, from = ClaudeTokenSecret, "$"+p.AuthToken
	case p.Template == Codex && p.ForwardHostCredentials:
		secret, from = CodexTokenSecret, "the host's Codex login"
	}
	var out []Route
	for _, h := range c.APIHosts {
		r := Route{Route: contract.Route{Host: h}, Credential: from}
		if secret != "" {
			r.Auth = &contract.Auth{Scheme: contract.AuthBearer, Secret: secret}
		}
		out = append(out, r)
	}
	return out
}
