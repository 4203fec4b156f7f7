package daemon

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// FlagSet is a daemon's flags, each bound to the environment variable
// that sets it when the flag is not given: a flag on the command line
// wins, then a non-empty variable, then the default. --help lists both
// names for every flag.
type FlagSet struct {
	fs       *flag.FlagSet
	bindings []Binding
}

// Binding ties a flag to its environment variable.
type Binding struct {
	// Flag is the flag's name, without dashes.
	Flag string
	// Env is the variable's name; "" for a flag the environment cannot set.
	Env string
	// List means the variable holds a comma-separated list, each item
	// given to the flag as if it were repeated.
	List bool
}

// NewFlagSet makes the flag set of the daemon called name. usage writes
// the synopsis and description above the flags in --help; help and errors
// go to out.
func NewFlagSet(name string, out io.Writer, usage func(io.Writer)) *FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		usage(out)
		fmt.Fprintln(out, "\nflags (each also read from the variable named, when the flag is not given):")
		fs.PrintDefaults()
	}
	return &FlagSet{fs: fs}
}

func (f *FlagSet) bind(name, env string, list bool) {
	f.bindings = append(f.bindings, Binding{Flag: name, Env: env, List: list})
}

func withEnv(help, env string) string {
	if env == "" {
		return help
	}
	return fmt.Sprintf("%s (env %s)", help, env)
}

// String defines a string flag.
func (f *FlagSet) String(p *string, name, env, value, help string) {
	f.fs.StringVar(p, name, value, withEnv(help, env))
	f.bind(name, env, false)
}

// Duration defines a duration flag ("10s", "2m").
func (f *FlagSet) Duration(p *time.Duration, name, env string, value time.Duration, help string) {
	f.fs.DurationVar(p, name, value, withEnv(help, env))
	f.bind(name, env, false)
}

// Int defines an integer flag.
func (f *FlagSet) Int(p *int, name, env string, value int, help string) {
	f.fs.IntVar(p, name, value, withEnv(help, env))
	f.bind(name, env, false)
}

// Var defines a flag of any flag.Value; the variable's value goes through
// v.Set as the flag's would.
func (f *FlagSet) Var(v flag.Value, name, env, help string) {
	f.fs.Var(v, name, withEnv(help, env))
	f.bind(name, env, false)
}

// List defines a repeatable flag; its variable holds the items
// comma-separated.
func (f *FlagSet) List(v flag.Value, name, env, help string) {
	f.fs.Var(v, name, withEnv(help+", repeatable", env+", comma-separated"))
	f.bind(name, env, true)
}

// Bool defines a boolean flag; its variable is read by strconv.ParseBool.
func (f *FlagSet) Bool(p *bool, name, env string, value bool, help string) {
	f.fs.BoolVar(p, name, value, withEnv(help, env))
	f.bind(name, env, false)
}

// Bindings lists every flag with its variable, in definition order.
func (f *FlagSet) Bindings() []Binding { return append([]Binding(nil), f.bindings...) }

// Args are the arguments left after the flags.
func (f *FlagSet) Args() []string { return f.fs.Args() }

// Parse reads args, then, for each flag not given, its variable through
// getenv. A variable that does not parse is an error naming it and its
// value. --help returns flag.ErrHelp after printing the usage.
func (f *FlagSet) Parse(args []string, getenv func(string) string) error {
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for _, b := range f.bindings {
		if b.Env == "" || given[b.Flag] {
			continue
		}
		v := getenv(b.Env)
		if v == "" {
			continue
		}
		items := []string{v}
		if b.List {
			items = strings.Split(v, ",")
		}
		fl := f.fs.Lookup(b.Flag)
		for _, item := range items {
			if b.List {
				item = strings.TrimSpace(item)
			}
			if err := fl.Value.Set(item); err != nil {
				return fmt.Errorf("%s=%q: %s", b.Env, v, setError(fl, err))
			}
		}
	}
	return nil
}

// setError explains why a variable's value was refused, in the words a
// flag of that kind needs.
func setError(fl *flag.Flag, err error) string {
	if g, ok := fl.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			return "want a duration such as 10s or 2m"
		case int:
			return "want a whole number"
		case bool:
			return "want true or false"
		}
	}
	return err.Error()
}

// Start begins a daemon's Run: it parses the configuration with parse
// (which prints --help itself) and makes the daemon's logger, JSON on
// stderr. ok is false when there is nothing more to do: --help was asked
// for (err nil) or the configuration is wrong (err says why).
func Start[C any](parse func(args []string, getenv func(string) string, usage io.Writer) (C, error),
	args []string, getenv func(string) string, stderr io.Writer) (cfg C, log *slog.Logger, ok bool, err error) {
	cfg, err = parse(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return cfg, nil, false, nil
	}
	if err != nil {
		return cfg, nil, false, err
	}
	return cfg, slog.New(slog.NewJSONHandler(stderr, nil)), true, nil
}
