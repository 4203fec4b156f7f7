package render

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// envHome loads a bottle "b" with the given env block and an agent "a"
// using it.
func envHome(t *testing.T, envYAML string) *manifest.Effective {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"bottles", "agents"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, "bottles", "b.md"), "---\n# line 2\nenv:\n"+envYAML+"---\n")
	write(t, filepath.Join(dir, "agents", "a.md"), "---\nbottle: b\n---\n")
	m, err := manifest.Load(manifest.Options{Home: dir})
	if err != nil {
		t.Fatal(err)
	}
	eff, err := m.Effective("a")
	if err != nil {
		t.Fatal(err)
	}
	return eff
}

// hostEnv is a host environment in which only the keys of m are set.
func hostEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// askLog is a Prompter that answers from a map and records what it asked.
type askLog struct {
	answers map[string]string
	asked   []string
}

func (a *askLog) ask(name, question string) (string, error) {
	a.asked = append(a.asked, name+": "+question)
	return a.answers[name], nil
}

const secretValue = "s3cr3t-'value\n"

func TestResolveEnv(t *testing.T) {
	eff := envHome(t, "  LIT: plain\n  TICKET: ${JIRA_TICKET}\n  EMPTY: ${EMPTY_ON_HOST}\n  KEY: \"?Deploy key\"\n  BARE: \"?\"\n")
	asker := &askLog{answers: map[string]string{"KEY": "k-123", "BARE": ""}}
	env, err := ResolveEnv(eff, hostEnv(map[string]string{"JIRA_TICKET": "BB-7", "EMPTY_ON_HOST": ""}), asker.ask)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"LIT": "plain", "TICKET": "BB-7", "EMPTY": "", "KEY": "k-123", "BARE": ""}
	if diff := cmp.Diff(want, env.Values); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"BARE: BARE", "KEY: Deploy key"}, asker.asked); diff != "" {
		t.Errorf("asked (-want +got), in name order, the name when there is no question:\n%s", diff)
	}
	origins := map[string]string{}
	for n, o := range env.Origins {
		origins[n] = fmt.Sprintf("%s %s:%d", o, filepath.Base(o.File), o.Line)
	}
	wantOrigins := map[string]string{"LIT": "literal b.md:4", "TICKET": "from $JIRA_TICKET b.md:5", "EMPTY": "from $EMPTY_ON_HOST b.md:6",
		"KEY": "asked at launch b.md:7", "BARE": "asked at launch b.md:8"}
	if diff := cmp.Diff(wantOrigins, origins); diff != "" {
		t.Errorf("origins (-want +got):\n%s", diff)
	}
}

// A variable set to "" on the host is a value, not a missing variable:
// `FOO= bot-bottle up` is how an operator says "empty on purpose".
func TestResolveEnvEmptyButSetIsAllowed(t *testing.T) {
	eff := envHome(t, "  TICKET: ${JIRA_TICKET}\n")
	env, err := ResolveEnv(eff, hostEnv(map[string]string{"JIRA_TICKET": ""}), nil)
	if err != nil {
		t.Fatalf("a variable set empty was refused: %v", err)
	}
	if v, ok := env.Values["TICKET"]; !ok || v != "" {
		t.Errorf("TICKET = %q, %v; want set and empty", v, ok)
	}
}

// An unset ${VAR} fails before anything is asked, naming the variable,
// the entry and the manifest line; it used to become "" silently.
func TestResolveEnvUnsetHostVariableFailsBeforeAsking(t *testing.T) {
	eff := envHome(t, "  KEY: \"?Deploy key\"\n  TICKET: ${JIRA_TICKET}\n  OTHER: ${OTHER_VAR}\n  SET: ${SET_VAR}\n")
	asker := &askLog{}
	_, err := ResolveEnv(eff, hostEnv(map[string]string{"SET_VAR": secretValue[:6]}), asker.ask)
	if err == nil {
		t.Fatal("ResolveEnv succeeded with $JIRA_TICKET and $OTHER_VAR unset")
	}
	file := eff.Bottle.File
	for _, want := range []string{
		"env TICKET (" + file + ":5): $JIRA_TICKET is not set in your environment; export it (JIRA_TICKET= sets it empty, which is allowed), or change the entry",
		"env OTHER (" + file + ":6): $OTHER_VAR is not set",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), secretValue[:6]) {
		t.Error("the error holds a value")
	}
	if len(asker.asked) != 0 {
		t.Errorf("asked %v for a launch that was going to fail", asker.asked)
	}
}

func TestResolveEnvProblemsNeverHoldValues(t *testing.T) {
	tests := []struct {
		name   string
		env    string
		host   map[string]string
		prompt Prompter
		want   string
	}{
		{"host value with a line break", "  TICKET: ${JIRA_TICKET}\n", map[string]string{"JIRA_TICKET": secretValue}, nil,
			"env TICKET (FILE:4): the value of $JIRA_TICKET contains a line break, a single quote or a NUL"},
		{"typed value with a quote", "  KEY: \"?k\"\n", nil, func(string, string) (string, error) { return secretValue[:8], nil },
			"env KEY (FILE:4): the value typed contains a line break, a single quote or a NUL"},
		{"no terminal", "  KEY: \"?k\"\n", nil, nil, "env KEY (FILE:4) is asked at launch (?prompt) but there is no terminal to ask on"},
		{"the terminal fails", "  KEY: \"?k\"\n", nil, func(string, string) (string, error) { return secretValue, errors.New("read from the terminal: EOF") },
			"env KEY (FILE:4): ask for it: read from the terminal: EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eff := envHome(t, tt.env)
			_, err := ResolveEnv(eff, hostEnv(tt.host), tt.prompt)
			want := strings.ReplaceAll(tt.want, "FILE", eff.Bottle.File)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want %q", err, want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error holds the value: %v", err)
			}
		})
	}
}

// Printing or logging a resolved env by mistake shows names and origins.
func TestResolvedEnvNeverFormatsAValue(t *testing.T) {
	eff := envHome(t, "  TICKET: ${JIRA_TICKET}\n  KEY: \"?k\"\n  LIT: s3cr3t-literal\n")
	env, err := ResolveEnv(eff, hostEnv(map[string]string{"JIRA_TICKET": "s3cr3t-host"}), func(string, string) (string, error) { return "s3cr3t-typed", nil })
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("resolved", "env", env, "env_value", *env)
	shown := fmt.Sprintf("%v %+v %#v %s %q|%v %+v %#v", env, env, env, env, env, *env, *env, *env) + logged.String()
	if strings.Contains(shown, "s3cr3t") {
		t.Fatalf("a value was formatted:\n%s", shown)
	}
	for _, want := range []string{"KEY (asked at launch)", "TICKET (from $JIRA_TICKET)", `"TICKET":"from $JIRA_TICKET"`} {
		if !strings.Contains(shown, want) {
			t.Errorf("output lacks %q:\n%s", want, shown)
		}
	}
}

// up resolves the env before anything starts and hands it to Render,
// which then asks nothing and writes the values only to agent.env.
func TestRenderUsesTheResolvedEnv(t *testing.T) {
	eff := envHome(t, "  TICKET: ${JIRA_TICKET}\n  KEY: \"?k\"\n  LIT: plain\n")
	env, err := ResolveEnv(eff, hostEnv(map[string]string{"JIRA_TICKET": "s3cr3t-host"}), func(string, string) (string, error) { return "s3cr3t-typed", nil })
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "p")
	asked := false
	_, err = Render(eff, Options{Dir: out, Env: env, LookupEnv: hostEnv(nil), Prompt: func(string, string) (string, error) { asked = true; return "", nil }})
	if err != nil {
		t.Fatal(err)
	}
	if asked {
		t.Error("Render asked again for a value already resolved")
	}
	if got := read(t, out, contract.BottleAgentEnvFile); !strings.Contains(got, "KEY='s3cr3t-typed'\n") || !strings.Contains(got, "TICKET='s3cr3t-host'\n") {
		t.Errorf("agent.env = %q", got)
	}
	if info, err := os.Stat(filepath.Join(out, contract.BottleAgentEnvFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("agent.env mode: %v %v", info, err)
	}
	err = filepath.Walk(out, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || filepath.Base(path) == contract.BottleAgentEnvFile {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil && bytes.Contains(data, []byte("s3cr3t")) {
			t.Errorf("%s holds a resolved value", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	partial := &ResolvedEnv{Values: map[string]string{"TICKET": "x"}, Origins: map[string]EnvOrigin{"TICKET": env.Origins["TICKET"]}}
	_, err = Render(eff, Options{Dir: filepath.Join(t.TempDir(), "p"), Env: partial})
	if err == nil || !strings.Contains(err.Error(), "env KEY ("+eff.Bottle.File+":5) has no resolved value") {
		t.Errorf("a resolved env without KEY: err = %v", err)
	}
}

// Render resolving the env itself asks nothing while something else
// would fail the render: the operator never types a secret for nothing.
func TestRenderAsksNothingWhenItWillFail(t *testing.T) {
	eff := homeWith(t, filepath.Join(t.TempDir(), "missing-key"), "")
	write(t, eff.Bottle.File, strings.Replace(read(t, filepath.Dir(eff.Bottle.File), filepath.Base(eff.Bottle.File)), "env:\n", "env:\n  KEY: \"?k\"\n", 1))
	m, err := manifest.Load(manifest.Options{Home: filepath.Dir(filepath.Dir(eff.Bottle.File))})
	if err != nil {
		t.Fatal(err)
	}
	if eff, err = m.Effective("dev"); err != nil {
		t.Fatal(err)
	}
	asked := false
	_, err = Render(eff, Options{Dir: filepath.Join(t.TempDir(), "p"), LookupEnv: hostEnv(map[string]string{"EXAMPLE_API_TOKEN": testToken}),
		Getenv: env(map[string]string{"EXAMPLE_API_TOKEN": testToken}), Prompt: func(string, string) (string, error) { asked = true; return "", nil }})
	if err == nil || !strings.Contains(err.Error(), "missing-key") || !strings.Contains(err.Error(), "$JIRA_TICKET is not set") {
		t.Fatalf("err = %v, want the missing key and $JIRA_TICKET", err)
	}
	if asked {
		t.Error("Render asked for KEY although the render was going to fail")
	}
}
