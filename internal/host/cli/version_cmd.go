package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/shared/version"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func newVersionCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the bot-bottle version",
		Args:  exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(env.Stdout, "bot-bottle %s (contract v%d, %s %s/%s)\n",
				version.String(), contract.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
