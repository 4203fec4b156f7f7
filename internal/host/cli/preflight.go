package cli

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/provider"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

// preflightInfo is what a launch knows beyond the manifests.
type preflightInfo struct {
	// Image is the agent image the bottle will run (--agent-image, or
	// render.AgentImage); empty: the one the provider names, or "built
	// from" its Dockerfile.
	Image string
	// Command is the argv the agent will be started with; nil: the custom
	// provider's command, with its prompt flag when there is a prompt.
	Command []string
	// Workspace is the directory copied into the bottle (--cwd); empty:
	// none, the agent starts in an empty workspace.
	Workspace string
	// StateDir is the bottle's directory, <home>/state/<slug>.
	StateDir string
	// HostCPUs is the machine's CPU count, which caps the default cpus
	// limit; zero: no cap.
	HostCPUs int
}

// maxPromptLines is how much of the prompt the preflight shows; config
// shows all of it.
const maxPromptLines = 6

// renderPreflight writes what a launch is about to start, for the operator
// deciding whether to start it: which agent (and whether a repository
// supplied it), its bottle and provider, what the agent gets (env names
// and where their values come from, never the values; skills; git
// identity) and where it may reach (gate repos, egress hosts).
//
// Every string that comes from a manifest or a path is escaped with
// termtext: an agent, its prompt and its git identity may come from a
// cloned repository, and none of it may move the cursor, recolour or clear
// the screen, or forge a line of this summary.
func renderPreflight(w io.Writer, eff *manifest.Effective, d *display, info preflightInfo) error {
	a, b := eff.Agent, eff.Bottle
	var pf preflight

	if a.Source == manifest.SourceCWD {
		pf.row("agent", esc(a.Name)+", from the repository at "+esc(d.dir(agentRepo(a))))
		file := "file " + esc(d.path(a.File))
		if a.Shadows != "" {
			file += ", in place of " + esc(d.path(a.Shadows))
		}
		pf.more(file)
		pf.more("(the repository wrote its prompt, skills and git identity; the bottle is yours)")
	} else {
		pf.row("agent", esc(a.Name)+" ("+esc(d.path(a.File))+")")
	}
	bottle := esc(b.Name) + " (" + esc(d.path(b.File))
	if len(b.Extends) > 0 {
		bottle += ", extends " + esc(strings.Join(b.Extends, " -> "))
	}
	if a.Source == manifest.SourceCWD {
		bottle += "; open to repository agents"
	}
	pf.row("bottle", bottle+")")

	p := b.Provider
	pf.row("provider", esc(p.Template))
	pf.row("image", esc(imageText(p, info.Image, d)))
	pf.row("command", esc(commandText(p, info.Command, a.Prompt != "")))
	pf.prompt(a.Prompt, a.Name)

	pf.env(render.EnvOrigins(b))
	pf.row("skills", esc(listOrNone(a.Skills)))
	if eff.GitUserFrom == "" {
		pf.row("git identity", "none")
	} else {
		u := &gitUserView{Name: b.GitUser.Name, Email: b.GitUser.Email}
		pf.row("git identity", esc(identity(u))+" (from "+esc(eff.GitUserFrom)+")")
	}
	pf.list("git gate", "none", gateLines(b.Repos))
	pf.list("egress", "none (no HTTP(S) egress)", egressLines(b.Routes, provider.Routes(b.Provider)))
	pf.row("supervise", onOff(b.Supervise))
	r := b.Resources.WithDefaults(info.HostCPUs)
	pf.row("resources", fmt.Sprintf("memory %s, cpus %s, pids %d", manifest.FormatMemory(r.Memory), manifest.FormatCPUs(r.CPUs), r.Pids))
	if info.Workspace == "" {
		pf.row("workspace", "none (the agent starts in an empty workspace)")
	} else {
		pf.row("workspace", esc(d.dir(info.Workspace))+" (copied in, .git included; never mounted)")
	}
	pf.row("state", esc(d.path(info.StateDir)))
	_, err := io.WriteString(w, pf.String())
	return err
}

// agentRepo is the directory a working-directory agent came from: the
// repository holding .bot-bottle/agents/NAME.md.
func agentRepo(a *manifest.Agent) string {
	return filepath.Dir(filepath.Dir(filepath.Dir(a.File)))
}

// esc makes manifest text safe for one line of the terminal.
func esc(s string) string { return termtext.Line(s) }

// preflight builds the summary: a column of keys and their values. Values
// are escaped by the caller, keys are the CLI's own.
type preflight struct{ strings.Builder }

const preflightIndent = "                " // the key column and its gap

func (pf *preflight) row(key, value string) {
	fmt.Fprintf(pf, "%-*s%s\n", len(preflightIndent), key+":", value)
}

// more continues the last row on a line of its own.
func (pf *preflight) more(value string) {
	pf.WriteString(preflightIndent + value + "\n")
}

func (pf *preflight) list(key, none string, values []string) {
	if len(values) == 0 {
		pf.row(key, none)
		return
	}
	pf.row(key, values[0])
	for _, v := range values[1:] {
		pf.more(v)
	}
}

// prompt shows the prompt's first lines, each escaped on its own.
func (pf *preflight) prompt(prompt, agent string) {
	if prompt == "" {
		pf.row("prompt", "none")
		return
	}
	lines := strings.Split(prompt, "\n")
	pf.row("prompt", plural(len(lines), "line"))
	for i, l := range lines {
		if i == maxPromptLines {
			pf.more(fmt.Sprintf("| ... %s more (bot-bottle config %s shows it all)", plural(len(lines)-i, "line"), esc(agent)))
			break
		}
		pf.WriteString(strings.TrimRight(preflightIndent+"| "+esc(l), " ") + "\n")
	}
}

// env shows each name with where its value comes from; values are never
// read here, let alone shown.
func (pf *preflight) env(origins []render.EnvOrigin) {
	width := 0
	for _, o := range origins {
		width = max(width, len(o.Name))
	}
	lines := make([]string, len(origins))
	for i, o := range origins {
		lines[i] = fmt.Sprintf("%-*s  %s", width, esc(o.Name), esc(o.String()))
	}
	pf.list("env", "none", lines)
}

// imageText names the agent image, and where it is built from when it is.
func imageText(p manifest.Provider, image string, d *display) string {
	built := ""
	if p.Dockerfile != "" {
		built = "built from " + d.path(p.Dockerfile)
	}
	switch {
	case image != "" && built != "":
		return image + " (" + built + ")"
	case image != "":
		return image
	case built != "":
		return built
	case p.Image != "":
		return p.Image
	}
	return render.TemplateImage(p.Template)
}

// commandText shows the argv the agent starts with, shell-quoted.
func commandText(p manifest.Provider, argv []string, hasPrompt bool) string {
	if argv != nil {
		return shellQuote(argv)
	}
	s := shellQuote(provider.Argv(p, "", false))
	if c, ok := provider.For(p.Template); ok && hasPrompt && c.PromptFlag != "" {
		s += " " + shellQuote([]string{c.PromptFlag}) + " <prompt file>"
	}
	if hasPrompt && p.PromptArg != "" {
		s += " " + shellQuote([]string{p.PromptArg}) + " <prompt file>"
	}
	return s
}

// gateLines are "name → upstream host", with the port when it is not
// SSH's own.
func gateLines(repos []manifest.Repo) []string {
	out := make([]string, len(repos))
	for i, r := range repos {
		host := r.SSH.Host
		if r.SSH.Port != 0 && r.SSH.Port != 22 {
			host = net.JoinHostPort(host, strconv.Itoa(r.SSH.Port))
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		out[i] = esc(r.Name) + " → " + esc(host)
	}
	return out
}

// egressLines are the hosts the agent may reach, each marked with what
// egress does on it: [auth:SCHEME] when it injects a credential,
// [passthrough] when it tunnels without inspecting, and the ports when
// the route lists them (without, 443 over HTTPS only). The provider's own
// routes come last, marked [auth:provider] with where the credential
// comes from, or as having none (the agent logs in inside); they replace
// the bottle's routes to the same hosts.
func egressLines(routes []manifest.Route, prov []provider.Route) []string {
	var out []string
	for _, r := range routes {
		if slices.ContainsFunc(prov, func(p provider.Route) bool { return strings.EqualFold(p.Host, r.Host) }) {
			continue
		}
		s := esc(r.Host)
		if r.Auth != nil {
			s += " [auth:" + esc(string(r.Auth.Scheme)) + "]"
		}
		if r.TLSPassthrough {
			s += " [passthrough]"
		}
		if len(r.Ports) > 0 {
			ps := make([]string, len(r.Ports))
			for j, p := range r.Ports {
				ps[j] = strconv.Itoa(p)
			}
			s += " ports " + strings.Join(ps, ", ")
		}
		out = append(out, s)
	}
	for _, p := range prov {
		if p.Credential != "" {
			out = append(out, esc(p.Host)+" [auth:provider] (from "+esc(p.Credential)+")")
		} else {
			out = append(out, esc(p.Host)+" [provider] (no credential: log in inside the bottle)")
		}
	}
	return out
}
