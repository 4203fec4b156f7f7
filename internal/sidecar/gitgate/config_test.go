package gitgate

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func TestParseConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	t.Run("defaults", func(t *testing.T) {
		c, err := ParseConfig(nil, env(nil), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if c.ConfigFile != contract.GatePath || c.DataDir != contract.GitDataDir || c.SecretsDir != contract.SecretsDir ||
			c.Listen != ":9420" || c.Admin != ":9901" || c.MaxPack != DefaultMaxPack {
			t.Fatalf("defaults: %+v", c)
		}
	})
	t.Run("env, flags win", func(t *testing.T) {
		c, err := ParseConfig([]string{"--listen", "127.0.0.1:1", "--max-pack", "512M"}, env(map[string]string{
			contract.EnvGitGateConfig: "/g.yaml", contract.EnvGitGateListen: ":2", contract.EnvGitGateMaxPack: "1G",
			contract.EnvGitGateData: "/d", contract.EnvGitGateSecretsDir: "/s", contract.EnvGitGateAdmin: "off",
		}), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if c.ConfigFile != "/g.yaml" || c.Listen != "127.0.0.1:1" || c.MaxPack != 512<<20 || c.DataDir != "/d" || c.SecretsDir != "/s" || c.Admin != "off" {
			t.Fatalf("config: %+v", c)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad size", []string{"--max-pack", "lots"}, nil, "positive size"},
		{"bad size env", nil, map[string]string{contract.EnvGitGateMaxPack: "-1"}, contract.EnvGitGateMaxPack},
		{"same ports", []string{"--listen", ":1", "--admin", ":1"}, nil, "both :1"},
		{"empty config", []string{"--config", ""}, nil, "--config is required"},
		{"argument", []string{"extra"}, nil, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(tc.args, env(tc.env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("help lists flags and env vars", func(t *testing.T) {
		var out bytes.Buffer
		_, err := ParseConfig([]string{"--help"}, env(nil), &out)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatal(err)
		}
		for _, want := range []string{"-config", "-data", "-secrets-dir", "-listen", "-admin", "-max-pack",
			contract.EnvGitGateConfig, contract.EnvGitGateData, contract.EnvGitGateSecretsDir, contract.EnvGitGateListen, contract.EnvGitGateAdmin, contract.EnvGitGateMaxPack} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("--help lacks %s:\n%s", want, out.String())
			}
		}
	})
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "64K": 64 << 10, "64KiB": 64 << 10, "512m": 512 << 20, "1G": 1 << 30, "2GiB": 2 << 30} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5", "1T", "G", "1.5G", "99999999999999999999"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
