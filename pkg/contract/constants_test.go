package contract_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func TestPaths(t *testing.T) {
	home := filepath.Join("home", "op", ".bot-bottle")
	for _, tc := range []struct {
		name, got, want string
	}{
		{"secret path", contract.SecretPath("example_token"), "/run/secrets/example_token"},
		{"ca key", contract.SecretPath(contract.CAKeySecret), "/run/secrets/ca_key"},
		{"routes path", contract.RoutesPath, "/etc/bot-bottle/routes.yaml"},
		{"gate path", contract.GatePath, "/etc/bot-bottle/gate.yaml"},
		{"ca cert path", contract.CACertPath, "/etc/bot-bottle/ca.crt"},
		{"state dir", contract.StateDir(home, "dev"), filepath.Join(home, "state", "dev")},
		{"queue dir", contract.QueueDirFor(home, "dev"), filepath.Join(home, "queue", "dev")},
		{"state routes", contract.StateRoutesFile(home, "dev"), filepath.Join(home, "state", "dev", "config", "routes.yaml")},
		{"state gate", contract.StateGateFile(home, "dev"), filepath.Join(home, "state", "dev", "config", "gate.yaml")},
		{"audit file", contract.AuditFileFor(home, "dev"), filepath.Join(home, "state", "dev", "audit.jsonl")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestValidSlug(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"simple", "dev", ""},
		{"with digits and dashes", "my-bottle-2", ""},
		{"double dash", "a--b", ""},
		{"single letter", "a", ""},
		{"longest", "a" + strings.Repeat("b", 47), ""},
		{"empty", "", "slug is empty"},
		{"too long", "a" + strings.Repeat("b", 48), "is 49 characters; the limit is 48"},
		{"digit first", "1dev", "must start with a lower-case letter"},
		{"dash first", "-dev", "must start with a lower-case letter"},
		{"upper case", "Dev", "must start with a lower-case letter"},
		{"upper inside", "dEv", "contains 'E'"},
		{"underscore", "my_bottle", "contains '_'"},
		{"dot", "a.b", "contains '.'"},
		{"slash", "a/b", "contains '/'"},
		{"trailing dash", "dev-", "must not end in '-'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, contract.ValidSlug(tc.in), tc.want)
		})
	}
}
