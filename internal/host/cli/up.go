package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/codexauth"
	"github.com/bot-bottle/bot-bottle/internal/host/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/provider"
	"github.com/bot-bottle/bot-bottle/internal/host/provision"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

type upOptions struct {
	agent        string
	cwd          string
	agentImage   string
	runtime      string
	maxWorkspace string
	detach       bool
	dryRun       bool
	yes          bool
}

func newUpCmd(env Env, g *globals) *cobra.Command {
	opts := upOptions{}
	cmd := &cobra.Command{
		Use:   "up AGENT",
		Short: "Start AGENT in a new bottle and attach to it",
		Long: `Up starts AGENT in a bottle of its own and attaches your terminal to it:

  1. resolves the agent's env: ${VAR} from your environment (an unset one is
     an error naming it), ?prompt values asked here with echo off;
  2. shows what it is about to start and asks "Start? [y/N]" (--yes skips);
  3. builds the agent image when the bottle names a Dockerfile;
  4. renders the bottle into ~/.bot-bottle/state/<slug>/ and starts it with
     docker compose, waiting until every service is healthy;
  5. copies --cwd (with its .git) onto the bottle's workspace volume; the
     directory is copied, never mounted, so the agent cannot touch yours;
  6. provisions the agent (the bottle's CA, prompt, skills, git config
     that sends every declared repo through the gate, supervise's MCP server);
  7. attaches: runs the agent in the workspace, with your terminal.

The slug is <agent>-<5 random letters/digits>, so two bottles of one agent
run side by side. When the agent exits, up returns its exit status and tears
the bottle down, unless --detach, or the workspace holds work that would be
lost (uncommitted changes, commits no remote has), or a capability-block
proposal is pending: then the bottle is kept, and up says how to resume it
or take it down. Secret values (tokens, keys, env values) never appear on a
command line, in compose.yaml, in docker inspect of a sidecar, in a log line
or in metadata.json; the agent's env values are in the bottle's 0600
agent.env, which down deletes.`,
		Example: `  bot-bottle up dev                  start agent "dev" and attach
  bot-bottle up dev --cwd .          ...with this directory as its workspace
  bot-bottle up dev --dry-run        show what would start, start nothing
  slug=$(bot-bottle up dev --yes --detach | tail -n 1)   scripts: the slug is the last line`,
		Args: exactArgs("AGENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.agent = args[0]
			return runUp(cmd.Context(), env, g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.cwd, "cwd", "", "directory to copy into the bottle as the agent's workspace (with its .git)")
	f.BoolVar(&opts.detach, "detach", false, "start the bottle and return, printing its slug last (attach later with resume)")
	f.BoolVar(&opts.dryRun, "dry-run", false, "show what would start and where, then exit; touches neither Docker nor the state directory")
	f.BoolVarP(&opts.yes, "yes", "y", false, "start without asking (needed without a terminal)")
	f.StringVar(&opts.agentImage, "agent-image", "", "run this agent image instead of the one the bottle's provider names")
	f.StringVar(&opts.runtime, "runtime", "", "the agent container's OCI runtime, e.g. runsc (gVisor)")
	f.StringVar(&opts.maxWorkspace, "max-workspace", "2G", "refuse a --cwd holding more than this (K, M, G suffixes)")
	return cmd
}

func runUp(ctx context.Context, env Env, g *globals, opts upOptions) error {
	m, d, err := g.load(env)
	if err != nil {
		return err
	}
	eff, err := m.Effective(opts.agent)
	if err != nil {
		return err
	}
	home, err := g.resolvedHome(env)
	if err != nil {
		return err
	}
	maxWS, err := units.RAMInBytes(opts.maxWorkspace)
	if err != nil || maxWS <= 0 {
		return usageError{fmt.Errorf("--max-workspace %q: want a size such as 500M or 2G", opts.maxWorkspace)}
	}
	cwd := ""
	if opts.cwd != "" {
		if cwd, err = workspaceDir(env, opts.cwd); err != nil {
			return err
		}
		// Before any question or summary: fail closed on a token that
		// the copy would hand to the agent.
		if err := lifecycle.CheckWorkspaceCredentials(cwd); err != nil {
			return fmt.Errorf("--cwd %s: %w", d.dir(cwd), err)
		}
	}
	skills, err := resolveSkills(env, home, eff)
	if err != nil {
		return err
	}
	codex, err := hostCredentials(env, d, eff)
	if err != nil {
		return err
	}
	slug, err := bottle.NewSlug(eff.Agent.Name)
	if err != nil {
		return err
	}
	stateDir, err := contract.StateBottleDir(home, slug)
	if err != nil {
		return err
	}

	// The env first: an unset ${VAR} stops everything before a question
	// is asked; ?prompt values are asked before the summary, so what is
	// confirmed is what starts. A dry run asks nothing.
	prompt := secretPrompter(env)
	if opts.dryRun {
		prompt = func(string, string) (string, error) { return "", nil }
	}
	resolved, err := render.ResolveEnv(eff, env.lookupEnv(), prompt)
	if err != nil {
		return err
	}

	image := opts.agentImage
	if image == "" {
		if image, err = render.AgentImage(eff.Bottle); err != nil {
			return err
		}
	}
	// The prompt file is in the agent's home, which the image says; the
	// summary shows it as ~.
	shownPrompt := ""
	if strings.TrimSpace(eff.Agent.Prompt) != "" {
		shownPrompt = "~/" + provision.PromptFileName
	}
	info := preflightInfo{Image: image, Command: launchArgv(eff, shownPrompt, false), Workspace: cwd, StateDir: string(stateDir), HostCPUs: runtime.NumCPU()}
	if err := renderPreflight(env.Stdout, eff, d, info); err != nil {
		return err
	}
	if opts.dryRun {
		fmt.Fprintf(env.Stdout, "\ndry run: would start bottle %s in %s; nothing was started\n", slug, termtext.Line(d.path(string(stateDir))))
		return nil
	}
	if !opts.yes {
		ok, err := confirm(env, "Start? [y/N] ")
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(env.Stderr, "not started")
			return exitStatus{exitError}
		}
	}

	mgr := newManager(env, home, skills, codex)
	b, err := mgr.Start(ctx, lifecycle.Launch{
		Slug: slug, Eff: eff, Env: resolved, Getenv: env.Getenv, Cwd: cwd, MaxWorkspace: maxWS,
		AgentImage: opts.agentImage, Runtime: opts.runtime, CodexAccessToken: codexToken(codex),
	})
	if err != nil {
		return fmt.Errorf("bottle %s did not start (nothing of it is left running): %w", slug, err)
	}
	fmt.Fprintf(env.Stderr, "bottle %s is up\n", slug)
	if opts.detach {
		fmt.Fprintf(env.Stderr, "attach with: bot-bottle resume %s    stop with: bot-bottle down %s\n", slug, slug)
		fmt.Fprintln(env.Stdout, slug)
		return nil
	}
	return attachAndSettle(ctx, env, mgr, b, eff, false)
}

// attachAndSettle attaches the agent, then tears the bottle down unless
// something in it would be lost; it returns the agent's exit status.
func attachAndSettle(ctx context.Context, env Env, mgr *lifecycle.Manager, b *lifecycle.Bottle, eff *manifest.Effective, resume bool) error {
	prompt := ""
	if strings.TrimSpace(eff.Agent.Prompt) != "" {
		prompt = b.PromptPath()
	}
	s := lifecycle.Session{Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr, TTY: env.Terminal != nil}
	code, err := mgr.Attach(ctx, b, launchArgv(eff, prompt, resume), s)
	if err != nil {
		return fmt.Errorf("%w; the bottle is still up: bot-bottle resume %s, or bot-bottle down %s", err, b.Meta.Slug, b.Meta.Slug)
	}
	slug := b.Meta.Slug
	if why := mgr.KeepReasons(context.WithoutCancel(ctx), b); len(why) > 0 {
		fmt.Fprintf(env.Stderr, "bottle %s is kept: %s.\n  attach again: bot-bottle resume %s\n  take it down: bot-bottle down %s\n",
			slug, strings.Join(why, "; "), slug, slug)
	} else if err := mgr.Down(context.WithoutCancel(ctx), slug, false); err != nil {
		fmt.Fprintf(env.Stderr, "warning: tearing bottle %s down: %s\n  retry with: bot-bottle down %s\n", slug, termtext.Block(err.Error(), "  "), slug)
	}
	if code != 0 {
		return exitStatus{code}
	}
	return nil
}

// launchArgv is the command that starts eff's agent (its provider's
// launch contract); promptFile "" when its prompt is empty, resume for
// the provider's resume arguments.
func launchArgv(eff *manifest.Effective, promptFile string, resume bool) []string {
	return provider.Argv(eff.Bottle.Provider, promptFile, resume)
}

// newManager is the lifecycle manager the commands share: steps and
// docker's progress on stderr, agents provisioned with skills (and, for a
// Codex bottle forwarding the host's login, codex's stand-in).
func newManager(env Env, home string, skills []provision.Skill, codex *codexauth.Host) *lifecycle.Manager {
	return &lifecycle.Manager{Home: home, Log: env.Stderr, Progress: env.Stderr,
		Provision: lifecycle.Provisioner(skills, env.Stderr, codexStandIn(codex))}
}

// resolveSkills finds eff's skills on the host before anything starts: a
// missing one is an error naming every folder looked in.
func resolveSkills(env Env, home string, eff *manifest.Effective) ([]provision.Skill, error) {
	skills, err := provision.ResolveSkills(eff.Agent.Skills, home, env.Getenv("HOME"))
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", eff.Agent.Name, err)
	}
	return skills, nil
}

// workspaceDir checks --cwd: an existing directory, made absolute.
func workspaceDir(env Env, p string) (string, error) {
	wd, err := env.Getwd()
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(wd, p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", usageError{fmt.Errorf("--cwd %s: %w", p, err)}
	}
	if !fi.IsDir() {
		return "", usageError{fmt.Errorf("--cwd %s is not a directory", p)}
	}
	return filepath.Clean(p), nil
}

// secretPrompter asks for a ?prompt value on the terminal with echo off;
// without a terminal it is an error saying so.
func secretPrompter(env Env) render.Prompter {
	return func(name, question string) (string, error) {
		if env.Terminal == nil {
			return "", errors.New("is asked at launch, but there is no terminal to ask on; run bot-bottle up from a terminal")
		}
		fmt.Fprintf(env.Stderr, "%s (%s, not echoed): ", termtext.Line(question), name)
		v, err := term.ReadPassword(int(env.Terminal.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read the value: %w", err)
		}
		return string(v), nil
	}
}

// confirm asks a yes/no question on the terminal; no means anything but
// y or yes. Without a terminal it is an error saying how to go on.
func confirm(env Env, question string) (bool, error) {
	if env.Terminal == nil {
		return false, usageError{errors.New("there is no terminal to ask 'Start? [y/N]' on; pass --yes to start without asking")}
	}
	fmt.Fprint(env.Stderr, question)
	line, err := bufio.NewReader(env.Terminal).ReadString('\n')
	if err != nil && line == "" {
		return false, fmt.Errorf("read the answer: %w", err)
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}
