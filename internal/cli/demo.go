package cli

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/demo"
	"github.com/bot-bottle/bot-bottle/internal/render"
)

type demoOptions struct {
	imageTag string
	verbose  bool
}

func newDemoCmd(env Env) *cobra.Command {
	opts := demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a real bottle on the local Docker engine and show what it allows and refuses",
		Long: `Demo renders a built-in bottle whose agent is the bot-bottle/agent-test image,
starts it with docker compose beside a pretend internet (an HTTPS API that
wants a token and an SSH git server, on the bottle's egress network), and
narrates what happens when the agent:

  - reads its API token (it holds only a placeholder),
  - calls the API (egress injects the real token),
  - calls an undeclared host (403, with how to ask for it),
  - sends a secret in a request (blocked by DLP),
  - pushes a clean commit through the git gate (lands upstream),
  - pushes a commit with a secret (rejected by the gate's scan),
  - connects directly, bypassing the proxy (no route, no DNS).

Everything it starts is torn down at the end. It needs the Docker engine,
docker compose v2 and the images "make images" builds; "make demo" does all
of that. Exit status: 0 when every step behaved, 1 otherwise.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), env, opts)
		},
	}
	cmd.Flags().StringVar(&opts.imageTag, "image-tag", render.DefaultImageTag, "tag of the bot-bottle images to run")
	cmd.Flags().BoolVarP(&opts.verbose, "verbose", "v", false, "show docker compose's own output")
	return cmd
}

func runDemo(ctx context.Context, env Env, opts demoOptions) error {
	if err := exec.CommandContext(ctx, "docker", "compose", "version").Run(); err != nil {
		return fmt.Errorf("docker compose v2 is not available (%v); install the compose plugin or run `make compose-plugin`", err)
	}
	var missing []string
	for _, name := range []string{"egress", "gitgate", "supervise", "netguard", "agent-test", "demo-upstream"} {
		image := "bot-bottle/" + name + ":" + opts.imageTag
		if exec.CommandContext(ctx, "docker", "image", "inspect", image).Run() != nil {
			missing = append(missing, image)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("images missing: %s; build them with `make images`", strings.Join(missing, ", "))
	}
	var progress io.Writer = io.Discard
	if opts.verbose {
		progress = env.Stderr
	}
	if err := demo.Run(ctx, env.Stdout, progress, opts.imageTag); err != nil {
		return err
	}
	return nil
}
