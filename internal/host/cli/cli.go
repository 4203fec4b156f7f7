// Package cli implements the bot-bottle command line: one file per verb,
// each with an options struct, a command constructor and a run function
// that takes its dependencies explicitly.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

// Env is what the CLI needs from the process. Tests pass their own.
type Env struct {
	// Getenv reads an environment variable.
	Getenv func(string) string
	// Getwd returns the working directory.
	Getwd func() (string, error)
	// Stdin, Stdout and Stderr are the standard streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// OSEnv is the real process environment.
func OSEnv() Env {
	return Env{Getenv: os.Getenv, Getwd: os.Getwd, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and found problems, or failed
	exitUsage = 2 // the command line itself was wrong
)

// usageError marks a wrong command line (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// reportedError means the command already printed its problems; Main only
// sets the exit code.
type reportedError struct{ err error }

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }

// Main runs bot-bottle with args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	return execute(ctx, newRootCmd(env), args, env)
}

// execute runs root with args and returns the process exit code.
func execute(ctx context.Context, root *cobra.Command, args []string, env Env) int {
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var rep reportedError
	if errors.As(err, &rep) {
		return exitError
	}
	// Errors can quote files and records someone else wrote (a queued
	// proposal, a repository's manifest): escape them for the terminal.
	fmt.Fprintf(env.Stderr, "bot-bottle: error: %s\n", termtext.Block(err.Error(), "  "))
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		fmt.Fprintln(env.Stderr, "Run 'bot-bottle --help' for usage.")
		return exitUsage
	}
	return exitError
}
