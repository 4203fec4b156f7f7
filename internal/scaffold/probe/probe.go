// Package probe is the test and demo probe that runs inside the agent-test
// image. From where the agent sits it tries what the bottle promises to
// allow or refuse — an HTTP(S) request through the egress proxy, a direct
// TCP connection, a DNS lookup — and searches the container for secrets
// that must never reach it. Each subcommand prints a short, stable result
// and reports it in its exit code, so end-to-end tests can assert on
// either.
//
// Environment variables read: HTTPS_PROXY, HTTP_PROXY, NO_PROXY (and their
// lower-case forms) by 'probe http', and BOT_BOTTLE_CA_CERT as the default
// of 'probe http --ca'.
package probe

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Exit codes shared by every subcommand.
const (
	// ExitOK: the probe saw what it asked for (a 2xx, a connection, an
	// answer, no secret).
	ExitOK = 0
	// ExitFail: the attempt failed (transport error, refused connection,
	// failed lookup) or, for 'secrets', something was found.
	ExitFail = 1
	// ExitUsage: the command line was wrong; nothing was tried.
	ExitUsage = 2
	// ExitStatus: 'probe http' got an HTTP response that is not 2xx.
	ExitStatus = 3
)

// EnvCACert names the file 'probe http' trusts in addition to the system
// roots when --ca is not given. It is the agent's copy of the bottle CA.
const EnvCACert = contract.EnvAgentCACert

// env is the probe's view of its process environment.
type env struct {
	environ []string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
}

// getenv returns the last value of key in environ, as os.Getenv would.
func (e *env) getenv(key string) string {
	v := ""
	for _, kv := range e.environ {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

var subcommands = []subcommand{
	{"http", "send one HTTP(S) request through the proxy from the environment", runHTTP},
	{"tcp", "open a direct TCP connection (no proxy)", runTCP},
	{"dns", "resolve a name with the Go resolver", runDNS},
	{"secrets", "search the environment, processes and files for secret values", runSecrets},
	{"idle", "block until SIGTERM or SIGINT (the image's CMD)", runIdle},
}

// Run is probe's main: args without the program name, the process
// environment as os.Environ returns it, and the standard streams. It
// returns the exit code.
func Run(ctx context.Context, args []string, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{environ: environ, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			return Run(ctx, []string{args[1], "--help"}, environ, stdin, stdout, stderr)
		}
		usage(stdout)
		return ExitOK
	}
	for _, c := range subcommands {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(stderr, "probe: unknown subcommand %q\n\n", args[0])
	usage(stderr)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: probe SUBCOMMAND [flags] [args]

probe tries, from inside the agent container, what a bottle promises to
allow or refuse, and prints a short result that tests can match.

subcommands:
`)
	for _, c := range subcommands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'probe SUBCOMMAND --help' for its flags and examples.

exit codes (every subcommand):
  0  success: a 2xx response, a connection, an answer, no secret found
  1  failure: a transport error, a refused connection, a failed lookup,
     or (secrets) at least one finding
  2  usage error: nothing was tried
  3  (http) a response whose status is not 2xx

Results go to standard output; errors and diagnostics to standard error.
`)
}

// newFlags returns a flag set for a subcommand whose --help prints help
// (the subcommand's text) followed by its flags.
func newFlags(e *env, name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet("probe "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, help)
		fmt.Fprint(w, "\nflags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags that may come before, between or after the
// positional arguments ("probe tcp HOST:PORT --timeout 1s"), which the
// flag package alone does not allow. Everything after "--" is positional.
// --help prints to standard output.
func parseArgs(e *env, fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(e.stdout)
				fs.Usage()
				return nil, ExitOK, false
			}
			return nil, ExitUsage, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			return append(pos, rest...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageError prints msg and the subcommand's usage line and returns ExitUsage.
func usageError(e *env, fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fmt.Fprintf(e.stderr, "run '%s --help' for usage\n", fs.Name())
	return ExitUsage
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
