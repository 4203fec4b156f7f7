package manifest

import "regexp"

// The keys each section accepts. Anything else is a problem with a
// did-you-mean hint: a typo must never silently become an empty setting.
var (
	bottleKeys   = []string{"env", "extends", "agent_provider", "git-gate", "egress", "supervise", "resources", "repo_agents"}
	providerKeys = []string{"template", "image", "dockerfile", "command", "prompt_arg", "auth_token", "forward_host_credentials"}
	// customOnlyKeys are the agent_provider keys only template custom
	// takes: the claude and codex templates bring their image and command.
	customOnlyKeys = []string{"image", "command", "prompt_arg"}
	gitGateKeys    = []string{"user", "repos"}
	gitUserKeys    = []string{"name", "email"}
	repoKeys       = []string{"url", "identity", "host_key", "push_refs", "allow_branch_delete"}
	egressKeys     = []string{"routes", "ssrf_allow", "upstream_ca"}
	routeKeys      = []string{"host", "path_allowlist", "methods", "ports", "auth", "tls_passthrough", "ssrf_allow", "dlp_allow", "dlp_strict", "pipelock", "role"}
	authKeys       = []string{"scheme", "token_ref"}
	resourcesKeys  = []string{"memory", "cpus", "pids"}
	pipelockKeys   = []string{"tls_passthrough", "ssrf_ip_allowlist"}

	agentOwnKeys = []string{"bottle", "skills", "git-gate"}
	// claudeCodeKeys are Claude Code subagent frontmatter fields. They are
	// accepted and ignored so one file can serve as both a bot-bottle agent
	// and a ~/.claude/agents/*.md subagent. This is a compatibility policy,
	// kept narrow on purpose: a new upstream field is added here when
	// operators need it, and true typos stay errors.
	claudeCodeKeys = []string{"name", "description", "model", "color", "memory"}
	agentKeys      = append(append([]string{}, agentOwnKeys...), claudeCodeKeys...)
)

// Keys from the old manifest format, and keys in the wrong kind of file,
// get a tailored message instead of a bare "unknown key".
var (
	bottleSpecialKeys = map[string][2]string{
		"git": {"the \"git\" key was replaced by \"git-gate\"",
			"move git.user to git-gate.user and git.remotes to git-gate.repos.<name> (with url, identity, host_key)"},
		"bottle": {"\"bottle\" is an agent key, but this is a bottle file",
			"move the agent to agents/ or remove the key"},
	}
	gitGateSpecialKeys = map[string][2]string{
		"remotes": {"git.remotes became git-gate.repos", "write repos: {NAME: {url, identity, host_key}}; the key is the repo's name on the gate"},
	}
	agentSpecialKeys = map[string][2]string{
		"git": {"the \"git\" key was replaced by \"git-gate\"", "write git-gate.user instead of git.user"},
		"prompt": {"an agent's prompt is the Markdown body after the frontmatter, not a key",
			"move the text below the closing \"---\" line"},
	}
	// Bottle keys grant capabilities; agents (which may come from a cloned
	// repository) cannot set them.
	bottleOnlyHint = "agents cannot grant capabilities; set it in the agent's bottle under bottles/"
)

// fileNameRE is the convention for manifest file names (without ".md").
// The first character is a letter so hidden files and templates such as
// "_draft.md" are never taken for manifests.
var fileNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

var (
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	skillNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// Env names bot-bottle sets itself in the agent. Overriding them would
// either break the proxy wiring or be silently replaced, so they are refused.
var reservedEnvNames = []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"}
