package manifest

import (
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Source says where an agent file was loaded from.
type Source string

const (
	// SourceHome is the operator's <home>/agents directory.
	SourceHome Source = "home"
	// SourceCWD is <cwd>/.bot-bottle/agents, e.g. a cloned repository.
	SourceCWD Source = "cwd"
)

// String returns the source name.
func (s Source) String() string { return string(s) }

// Bottle is a resolved bottle: its own file merged over its extends chain.
type Bottle struct {
	// Name is the file name without ".md".
	Name string
	// File is the bottle's manifest path.
	File string
	// Extends lists the ancestors this bottle inherits from, nearest
	// first; empty when it extends nothing.
	Extends []string
	// Env holds the agent's environment, sorted by name.
	Env []EnvVar
	// Provider is the agent runtime; the zero value is never returned
	// (Template defaults to "claude").
	Provider Provider
	// GitUser is the commit identity; zero when unset.
	GitUser GitUser
	// Repos are the git-gate upstreams, sorted by name; empty: no gate.
	Repos []Repo
	// Routes are the egress routes in file order; empty: no HTTP(S) egress.
	Routes []Route
	// SSRFAllow holds CIDRs (or single IPs) every route may reach despite
	// the SSRF rules (egress.ssrf_allow): a private mirror, a corporate
	// proxy's network. Empty: none.
	SSRFAllow []string
	// UpstreamCA is the host path of extra PEM roots egress trusts for
	// upstream TLS (egress.upstream_ca), "~/" expanded; "" for none.
	UpstreamCA string
	// Supervise runs the supervise MCP server when true.
	Supervise bool
	// Resources limit the agent container; zero fields take defaults.
	Resources Resources
	// RepoAgents opens the bottle to agents from a working directory's
	// .bot-bottle/agents/ (repo_agents: true). False, the default: an
	// agent a cloned repository wrote may not choose this bottle. It is
	// not inherited through extends.
	RepoAgents bool
}

// EnvVar is one entry of a bottle's env.
type EnvVar struct {
	Name  string
	Value EnvValue
	// File and Line say where the entry is written (with extends, the
	// bottle that declared it), for messages about its value at launch;
	// zero when unknown.
	File string
	Line int
}

// EnvKind says where an env value comes from.
type EnvKind int

const (
	// EnvLiteral is a value written in the manifest.
	EnvLiteral EnvKind = iota
	// EnvPrompt is asked on the operator's terminal at launch, never echoed.
	EnvPrompt
	// EnvHost is read from the operator's environment at launch.
	EnvHost
)

// String names the kind as the JSON output does.
func (k EnvKind) String() string {
	switch k {
	case EnvPrompt:
		return "prompt"
	case EnvHost:
		return "host"
	}
	return "literal"
}

// EnvValue is an env entry's value or where to get it at launch.
type EnvValue struct {
	// Kind says which of the fields below is meaningful.
	Kind EnvKind
	// Literal is the value itself (EnvLiteral only).
	Literal string
	// Prompt is the question to ask (EnvPrompt only); empty: ask for the
	// variable by name.
	Prompt string
	// HostVar is the host variable to read (EnvHost only).
	HostVar string
}

// Display renders the value for humans without revealing anything that
// comes from the host or a prompt.
func (v EnvValue) Display() string {
	switch v.Kind {
	case EnvPrompt:
		return "<prompted>"
	case EnvHost:
		return "<from $" + v.HostVar + ">"
	}
	return v.Literal
}

// Provider is a bottle's agent_provider block.
type Provider struct {
	// Template is "claude", "codex" or "custom".
	Template string
	// Dockerfile is a Dockerfile `up` builds the agent image from; empty:
	// the template's image, or Image for custom. A path written relative
	// is resolved against the directory of the bottle file it is written
	// in; one starting "~/" is kept as written, for the builder to expand
	// in the operator's home.
	Dockerfile string
	// Image is the agent image a custom provider runs (custom only);
	// empty: Dockerfile builds it.
	Image string
	// Command is the argv a custom provider starts the agent with (custom
	// only, where it is never empty); nil for the templates, which bring
	// their own.
	Command []string
	// PromptArg is the flag a custom agent takes its prompt file's path
	// with (custom only): the launcher appends PromptArg and the path to
	// Command when the prompt is not empty. Empty: the prompt file is not
	// named on the command line.
	PromptArg string
	// AuthToken names the host env var holding the provider's OAuth token
	// (claude only); empty: none.
	AuthToken string
	// ForwardHostCredentials forwards the host's Codex login (codex only).
	ForwardHostCredentials bool
}

// Provider templates.
const (
	TemplateClaude = "claude"
	TemplateCodex  = "codex"
	// TemplateCustom runs any agent image: Provider.Image or one built
	// from Provider.Dockerfile, started with Provider.Command.
	TemplateCustom = "custom"
)

// templates lists the provider templates, as the schema accepts them.
var templates = []string{TemplateClaude, TemplateCodex, TemplateCustom}

const templateList = "claude, codex or custom"

// GitUser is a commit identity (git config user.name / user.email).
type GitUser struct {
	// Name is user.name; empty: unset.
	Name string
	// Email is user.email; empty: unset.
	Email string
}

// IsZero reports whether neither field is set.
func (u GitUser) IsZero() bool { return u.Name == "" && u.Email == "" }

// overlay returns u with each non-empty field of top replacing its own.
func (u GitUser) overlay(top GitUser) GitUser {
	if top.Name != "" {
		u.Name = top.Name
	}
	if top.Email != "" {
		u.Email = top.Email
	}
	return u
}

// Repo is one git-gate upstream, git-gate.repos.<Name>.
type Repo struct {
	// Name is the repo's name on the gate (http://git-gate:9420/<Name>.git).
	Name string
	// URL is the upstream as written, ssh://user@host[:port]/path.
	URL string
	// SSH is URL parsed.
	SSH contract.SSHURL
	// Identity is the host path of the SSH private key the gate pushes with.
	Identity string
	// HostKey is the upstream's public host key (a known_hosts line).
	HostKey string
	// PushRefs are ref namespaces the agent may push to besides branches
	// and tags, such as "refs/notes/"; nil: none.
	PushRefs []string
	// AllowBranchDelete lets the agent delete branches through the gate.
	AllowBranchDelete bool
}

// Route is one egress route, egress.routes[i].
type Route struct {
	// Host is the host name, IP literal or *.suffix wildcard.
	Host string
	// PathAllowlist holds path prefixes; empty: every path.
	PathAllowlist []string
	// Methods holds allowed methods; empty: every method.
	Methods []string
	// Ports holds the TCP ports egress may connect to the host on, over
	// HTTPS or plain HTTP; empty: 443, over HTTPS only (see
	// contract.Route.Ports).
	Ports []int
	// Auth is the credential egress injects; nil: none.
	Auth *RouteAuth
	// TLSPassthrough tunnels the host without inspecting it.
	TLSPassthrough bool
	// SSRFAllow holds CIDRs this route may reach despite the SSRF rules.
	SSRFAllow []string
	// DLPAllow holds DLP rule ids exempted on this route.
	DLPAllow []string
	// DLPStrict spools whole request bodies before forwarding.
	DLPStrict bool
}

// RouteAuth is a route's auth block.
type RouteAuth struct {
	// Scheme is "Bearer" or "token".
	Scheme contract.AuthScheme
	// TokenRef names the host env var holding the token.
	TokenRef string
}

// Agent is one agent file.
type Agent struct {
	// Name is the file name without ".md".
	Name string
	// File is the agent's manifest path.
	File string
	// Source says whether it came from the home or the working directory.
	Source Source
	// Shadows is the home agent file this working-directory agent
	// replaces (only with Options.RepoOverrides); empty when none.
	Shadows string
	// Bottle names the agent's bottle.
	Bottle string
	// BottleLine is the file line of the bottle key's value; 0 when unknown.
	BottleLine int
	// Skills lists skill names; empty: none.
	Skills []string
	// GitUser overlays the bottle's identity field by field; zero: none.
	GitUser GitUser
	// Prompt is the Markdown body, trimmed; empty: none.
	Prompt string
	// ClaudeCodeKeys lists the Claude Code subagent keys present in the
	// file (accepted and ignored), sorted.
	ClaudeCodeKeys []string
}
