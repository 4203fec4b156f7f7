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
	"golang.org/x/term"
)

// Env is what the CLI needs from the process. Tests pass their own.
type Env struct {
	// Getenv reads an environment variable.
	Getenv func(string) string
	// LookupEnv reads an environment variable and says whether it is set
	// (a manifest's ${VAR} may be set empty, never unset); nil: Getenv,
	// with an empty value taken as unset.
	LookupEnv func(string) (string, bool)
	// Getwd returns the working directory.
	Getwd func() (string, error)
	// Stdin, Stdout and Stderr are the standard streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Terminal is the operator's terminal when standard input is one (for
	// questions, secrets asked with echo off, and attaching an agent);
	// nil: none, and a command that needs one says so.
	Terminal *os.File
}

// OSEnv is the real process environment.
func OSEnv() Env {
	env := Env{Getenv: os.Getenv, LookupEnv: os.LookupEnv, Getwd: os.Getwd, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		env.Terminal = os.Stdin
	}
	return env
}

// lookupEnv returns LookupEnv, or one made of Getenv.
func (e Env) lookupEnv() func(string) (string, bool) {
	if e.LookupEnv != nil {
		return e.LookupEnv
	}
	return func(k string) (string, bool) { v := e.Getenv(k); return v, v != "" }
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

// exitStatus makes Main exit with code, printing nothing more: `up` and
// `resume` return their agent's exit status.
type exitStatus struct{ code int }

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

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
	var st exitStatus
	if errors.As(err, &st) {
		return st.code
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
