package daemon

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }
func (l *listValue) Set(v string) error {
	if v == "" {
		return errors.New("empty item")
	}
	*l = append(*l, v)
	return nil
}

type settings struct {
	name  string
	wait  time.Duration
	n     int
	on    bool
	items listValue
	local string
}

func flagSet(s *settings, out io.Writer) *FlagSet {
	f := NewFlagSet("demo", out, func(w io.Writer) { io.WriteString(w, "usage: demo [flags]\n") })
	f.String(&s.name, "name", "DEMO_NAME", "dflt", "a name")
	f.Duration(&s.wait, "wait", "DEMO_WAIT", time.Second, "a wait")
	f.Int(&s.n, "n", "DEMO_N", 3, "a count")
	f.Bool(&s.on, "on", "DEMO_ON", false, "a switch")
	f.List(&s.items, "item", "DEMO_ITEMS", "an item")
	f.String(&s.local, "local", "", "", "a flag the environment cannot set")
	return f
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFlagWinsThenEnvThenDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want settings
	}{
		{"defaults", nil, nil, settings{name: "dflt", wait: time.Second, n: 3}},
		{"env", nil, map[string]string{"DEMO_NAME": "e", "DEMO_WAIT": "2m", "DEMO_N": "7", "DEMO_ON": "true", "DEMO_ITEMS": "a, b,c", "LOCAL": "x"},
			settings{name: "e", wait: 2 * time.Minute, n: 7, on: true, items: listValue{"a", "b", "c"}}},
		{"flags win", []string{"--name", "f", "--wait", "5s", "--n", "1", "--on=false", "--item", "z", "--local", "l"},
			map[string]string{"DEMO_NAME": "e", "DEMO_WAIT": "2m", "DEMO_N": "7", "DEMO_ON": "true", "DEMO_ITEMS": "a,b"},
			settings{name: "f", wait: 5 * time.Second, n: 1, items: listValue{"z"}, local: "l"}},
		{"empty env is unset", nil, map[string]string{"DEMO_NAME": "", "DEMO_N": ""}, settings{name: "dflt", wait: time.Second, n: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s settings
			if err := flagSet(&s, io.Discard).Parse(tc.args, envOf(tc.env)); err != nil {
				t.Fatal(err)
			}
			if s.name != tc.want.name || s.wait != tc.want.wait || s.n != tc.want.n || s.on != tc.want.on ||
				!slices.Equal(s.items, tc.want.items) || s.local != tc.want.local {
				t.Errorf("got %+v, want %+v", s, tc.want)
			}
		})
	}
}

func TestBadEnvNamesTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DEMO_WAIT": "soon"}, `DEMO_WAIT="soon": want a duration`},
		{map[string]string{"DEMO_N": "many"}, `DEMO_N="many": want a whole number`},
		{map[string]string{"DEMO_ON": "perhaps"}, `DEMO_ON="perhaps": want true or false`},
		{map[string]string{"DEMO_ITEMS": "a,,b"}, `DEMO_ITEMS="a,,b": empty item`},
	} {
		var s settings
		err := flagSet(&s, io.Discard).Parse(nil, envOf(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: err = %v, want %q", tc.env, err, tc.want)
		}
	}
}

func TestHelpListsFlagAndVariable(t *testing.T) {
	var s settings
	var out bytes.Buffer
	err := flagSet(&s, &out).Parse([]string{"--help"}, envOf(nil))
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"usage: demo [flags]", "-name", "(env DEMO_NAME)", "(env DEMO_ITEMS, comma-separated)", "repeatable"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "(env )") {
		t.Errorf("help names an empty variable:\n%s", out.String())
	}
}

func TestBindingsListEveryFlag(t *testing.T) {
	var s settings
	got := flagSet(&s, io.Discard).Bindings()
	var names []string
	for _, b := range got {
		names = append(names, b.Flag+"="+b.Env)
	}
	want := []string{"name=DEMO_NAME", "wait=DEMO_WAIT", "n=DEMO_N", "on=DEMO_ON", "item=DEMO_ITEMS", "local="}
	if !slices.Equal(names, want) {
		t.Errorf("bindings %q, want %q", names, want)
	}
}

func TestStart(t *testing.T) {
	parse := func(args []string, getenv func(string) string, usage io.Writer) (settings, error) {
		var s settings
		err := flagSet(&s, usage).Parse(args, getenv)
		if err == nil && s.n < 0 {
			err = errors.New("--n must not be negative")
		}
		return s, err
	}
	for _, tc := range []struct {
		name   string
		args   []string
		ok     bool
		errSub string
	}{
		{"runs", []string{"--name", "x"}, true, ""},
		{"help", []string{"--help"}, false, ""},
		{"bad", []string{"--n", "-1"}, false, "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, log, ok, err := Start(parse, tc.args, envOf(nil), &stderr)
			if ok != tc.ok || (err == nil) != (tc.errSub == "") || (err != nil && !strings.Contains(err.Error(), tc.errSub)) {
				t.Fatalf("ok=%v err=%v, want ok=%v err containing %q", ok, err, tc.ok, tc.errSub)
			}
			if !ok {
				return
			}
			if cfg.name != "x" || log == nil {
				t.Fatalf("cfg %+v, log %v", cfg, log)
			}
			log.Info("hello")
			if !strings.HasPrefix(stderr.String(), "{") || !strings.Contains(stderr.String(), `"msg":"hello"`) {
				t.Errorf("log line is not JSON on stderr: %q", stderr.String())
			}
		})
	}
}
