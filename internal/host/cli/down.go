package cli

import (
	"context"

	"github.com/spf13/cobra"
)

type downOptions struct {
	slug      string
	keepState bool
}

func newDownCmd(env Env, g *globals) *cobra.Command {
	opts := downOptions{}
	cmd := &cobra.Command{
		Use:   "down SLUG",
		Short: "Stop a bottle and remove it",
		Long: `Down stops the bottle SLUG and removes its containers and networks, its
workspace volume and its directory under ~/.bot-bottle/state/.

With --keep-state the workspace volume and the directory (the compose
project, the routes and gate files with what you approved, the proposal
queue, the audit log) stay, and 'bot-bottle resume SLUG' brings the bottle
back as it was. Either way, every secret file (the CA key, tokens, SSH keys,
the agent's env values) is deleted; resume reads them again from your
environment and files.`,
		Example: `  bot-bottle down dev-x3k9q
  bot-bottle down dev-x3k9q --keep-state    stop it; resume it later`,
		Args: exactArgs("SLUG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.slug = args[0]
			return runDown(cmd.Context(), env, g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.keepState, "keep-state", false, "keep the workspace and the state directory for resume")
	return cmd
}

func runDown(ctx context.Context, env Env, g *globals, opts downOptions) error {
	home, err := g.resolvedHome(env)
	if err != nil {
		return err
	}
	return newManager(env, home, nil, nil).Down(ctx, opts.slug, opts.keepState)
}
