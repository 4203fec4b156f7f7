package lifecycle

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// TestResumeAsksAgainForApprovedCredentials: a credential approved while
// the bottle ran is deleted when it stops; resuming asks for it again
// (and only for it), or refuses naming the route.
func TestResumeAsksAgainForApprovedCredentials(t *testing.T) {
	home := t.TempDir()
	dir := testutil.BottleDir(t, home, "dev-a1b2c")
	for _, d := range []string{string(dir), dir.Path(contract.BottleSecretsDir), dir.Path("config")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	routes := "version: 1\nroutes:\n" +
		"- host: api.github.com\n  auth: {scheme: Bearer, secret: cred_api_github_com}\n" +
		"- host: api.example.test\n  auth: {scheme: Bearer, secret: example_token}\n" +
		"- host: open.example.test\n"
	if err := os.WriteFile(dir.RoutesFile(), []byte(routes), 0o600); err != nil {
		t.Fatal(err)
	}
	// example_token comes from the manifest: RenewSecrets wrote it.
	if err := os.WriteFile(dir.SecretFile("example_token"), []byte("from-the-host"), 0o400); err != nil {
		t.Fatal(err)
	}

	err := askApproved(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "api.github.com") || !strings.Contains(err.Error(), "terminal") {
		t.Fatalf("without a way to ask: %v; want an error naming the route and the fix", err)
	}
	if err := askApproved(dir, func(string, contract.AuthScheme) ([]byte, error) { return nil, errors.New("no tty") }); err == nil {
		t.Fatal("a failed question resumed the bottle")
	}

	var asked []string
	err = askApproved(dir, func(host string, scheme contract.AuthScheme) ([]byte, error) {
		asked = append(asked, string(scheme)+" "+host)
		return []byte("typed-again"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(asked, ",") != "Bearer api.github.com" {
		t.Errorf("asked for %q; want only the approved credential", asked)
	}
	got, err := os.ReadFile(dir.SecretFile("cred_api_github_com"))
	if err != nil || string(got) != "typed-again" {
		t.Fatalf("secret file: %q, %v", got, err)
	}
	if fi, _ := os.Stat(dir.SecretFile("cred_api_github_com")); fi.Mode().Perm() != 0o400 {
		t.Errorf("secret file mode %v, want 0400", fi.Mode().Perm())
	}
	asked = nil
	if err := askApproved(dir, func(host string, _ contract.AuthScheme) ([]byte, error) {
		asked = append(asked, host)
		return []byte("x"), nil
	}); err != nil || len(asked) != 0 {
		t.Errorf("with every secret present it asked %q (%v)", asked, err)
	}
}
