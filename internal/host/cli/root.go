package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// globals are the flags every command shares.
type globals struct {
	home string
	// repoOverrides is --repo-overrides: an agent in ./.bot-bottle/agents/
	// may replace the home agent of the same name.
	repoOverrides bool
}

func newRootCmd(env Env) *cobra.Command {
	return newRootCmdWith(env, &proposalsDeps{}, &opsDeps{})
}

func newRootCmdWith(env Env, pdeps *proposalsDeps, odeps *opsDeps) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "bot-bottle",
		Short: "Run an AI coding agent in a sandbox whose only ways out are audited sidecars",
		Long: `bot-bottle runs an AI coding agent (Claude Code, Codex, or any agent image)
in a Docker container whose only ways out are bot-bottle's sidecars: an egress
proxy that allows only declared hosts and injects credentials the agent never
holds, a git gate that scans every push, and a supervise server through which
the agent can only propose changes for the operator to approve.

What an agent may reach is declared in Markdown manifests with YAML frontmatter:

  <home>/bottles/NAME.md   bottles: env, egress routes, git-gate repos,
                           agent_provider, supervise, extends
  <home>/agents/NAME.md    agents: bottle, skills, git-gate.user; the body
                           is the agent's prompt
  ./.bot-bottle/agents/    agents from the working directory (a cloned repo);
                           they can never grant capabilities, may use only a
                           bottle that sets repo_agents: true, and replace a
                           home agent of the same name only with
                           --repo-overrides. Bottles are never read from the
                           working directory.

<home> is --home, else $` + contract.HomeEnv + `, else ~/` + contract.HomeDirName + `.`,
		Example: `  bot-bottle validate                 check every manifest, report all problems
  bot-bottle config demo              show what agent "demo" would run with
  bot-bottle --home ./examples config demo --json`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.home, "home", "", "bot-bottle home holding bottles/ and agents/ (env "+contract.HomeEnv+"; default ~/"+contract.HomeDirName+")")
	root.PersistentFlags().BoolVar(&g.repoOverrides, "repo-overrides", false, "let an agent in ./.bot-bottle/agents/ replace your agent of the same name (default: yours is used)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.HiddenDefaultCmd = true

	root.AddCommand(
		newValidateCmd(env, g),
		newConfigCmd(env, g),
		newRenderCmd(env, g),
		newUpCmd(env, g),
		newDownCmd(env, g),
		newResumeCmd(env, g),
		newDemoCmd(env),
		newProposalsCmd(env, g, pdeps),
		newListCmd(env, g, odeps),
		newLogsCmd(env, g, odeps),
		newDoctorCmd(env, g, odeps),
		newDashboardCmd(env, g, pdeps, odeps),
		newVersionCmd(env),
	)
	return root
}

// resolvedHome is the bot-bottle home the globals point at.
func (g *globals) resolvedHome(env Env) (string, error) {
	cwd, err := env.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the working directory: %w", err)
	}
	return manifest.ResolveHome(g.home, env.Getenv, cwd)
}

// load reads the manifests the globals point at, prints the warnings, and
// prints every problem (returning a reportedError) when there are any.
func (g *globals) load(env Env) (*manifest.Manifest, *display, error) {
	cwd, err := env.Getwd()
	if err != nil {
		return nil, nil, fmt.Errorf("find the working directory: %w", err)
	}
	home, err := manifest.ResolveHome(g.home, env.Getenv, cwd)
	if err != nil {
		return nil, nil, err
	}
	d := newDisplay(cwd, env.Getenv("HOME"))
	m, err := manifest.Load(manifest.Options{Home: home, CWD: cwd, RepoOverrides: g.repoOverrides})
	d.printWarnings(env.Stderr, m.Warnings)
	var problems manifest.Problems
	if errors.As(err, &problems) {
		d.printProblems(env.Stderr, problems)
		return nil, nil, reportedError{err}
	}
	if err != nil {
		return nil, nil, err
	}
	return m, d, nil
}

// effective loads the manifests and returns agent's effective
// configuration.
func (g *globals) effective(env Env, agent string) (*manifest.Effective, *display, error) {
	m, d, err := g.load(env)
	if err != nil {
		return nil, nil, err
	}
	eff, err := m.Effective(agent)
	if err != nil {
		return nil, nil, err
	}
	return eff, d, nil
}

// exactArgs is cobra.ExactArgs with a message naming the arguments and a
// usage exit code.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		return usageError{fmt.Errorf("%s takes %d argument(s) (%v), got %d; see 'bot-bottle %s --help'",
			cmd.Name(), len(names), names, len(args), cmd.Name())}
	}
}
