package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/host/demo"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
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
	if err := demoPreflight(ctx, opts.imageTag); err != nil {
		return err
	}
	var progress io.Writer = io.Discard
	if opts.verbose {
		progress = env.Stderr
	}
	return demo.Run(ctx, env.Stdout, progress, opts.imageTag)
}

// demoPreflight checks, in order, what the demo needs and says how to get
// what is missing: the docker CLI, a reachable engine, compose v2, the
// images.
func demoPreflight(ctx context.Context, tag string) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return errors.New("the docker CLI is not installed: the demo runs a real bottle on the local Docker Engine; install Docker and start its daemon")
	}
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("the Docker Engine is not reachable (docker info: %s); start the daemon (e.g. systemctl start docker) and check that you may use it", firstLine(out, err))
	}
	if out, err := exec.CommandContext(ctx, "docker", "compose", "version").CombinedOutput(); err != nil {
		return fmt.Errorf("docker compose v2 is not available (%s); run `make compose-plugin` to build it from the Go module proxy", firstLine(out, err))
	}
	var missing []string
	for _, name := range demo.ImageNames {
		image := demo.Image(name, tag)
		if exec.CommandContext(ctx, "docker", "image", "inspect", image).Run() != nil {
			missing = append(missing, image)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("images missing: %s; build them with `make images` (offline, about 2 minutes)", strings.Join(missing, ", "))
	}
	return nil
}

// firstLine is the first non-empty line of a command's output, else its
// error.
func firstLine(out []byte, err error) string {
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return err.Error()
}
