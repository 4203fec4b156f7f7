package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// TestEditsChangeOnlyWhatTheySay: the edited file loads (as docker compose
// would) to the same project but for the one change, keeps its relative
// paths and "$$" escapes, and an edit made twice changes nothing more.
func TestEditsChangeOnlyWhatTheySay(t *testing.T) {
	s := everything()
	dir := writeProjectDir(t, s)
	path := filepath.Join(dir, contract.BottleComposeFile)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before := load(t, dir)

	edited, err := SetServiceImage(orig, AgentService, "bot-bottle/agent-demo-abcde:2")
	if err != nil {
		t.Fatal(err)
	}
	if edited, err = AddServiceSecret(edited, contract.EgressHost, "cred_api_example_test"); err != nil {
		t.Fatal(err)
	}
	again, err := AddServiceSecret(edited, contract.EgressHost, "cred_api_example_test")
	if err != nil || string(again) != string(edited) {
		t.Fatalf("adding the secret twice changed the file again (%v)", err)
	}
	if !strings.HasPrefix(string(edited), header) || !strings.Contains(string(edited), "$${CENTS}") || !strings.Contains(string(edited), "file: ./secrets/cred_api_example_test") {
		t.Fatalf("the edit lost the header, an escape or a relative path:\n%s", edited)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "cred_api_example_test"), []byte("x"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	after := load(t, dir)

	if got := after.Services[AgentService].Image; got != "bot-bottle/agent-demo-abcde:2" {
		t.Errorf("agent image %q", got)
	}
	var names []string
	for _, r := range after.Services[contract.EgressHost].Secrets {
		names = append(names, r.Source)
	}
	if !strings.Contains(strings.Join(names, ","), "cred_api_example_test") {
		t.Errorf("egress secrets %v", names)
	}
	if _, ok := after.Secrets["cred_api_example_test"]; !ok {
		t.Error("the secret is not declared at the top level")
	}
	// Everything else is as it was.
	agent, egress := after.Services[AgentService], after.Services[contract.EgressHost]
	agent.Image = before.Services[AgentService].Image
	egress.Secrets = before.Services[contract.EgressHost].Secrets
	after.Services[AgentService], after.Services[contract.EgressHost] = agent, egress
	delete(after.Secrets, "cred_api_example_test")
	if diff := cmp.Diff(before.Services, after.Services); diff != "" {
		t.Errorf("services changed beyond the edits (-before +after):\n%s", diff)
	}
	dockerComposeConfig(t, dir)
}

func TestEditsRefuse(t *testing.T) {
	data := generate(t, everything())
	for name, edit := range map[string]func() error{
		"a secret for the agent": func() error { _, err := AddServiceSecret(data, AgentService, "x"); return err },
		"a bad secret name":      func() error { _, err := AddServiceSecret(data, contract.EgressHost, "../ca_key"); return err },
		"no such service":        func() error { _, err := SetServiceImage(data, "nope", "a:b"); return err },
		"a bad image":            func() error { _, err := SetServiceImage(data, AgentService, "-rm"); return err },
		"not a compose file":     func() error { _, err := SetServiceImage([]byte("- a\n"), AgentService, "a:b"); return err },
	} {
		if edit() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
