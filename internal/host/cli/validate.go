package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

type validateOptions struct{}

func newValidateCmd(env Env, g *globals) *cobra.Command {
	opts := validateOptions{}
	return &cobra.Command{
		Use:   "validate",
		Short: "Check every bottle and agent manifest and report all problems",
		Long: `Validate loads every bottle and agent manifest (home bottles and agents, and
agents in ./.bot-bottle/agents/), resolves extends chains, and prints one line
per problem: file, line, key, what is wrong and how to fix it. Warnings (such
as skipped files) do not fail validation.

Exit status: 0 when everything is valid, 1 when there are problems.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runValidate(cmd.Context(), env, g, opts)
		},
	}
}

func runValidate(_ context.Context, env Env, g *globals, _ validateOptions) error {
	m, d, err := g.load(env)
	if err != nil {
		return err
	}
	if len(m.Bottles) == 0 && len(m.Agents) == 0 {
		return fmt.Errorf("no manifests found in %s (looked in %s/ and %s/); create one (see examples/ in the bot-bottle repository) or pass --home DIR",
			d.path(m.Home), contract.BottlesDirName, contract.AgentsDirName)
	}
	where := d.path(m.Home)
	if m.CWDAgentsDir != "" {
		where += " and " + d.path(m.CWDAgentsDir)
	}
	fmt.Fprintf(env.Stdout, "ok: %s (%s), %s (%s) in %s\n",
		plural(len(m.Bottles), "bottle"), listOrNone(m.BottleNames()),
		plural(len(m.Agents), "agent"), listOrNone(m.AgentNames()), esc(where))
	return nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
