package contract_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// TestStateBottleDirStaysUnderState: a slug that is not valid (a path, an
// upper-case or empty name) never becomes a directory, so no slug read
// from a proposal or a directory listing can point outside home/state.
func TestStateBottleDirStaysUnderState(t *testing.T) {
	home := filepath.Join(t.TempDir(), ".bot-bottle")
	for _, tc := range []struct {
		slug string
		ok   bool
	}{
		{"dev", true},
		{"dev-a1b2c", true},
		{"", false},
		{"..", false},
		{"../x", false},
		{"a/b", false},
		{"Dev", false},
		{"dev-", false},
		{strings.Repeat("a", contract.MaxSlugLen+1), false},
	} {
		d, err := contract.StateBottleDir(home, tc.slug)
		if (err == nil) != tc.ok {
			t.Errorf("StateBottleDir(%q) err = %v, want ok=%v", tc.slug, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		if filepath.Dir(string(d)) != contract.StateBottlesDir(home) {
			t.Errorf("StateBottleDir(%q) = %s, not directly under %s", tc.slug, d, contract.StateBottlesDir(home))
		}
	}
}

// TestBottleNamesStayInside: every name in the layout is a clean relative
// path inside the directory, and the accessors give the named paths.
func TestBottleNamesStayInside(t *testing.T) {
	d := contract.BottleDir(filepath.Join(t.TempDir(), "b"))
	for _, name := range []string{contract.BottleComposeFile, contract.BottleReadmeFile, contract.BottleConfigDir,
		contract.BottleRoutesFile, contract.BottleGateFile, contract.BottleCACertFile, contract.BottleUpstreamCAFile, contract.BottleSecretsDir,
		contract.BottleQueueDir, contract.BottleAuditFile, contract.BottleGitDataDir, contract.BottleAgentEnvFile,
		contract.BottleEgressPIDFile, contract.BottleMetadataFile, contract.BottleAgentDockerfile} {
		rel, err := filepath.Rel(string(d), d.Path(name))
		if filepath.IsAbs(name) || err != nil || rel != filepath.FromSlash(name) || rel == "." || strings.HasPrefix(rel, "..") {
			t.Errorf("layout name %q is not a clean path inside the bottle directory (rel %q)", name, rel)
		}
	}
	for _, c := range []struct{ got, want string }{
		{d.RoutesFile(), d.Path(contract.BottleRoutesFile)},
		{d.GateFile(), d.Path(contract.BottleGateFile)},
		{d.QueueDir(), d.Path(contract.BottleQueueDir)},
		{d.AuditFile(), d.Path(contract.BottleAuditFile)},
		{d.SecretFile("api_token"), filepath.Join(d.Path(contract.BottleSecretsDir), "api_token")},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}
