package render

import (
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
)

// EnvOrigin says where one of the agent's env values comes from. It never
// holds the value, so it may be shown and logged.
type EnvOrigin struct {
	// Name is the variable's name in the agent.
	Name string
	// Kind is literal, host (${VAR}) or prompt (?question).
	Kind manifest.EnvKind
	// HostVar is the host variable read (EnvHost only).
	HostVar string
	// File and Line are where the entry is written; zero when unknown.
	File string
	Line int
}

// String says where the value comes from: "literal", "from $VAR" or
// "asked at launch".
func (o EnvOrigin) String() string {
	switch o.Kind {
	case manifest.EnvHost:
		return "from $" + o.HostVar
	case manifest.EnvPrompt:
		return "asked at launch"
	}
	return "literal"
}

// where is "env NAME (file:line)", how every message about an entry starts.
func (o EnvOrigin) where() string {
	switch {
	case o.File == "":
		return "env " + o.Name
	case o.Line == 0:
		return fmt.Sprintf("env %s (%s)", o.Name, o.File)
	}
	return fmt.Sprintf("env %s (%s:%d)", o.Name, o.File, o.Line)
}

// EnvOrigins returns where each of b's env values comes from, sorted by
// name. It reads nothing: a preflight shows it before anything is asked.
func EnvOrigins(b manifest.Bottle) []EnvOrigin {
	out := make([]EnvOrigin, 0, len(b.Env))
	for _, v := range b.Env {
		out = append(out, EnvOrigin{Name: v.Name, Kind: v.Value.Kind, HostVar: v.Value.HostVar, File: v.File, Line: v.Line})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ResolvedEnv is the agent's environment as it will be at launch.
//
// Values read from the host or typed by the operator are secrets: they go
// to the agent, through the project's 0600 agent.env file, and nowhere
// else. ResolvedEnv formats (with fmt's verbs and as a slog value) as its
// names and origins only, so printing or logging one by mistake does not
// leak them.
type ResolvedEnv struct {
	// Values maps each env name to its value: literal, read from the host
	// or typed at launch.
	Values map[string]string
	// Origins maps each env name to where its value came from, for
	// display.
	Origins map[string]EnvOrigin
}

// Names returns the env names, sorted.
func (e ResolvedEnv) Names() []string {
	names := make([]string, 0, len(e.Origins))
	for n := range e.Origins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// redacted is "NAME (origin), ..." with no value.
func (e ResolvedEnv) redacted() string {
	parts := make([]string, 0, len(e.Origins))
	for _, n := range e.Names() {
		parts = append(parts, n+" ("+e.Origins[n].String()+")")
	}
	return "env{" + strings.Join(parts, ", ") + "}"
}

// Format writes the names and origins, never a value, whatever the verb.
func (e ResolvedEnv) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(e.redacted())) }

// LogValue logs each name with its origin, never a value.
func (e ResolvedEnv) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(e.Origins))
	for _, n := range e.Names() {
		attrs = append(attrs, slog.String(n, e.Origins[n].String()))
	}
	return slog.GroupValue(attrs...)
}

var (
	_ fmt.Formatter  = ResolvedEnv{}
	_ slog.LogValuer = ResolvedEnv{}
)

// Prompter asks the operator for a ?prompt value without echoing it: name
// is the variable, question the text to show (the variable's name when
// the manifest gives none).
type Prompter func(name, question string) (string, error)

// ResolveEnv resolves eff's env for a launch, before anything starts:
// literal values as written, ${VAR} from lookup (an unset variable is an
// error naming it, the entry and the manifest line; a variable set empty
// is an empty value), and ?question values asked through prompt, in name
// order. Every ${VAR} is checked before anything is asked, so the
// operator never types a secret for a launch that then fails. A nil
// prompt makes ?question entries an error (there is no terminal). The
// error lists every problem; no message holds a value.
func ResolveEnv(eff *manifest.Effective, lookup func(string) (string, bool), prompt Prompter) (*ResolvedEnv, error) {
	env, problems := resolveEnv(eff.Bottle, lookup, prompt)
	if len(problems) > 0 {
		return nil, fmt.Errorf("cannot resolve agent %s's env:\n  %s", eff.Agent.Name, strings.Join(problems, "\n  "))
	}
	return env, nil
}

func resolveEnv(b manifest.Bottle, lookup func(string) (string, bool), prompt Prompter) (*ResolvedEnv, []string) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	env := &ResolvedEnv{Values: map[string]string{}, Origins: map[string]EnvOrigin{}}
	entries := map[string]manifest.EnvValue{}
	for _, v := range b.Env {
		entries[v.Name] = v.Value
	}
	problems := hostEnvProblems(b, lookup)
	if len(problems) > 0 {
		return nil, problems
	}
	for _, o := range EnvOrigins(b) {
		v := entries[o.Name]
		var value string
		switch o.Kind {
		case manifest.EnvLiteral:
			value = v.Literal
		case manifest.EnvHost:
			value, _ = lookup(o.HostVar)
		case manifest.EnvPrompt:
			if prompt == nil {
				problems = append(problems, o.where()+" is asked at launch (?prompt) but there is no terminal to ask on; run from a terminal")
				continue
			}
			q := v.Prompt
			if q == "" {
				q = o.Name
			}
			s, err := prompt(o.Name, q)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: ask for it: %v", o.where(), err))
				continue
			}
			if msg := envFileProblem(s); msg != "" {
				problems = append(problems, fmt.Sprintf("%s: the value typed %s", o.where(), msg))
				continue
			}
			value = s
		}
		env.Values[o.Name] = value
		env.Origins[o.Name] = o
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return env, nil
}

// hostEnvProblems checks every ${VAR} entry of b against the host without
// asking anything: the variable must be set, and its value one the
// agent.env file can hold.
func hostEnvProblems(b manifest.Bottle, lookup func(string) (string, bool)) []string {
	var problems []string
	for _, o := range EnvOrigins(b) {
		if o.Kind != manifest.EnvHost {
			continue
		}
		value, ok := lookup(o.HostVar)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: $%s is not set in your environment; export it (%s= sets it empty, which is allowed), or change the entry",
				o.where(), o.HostVar, o.HostVar))
			continue
		}
		if msg := envFileProblem(value); msg != "" {
			problems = append(problems, fmt.Sprintf("%s: the value of $%s %s", o.where(), o.HostVar, msg))
		}
	}
	return problems
}

// envFileProblem says why value cannot be written to agent.env, whose
// lines are NAME='value' with no escapes; "" when it can.
func envFileProblem(value string) string {
	if strings.ContainsAny(value, "\r\n'\x00") {
		return "contains a line break, a single quote or a NUL, which the agent's env file cannot hold"
	}
	return ""
}
