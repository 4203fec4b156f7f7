package cli

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/host/codexauth"
	"github.com/bot-bottle/bot-bottle/internal/host/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

type resumeOptions struct {
	slug   string
	detach bool
}

func newResumeCmd(env Env, g *globals) *cobra.Command {
	opts := resumeOptions{}
	cmd := &cobra.Command{
		Use:   "resume SLUG",
		Short: "Attach to a running bottle, or start a stopped one again and attach",
		Long: `Resume attaches your terminal to the agent of the bottle SLUG. A bottle that
is not running (after 'down --keep-state', or a reboot) is started again
first, as it was: its workspace, proposal queue, audit log and the routes you
approved are kept; its secrets are read again from your environment and
files, ?prompt values and credentials you approved with a cred-block (never
kept while the bottle is stopped) are asked again, and the agent is
provisioned again.
When the agent exits, the bottle is torn down unless work in it would be
lost, as with up.`,
		Example: `  bot-bottle resume dev-x3k9q`,
		Args:    exactArgs("SLUG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.slug = args[0]
			return runResume(cmd.Context(), env, g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.detach, "detach", false, "start the bottle if it is stopped, without attaching")
	return cmd
}

func runResume(ctx context.Context, env Env, g *globals, opts resumeOptions) error {
	home, err := g.resolvedHome(env)
	if err != nil {
		return err
	}
	b, err := newManager(env, home, nil, nil).Open(opts.slug)
	if err != nil {
		return err
	}
	m, d, err := g.load(env)
	if err != nil {
		return err
	}
	eff, err := m.Effective(b.Meta.Agent)
	if err != nil {
		return fmt.Errorf("bottle %s runs agent %q: %w", opts.slug, b.Meta.Agent, err)
	}
	skills, err := resolveSkills(env, home, eff)
	if err != nil {
		return err
	}
	running, err := newManager(env, home, nil, nil).Running(ctx, b)
	if err != nil {
		return err
	}
	// A bottle started again is provisioned again: a forwarded Codex
	// login is read again (the host may have refreshed it).
	var codex *codexauth.Host
	if !running {
		if codex, err = hostCredentials(env, d, eff); err != nil {
			return err
		}
	}
	mgr := newManager(env, home, skills, codex)
	if !running {
		resolved, err := render.ResolveEnv(eff, env.lookupEnv(), secretPrompter(env))
		if err != nil {
			return err
		}
		if b, err = mgr.Resume(ctx, opts.slug, lifecycle.Resumption{Eff: eff, Env: resolved, Getenv: env.Getenv, HostCPUs: runtime.NumCPU(), CodexAccessToken: codexToken(codex),
			Credential: resumeCredential(env)}); err != nil {
			return fmt.Errorf("bottle %s did not start again: %w", opts.slug, err)
		}
		fmt.Fprintf(env.Stderr, "bottle %s is up again\n", opts.slug)
	}
	if opts.detach {
		return nil
	}
	return attachAndSettle(ctx, env, mgr, b, eff, true)
}

// resumeCredential asks on the terminal for a credential approved while
// the bottle ran: it is deleted when the bottle stops.
func resumeCredential(env Env) func(string, contract.AuthScheme) ([]byte, error) {
	return func(host string, scheme contract.AuthScheme) ([]byte, error) {
		if env.Terminal == nil {
			return nil, errors.New("you approved it while the bottle ran and it is not kept while the bottle is stopped; run bot-bottle resume from a terminal to type it again")
		}
		v, err := secretPrompter(env)("the "+string(scheme)+" credential for "+host+" you approved", "value")
		return []byte(v), err
	}
}
