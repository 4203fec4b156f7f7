package supervise

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func TestParseConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    func(Config) bool
		wantErr string
	}{
		{"flags", []string{"--queue", "/q", "--bottle", "dev", "--response-timeout", "5s"}, nil,
			func(c Config) bool { return c.Queue == "/q" && c.Bottle == "dev" && c.ResponseTimeout == 5*time.Second }, ""},
		{"environment when no flag", nil, map[string]string{contract.EnvSuperviseBottle: "dev", contract.EnvSuperviseResponseTimeout: "2s",
			contract.EnvSuperviseEgressAdmin: "http://egress.test:9901"},
			func(c Config) bool {
				return c.Bottle == "dev" && c.ResponseTimeout == 2*time.Second && c.EgressAdmin == "http://egress.test:9901" && c.Queue == contract.QueueDir
			}, ""},
		{"flag beats environment", []string{"--bottle", "flag"}, map[string]string{contract.EnvSuperviseBottle: "env"},
			func(c Config) bool { return c.Bottle == "flag" }, ""},
		{"missing bottle", nil, nil, nil, "--bottle"},
		{"bad slug", []string{"--bottle", "Dev_1"}, nil, nil, "--bottle"},
		{"bad timeout env", []string{"--bottle", "dev"}, map[string]string{contract.EnvSuperviseResponseTimeout: "soon"}, nil, contract.EnvSuperviseResponseTimeout},
		{"timeout out of range", []string{"--bottle", "dev", "--response-timeout", "1h"}, nil, nil, "--response-timeout"},
		{"egress admin not a URL", []string{"--bottle", "dev", "--egress-admin", "egress:9901"}, nil, nil, "--egress-admin"},
		{"stray argument", []string{"--bottle", "dev", "extra"}, nil, nil, "unexpected argument"},
		{"limits default", []string{"--bottle", "dev"}, nil,
			func(c Config) bool { return c.MaxPending == 64 && c.Rate == Rate{N: 10, Per: time.Minute} }, ""},
		{"limits from flags", []string{"--bottle", "dev", "--max-pending", "5", "--rate", "3/h"}, nil,
			func(c Config) bool { return c.MaxPending == 5 && c.Rate == Rate{N: 3, Per: time.Hour} }, ""},
		{"limits from environment", []string{"--bottle", "dev"}, map[string]string{contract.EnvSuperviseMaxPending: "7", contract.EnvSuperviseRate: "20/30s"},
			func(c Config) bool { return c.MaxPending == 7 && c.Rate == Rate{N: 20, Per: 30 * time.Second} }, ""},
		{"max pending zero", []string{"--bottle", "dev", "--max-pending", "0"}, nil, nil, "--max-pending must be between 1 and 10000, not 0"},
		{"max pending not a number", []string{"--bottle", "dev"}, map[string]string{contract.EnvSuperviseMaxPending: "lots"}, nil, contract.EnvSuperviseMaxPending + `="lots": want a whole number`},
		{"rate without interval", []string{"--bottle", "dev", "--rate", "10"}, nil, nil, `rate "10" is not N/INTERVAL`},
		{"rate from environment refused", []string{"--bottle", "dev"}, map[string]string{contract.EnvSuperviseRate: "0/m"}, nil, contract.EnvSuperviseRate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(tt.args, env(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.want(c) {
				t.Fatalf("ParseConfig = %+v, %v", c, err)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate
		err  string
	}{
		{"10/m", Rate{10, time.Minute}, ""},
		{"1/s", Rate{1, time.Second}, ""},
		{"100/h", Rate{100, time.Hour}, ""},
		{"5/30s", Rate{5, 30 * time.Second}, ""},
		{" 2/90m ", Rate{2, 90 * time.Minute}, ""},
		{"10", Rate{}, "is not N/INTERVAL"},
		{"ten/m", Rate{}, `"ten" is not a whole number of at least 1`},
		{"0/m", Rate{}, `"0" is not a whole number of at least 1`},
		{"-1/m", Rate{}, "at least 1"},
		{"10/fortnight", Rate{}, `the interval "fortnight" is not s, m, h or a duration`},
		{"10/500ms", Rate{}, "the interval from 1s to 24h"},
		{"10/48h", Rate{}, "the interval from 1s to 24h"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseRate(%q) = %v, %v; want an error containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseRate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if again, err := ParseRate(got.String()); err != nil || again != got {
				t.Errorf("ParseRate(String() = %q) = %v, %v", got.String(), again, err)
			}
		})
	}
}
