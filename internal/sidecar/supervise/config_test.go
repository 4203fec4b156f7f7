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
