package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

type renderOptions struct {
	agent      string
	out        string
	agentImage string
	imageTag   string
	runtime    string
}

func newRenderCmd(env Env, g *globals) *cobra.Command {
	opts := renderOptions{}
	cmd := &cobra.Command{
		Use:   "render AGENT -o DIR",
		Short: "Write a self-contained docker compose project for an agent",
		Long: `Render writes AGENT's bottle as a docker compose project into DIR (which must
not exist or be empty):

  compose.yaml      the agent on an internal-only network, egress, git-gate
                    (when the bottle has repos) and supervise (when enabled)
  config/           routes and gate files and the bottle's CA certificate,
                    mounted read-only into the sidecars
  secrets/          0700; the freshly minted CA key, each route's token (read
                    from the environment variable its token_ref names) and
                    each repo's SSH identity, one 0400 file each, given only
                    to the sidecar that needs it
  agent.env         0600; env values from ${VAR} and ?prompt entries, if any
                    (a ${VAR} not set in your environment is an error; set
                    empty, it is an empty value)
  README.md         how to start it

Then "docker compose up -d" in DIR starts the bottle; no bot-bottle binary is
involved. Nothing secret is written to compose.yaml or given to the agent.
The images are the ones "make images" builds (tag "local").`,
		Example: `  EXAMPLE_API_TOKEN=... bot-bottle render dev -o ./dev-bottle
  cd dev-bottle && docker compose up -d && docker compose exec agent sh`,
		Args: exactArgs("AGENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.agent = args[0]
			if opts.out == "" {
				return usageError{errors.New("render needs an output directory: pass -o DIR")}
			}
			return runRender(cmd.Context(), env, g, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.out, "output", "o", "", "directory to write the project into (must not exist or be empty)")
	cmd.Flags().StringVar(&opts.agentImage, "agent-image", "", "agent image to run instead of the provider template's (e.g. bot-bottle/agent-test:local)")
	cmd.Flags().StringVar(&opts.imageTag, "image-tag", render.DefaultImageTag, "tag of the bot-bottle sidecar images")
	cmd.Flags().StringVar(&opts.runtime, "runtime", "auto", "agent container runtime: auto (runsc when Docker has it), runsc, or default")
	return cmd
}

func runRender(ctx context.Context, env Env, g *globals, opts renderOptions) error {
	eff, d, err := g.effective(env, opts.agent)
	if err != nil {
		return err
	}
	runtime, err := chooseRuntime(ctx, opts.runtime)
	if err != nil {
		return err
	}
	// (Render itself reports an unset auth_token, among its problems.)
	codex, err := hostCodexLogin(env, d, eff)
	if err != nil {
		return err
	}
	res, err := render.Render(eff, render.Options{
		CodexAccessToken: codexToken(codex),
		Dir:              opts.out,
		Images:           compose.DefaultImages(opts.imageTag),
		AgentImage:       opts.agentImage,
		Getenv:           env.Getenv,
		LookupEnv:        env.lookupEnv(),
		Prompt:           terminalPrompt(env),
		Runtime:          runtime,
	})
	if err != nil {
		return err
	}
	if eff.Agent.Source == manifest.SourceCWD {
		fmt.Fprintf(env.Stdout, "agent %s from the repository at %s, bottle %s\n",
			esc(eff.Agent.Name), esc(d.dir(agentRepo(eff.Agent))), esc(eff.Bottle.Name))
	} else {
		fmt.Fprintf(env.Stdout, "agent %s, bottle %s\n", esc(eff.Agent.Name), esc(eff.Bottle.Name))
	}
	fmt.Fprintf(env.Stdout, "rendered %s into %s: services %s; %d secrets in %s/ (0400)\n",
		esc(res.Project), esc(d.path(res.Dir)), strings.Join(res.Services, ", "), len(res.Secrets), contract.BottleSecretsDir)
	fmt.Fprintf(env.Stdout, "start it with: cd %s && docker compose up -d\n", esc(d.path(res.Dir)))
	return nil
}

// chooseRuntime resolves --runtime: auto picks runsc when the Docker engine
// lists it and Docker's default otherwise (also when Docker is not
// reachable: the project can still be rendered for another machine).
func chooseRuntime(ctx context.Context, flag string) (string, error) {
	switch flag {
	case "default", "":
		return "", nil
	case "runsc":
		return "runsc", nil
	case "auto":
		out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{json .Runtimes}}").Output()
		if err != nil {
			return "", nil
		}
		var runtimes map[string]json.RawMessage
		if json.Unmarshal(out, &runtimes) == nil {
			if _, ok := runtimes["runsc"]; ok {
				return "runsc", nil
			}
		}
		return "", nil
	}
	return "", usageError{fmt.Errorf("--runtime %q: use auto, runsc or default", flag)}
}

// terminalPrompt asks on the terminal without echo; nil when stdin is not
// a terminal, so prompted values fail with a clear message.
func terminalPrompt(env Env) func(name, question string) (string, error) {
	f, ok := env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(name, question string) (string, error) {
		fmt.Fprintf(env.Stderr, "%s (%s, not echoed): ", termtext.Line(question), name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read from the terminal: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
}
