package cli

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

type configOptions struct {
	agent string
	json  bool
}

func newConfigCmd(env Env, g *globals) *cobra.Command {
	opts := configOptions{}
	cmd := &cobra.Command{
		Use:   "config AGENT",
		Short: "Show the effective configuration of an agent and its bottle",
		Long: `Config shows what AGENT would run with: where the agent was loaded from, its
prompt, skills and git identity, and its bottle after extends and the agent's
overlay: env, egress routes, git-gate repos, provider and supervise.

Values that come from the host or from a prompt are shown as <from $VAR> and
<prompted>; their values are never read or printed.`,
		Example: `  bot-bottle config demo
  bot-bottle config demo --json | jq .bottle.routes`,
		Args: exactArgs("AGENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.agent = args[0]
			return runConfig(cmd.Context(), env, g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON instead of text")
	return cmd
}

func runConfig(_ context.Context, env Env, g *globals, opts configOptions) error {
	eff, d, err := g.effective(env, opts.agent)
	if err != nil {
		return err
	}
	view := newConfigView(eff, d)
	if opts.json {
		return writeJSON(env.Stdout, view)
	}
	return view.writeText(env.Stdout)
}

// configView is the effective configuration as shown; its JSON form is
// the --json output, so field names are part of the CLI's interface.
type configView struct {
	Agent  agentView  `json:"agent"`
	Bottle bottleView `json:"bottle"`
}

type agentView struct {
	Name           string       `json:"name"`
	File           string       `json:"file"`
	Source         string       `json:"source"`
	Repository     string       `json:"repository,omitempty"`
	Overrides      string       `json:"overrides,omitempty"`
	Bottle         string       `json:"bottle"`
	Skills         []string     `json:"skills"`
	GitUser        *gitUserView `json:"git_user,omitempty"`
	Prompt         string       `json:"prompt"`
	ClaudeCodeKeys []string     `json:"claude_code_keys,omitempty"`
}

type gitUserView struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	From  string `json:"from"`
}

type bottleView struct {
	Name      string       `json:"name"`
	File      string       `json:"file"`
	Extends   []string     `json:"extends"`
	Provider  providerView `json:"provider"`
	Supervise bool         `json:"supervise"`
	// RepoAgents is repo_agents: agents from a repository may use it.
	RepoAgents bool          `json:"repo_agents"`
	Resources  resourcesView `json:"resources"`
	Env        []envView     `json:"env"`
	Routes     []routeView   `json:"routes"`
	Repos      []repoView    `json:"repos"`
}

// resourcesView is the agent's limits with the defaults filled in;
// Defaults names the ones the bottle left to them.
type resourcesView struct {
	Memory   string   `json:"memory"`
	CPUs     float64  `json:"cpus"`
	Pids     int64    `json:"pids"`
	Defaults []string `json:"defaults"`
}

func newResourcesView(r manifest.Resources) resourcesView {
	v := resourcesView{Defaults: []string{}}
	for _, f := range []struct {
		name  string
		unset bool
	}{{"memory", r.Memory == 0}, {"cpus", r.CPUs == 0}, {"pids", r.Pids == 0}} {
		if f.unset {
			v.Defaults = append(v.Defaults, f.name)
		}
	}
	r = r.WithDefaults(0)
	v.Memory, v.CPUs, v.Pids = manifest.FormatMemory(r.Memory), r.CPUs, r.Pids
	return v
}

// String is the text output's line: "memory 4g, cpus 2 (default), ...".
func (v resourcesView) String() string {
	parts := []string{"memory " + v.Memory, "cpus " + manifest.FormatCPUs(v.CPUs), "pids " + strconv.FormatInt(v.Pids, 10)}
	for i, name := range []string{"memory", "cpus", "pids"} {
		if slices.Contains(v.Defaults, name) {
			parts[i] += " (default)"
		}
	}
	return strings.Join(parts, ", ")
}

type providerView struct {
	Template               string   `json:"template"`
	Image                  string   `json:"image,omitempty"`
	Dockerfile             string   `json:"dockerfile,omitempty"`
	Command                []string `json:"command,omitempty"`
	PromptArg              string   `json:"prompt_arg,omitempty"`
	AuthToken              string   `json:"auth_token,omitempty"`
	ForwardHostCredentials bool     `json:"forward_host_credentials"`
}

type envView struct {
	Name    string `json:"name"`
	Source  string `json:"source"`
	Value   string `json:"value"`
	HostVar string `json:"host_var,omitempty"`
	Prompt  string `json:"prompt,omitempty"`
}

type routeView struct {
	Host           string    `json:"host"`
	PathAllowlist  []string  `json:"path_allowlist"`
	Methods        []string  `json:"methods"`
	Ports          []int     `json:"ports"`
	Auth           *authView `json:"auth,omitempty"`
	TLSPassthrough bool      `json:"tls_passthrough"`
	SSRFAllow      []string  `json:"ssrf_allow"`
	DLPAllow       []string  `json:"dlp_allow"`
	DLPStrict      bool      `json:"dlp_strict"`
}

type authView struct {
	Scheme string `json:"scheme"`
	Token  string `json:"token"`
}

type repoView struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	AgentURL string `json:"agent_url"`
	Identity string `json:"identity"`
	HostKey  string `json:"host_key"`
}

func hostRef(v string) string { return "<from $" + v + ">" }

func newConfigView(eff *manifest.Effective, d *display) configView {
	a, b := eff.Agent, eff.Bottle
	v := configView{
		Agent: agentView{
			Name: a.Name, File: d.path(a.File), Source: a.Source.String(), Overrides: d.path(a.Shadows),
			Bottle: a.Bottle, Skills: nonNil(a.Skills), Prompt: a.Prompt, ClaudeCodeKeys: a.ClaudeCodeKeys,
		},
		Bottle: bottleView{
			Name: b.Name, File: d.path(b.File), Extends: nonNil(b.Extends), Supervise: b.Supervise, RepoAgents: b.RepoAgents,
			Resources: newResourcesView(b.Resources),
			Provider: providerView{Template: b.Provider.Template, Image: b.Provider.Image, Dockerfile: d.path(b.Provider.Dockerfile),
				Command: b.Provider.Command, PromptArg: b.Provider.PromptArg, ForwardHostCredentials: b.Provider.ForwardHostCredentials},
			Env: []envView{}, Routes: []routeView{}, Repos: []repoView{},
		},
	}
	if a.Source == manifest.SourceCWD {
		v.Agent.Repository = d.dir(agentRepo(a))
	}
	if eff.GitUserFrom != "" {
		v.Agent.GitUser = &gitUserView{Name: b.GitUser.Name, Email: b.GitUser.Email, From: eff.GitUserFrom}
	}
	if b.Provider.AuthToken != "" {
		v.Bottle.Provider.AuthToken = hostRef(b.Provider.AuthToken)
	}
	for _, e := range b.Env {
		v.Bottle.Env = append(v.Bottle.Env, envView{Name: e.Name, Source: e.Value.Kind.String(),
			Value: e.Value.Display(), HostVar: e.Value.HostVar, Prompt: e.Value.Prompt})
	}
	for _, r := range b.Routes {
		rv := routeView{Host: r.Host, PathAllowlist: nonNil(r.PathAllowlist), Methods: nonNil(r.Methods), Ports: []int{},
			TLSPassthrough: r.TLSPassthrough, SSRFAllow: nonNil(r.SSRFAllow), DLPAllow: nonNil(r.DLPAllow), DLPStrict: r.DLPStrict}
		if r.Ports != nil {
			rv.Ports = r.Ports
		}
		if r.Auth != nil {
			rv.Auth = &authView{Scheme: string(r.Auth.Scheme), Token: hostRef(r.Auth.TokenRef)}
		}
		v.Bottle.Routes = append(v.Bottle.Routes, rv)
	}
	for _, r := range b.Repos {
		v.Bottle.Repos = append(v.Bottle.Repos, repoView{Name: r.Name, URL: r.URL, Identity: r.Identity, HostKey: r.HostKey,
			AgentURL: fmt.Sprintf("http://%s:%d/%s.git", contract.GitGateHost, contract.GitHTTPPort, r.Name)})
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// writeText renders the view for a terminal.
func (v configView) writeText(w io.Writer) error {
	var b strings.Builder
	a, bt := v.Agent, v.Bottle
	if a.Repository != "" {
		fmt.Fprintf(&b, "agent %s, from the repository at %s\n", esc(a.Name), esc(a.Repository))
	} else {
		fmt.Fprintf(&b, "agent %s\n", esc(a.Name))
	}
	row(&b, 1, "file", fmt.Sprintf("%s (%s)", a.File, a.Source))
	if a.Overrides != "" {
		row(&b, 1, "overrides", a.Overrides+" (--repo-overrides)")
	}
	if a.Repository != "" {
		row(&b, 1, "bottle", a.Bottle+" (yours, open to repository agents)")
	} else {
		row(&b, 1, "bottle", a.Bottle)
	}
	row(&b, 1, "skills", listOrNone(a.Skills))
	if a.GitUser != nil {
		row(&b, 1, "git identity", fmt.Sprintf("%s (from %s)", identity(a.GitUser), a.GitUser.From))
	} else {
		row(&b, 1, "git identity", "none")
	}
	if len(a.ClaudeCodeKeys) > 0 {
		row(&b, 1, "claude code", strings.Join(a.ClaudeCodeKeys, ", ")+" (accepted, not used by bot-bottle)")
	}
	if a.Prompt == "" {
		row(&b, 1, "prompt", "none")
	} else {
		lines := strings.Split(a.Prompt, "\n")
		row(&b, 1, "prompt", plural(len(lines), "line"))
		for _, l := range lines {
			fmt.Fprintln(&b, strings.TrimRight("    | "+esc(l), " "))
		}
	}

	fmt.Fprintf(&b, "\nbottle %s\n", esc(bt.Name))
	row(&b, 1, "file", bt.File)
	if len(bt.Extends) > 0 {
		row(&b, 1, "extends", strings.Join(bt.Extends, " -> "))
	}
	p := bt.Provider
	provider := p.Template
	if p.Dockerfile != "" {
		provider += ", dockerfile " + p.Dockerfile
	}
	if p.AuthToken != "" {
		provider += ", auth token " + p.AuthToken
	}
	if p.ForwardHostCredentials {
		provider += ", forwards host credentials"
	}
	row(&b, 1, "provider", provider)
	if p.Image != "" {
		row(&b, 1, "image", p.Image)
	}
	if len(p.Command) > 0 {
		row(&b, 1, "command", shellQuote(p.Command))
	}
	if p.PromptArg != "" {
		row(&b, 1, "prompt arg", p.PromptArg+" PROMPT-FILE (added when the prompt is not empty)")
	}
	row(&b, 1, "supervise", onOff(bt.Supervise))
	if bt.RepoAgents {
		row(&b, 1, "repo agents", "allowed (agents from a repository's .bot-bottle/agents/ may use this bottle)")
	}
	row(&b, 1, "resources", bt.Resources.String())

	if len(bt.Env) == 0 {
		row(&b, 1, "env", "none")
	} else {
		fmt.Fprintf(&b, "  env:\n")
		for _, e := range bt.Env {
			row(&b, 2, e.Name, e.Value)
		}
	}
	if len(bt.Routes) == 0 {
		row(&b, 1, "egress", "none (no HTTP(S) egress)")
	} else {
		fmt.Fprintf(&b, "  egress routes:\n")
		for _, r := range bt.Routes {
			fmt.Fprintf(&b, "    %s\n", esc(r.Host))
			if r.TLSPassthrough {
				row(&b, 3, "tls", "passthrough (tunnelled, not inspected)")
			}
			rowList(&b, 3, "paths", r.PathAllowlist)
			rowList(&b, 3, "methods", r.Methods)
			row(&b, 3, "ports", portsText(r))
			if r.Auth != nil {
				row(&b, 3, "auth", r.Auth.Scheme+" "+r.Auth.Token)
			}
			rowList(&b, 3, "ssrf_allow", r.SSRFAllow)
			rowList(&b, 3, "dlp_allow", r.DLPAllow)
			if r.DLPStrict {
				row(&b, 3, "dlp_strict", "on (whole bodies scanned before forwarding)")
			}
		}
	}
	if len(bt.Repos) == 0 {
		row(&b, 1, "git-gate", "none")
	} else {
		fmt.Fprintf(&b, "  git-gate repos:\n")
		for _, r := range bt.Repos {
			fmt.Fprintf(&b, "    %s\n", esc(r.Name))
			row(&b, 3, "upstream", r.URL)
			row(&b, 3, "agent url", r.AgentURL)
			row(&b, 3, "identity", r.Identity)
			row(&b, 3, "host key", hostKeyFingerprint(r.HostKey))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// row writes "key: value", both escaped: either may come from a manifest,
// and an agent's (its prompt, its git identity) may come from a cloned
// repository.
func row(b *strings.Builder, depth int, key, value string) {
	indent := strings.Repeat("  ", depth)
	fmt.Fprintf(b, "%s%-*s %s\n", indent, 14-2*(depth-1), esc(key)+":", esc(value))
}

// portsText says which ports a route reaches and how: the ports listed,
// or egress's default.
func portsText(r routeView) string {
	if len(r.Ports) == 0 {
		return fmt.Sprintf("%d (the default; HTTPS only)", contract.HTTPSPort)
	}
	ps := make([]string, len(r.Ports))
	for i, p := range r.Ports {
		ps[i] = strconv.Itoa(p)
	}
	if r.Auth != nil {
		return strings.Join(ps, ", ") + " (HTTPS only, as the route has auth)"
	}
	return strings.Join(ps, ", ") + " (HTTPS and plain HTTP)"
}

// rowList writes a row of comma-separated values, or nothing when empty.
func rowList(b *strings.Builder, depth int, key string, values []string) {
	if len(values) > 0 {
		row(b, depth, key, strings.Join(values, ", "))
	}
}

func identity(u *gitUserView) string {
	switch {
	case u.Name != "" && u.Email != "":
		return fmt.Sprintf("%s <%s>", u.Name, u.Email)
	case u.Email != "":
		return "<" + u.Email + ">"
	}
	return u.Name
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// hostKeyFingerprint renders a known_hosts-style line as "TYPE SHA256:…",
// as ssh-keygen -l prints it; the line itself if it cannot be decoded.
func hostKeyFingerprint(line string) string {
	fields := strings.Fields(line)
	for i := 0; i+1 < len(fields); i++ {
		if blob, err := base64.StdEncoding.DecodeString(fields[i+1]); err == nil && strings.Contains(fields[i], "-") {
			sum := sha256.Sum256(blob)
			return fields[i] + " SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
		}
	}
	return line
}
