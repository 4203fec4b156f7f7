package render

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func TestAgentImage(t *testing.T) {
	userHome := t.TempDir()
	t.Setenv("HOME", userHome)
	dir := t.TempDir()
	dockerfile := filepath.Join(dir, "Dockerfile")
	write(t, dockerfile, "FROM bot-bottle/agent-test:local\nRUN true\n")
	write(t, filepath.Join(userHome, "Dockerfile.mine"), "FROM bot-bottle/agent-test:local\nRUN true\n")
	built := BuiltAgentImage("dev", []byte("FROM bot-bottle/agent-test:local\nRUN true\n"))
	tests := []struct {
		name     string
		provider manifest.Provider
		want     string
		wantErr  string
	}{
		{"claude template", manifest.Provider{Template: "claude"}, "bot-bottle/agent-claude:local", ""},
		{"codex template", manifest.Provider{Template: "codex"}, "bot-bottle/agent-codex:local", ""},
		{"custom image", manifest.Provider{Template: "custom", Image: "registry.example.test/agent:1", Command: []string{"agent"}}, "registry.example.test/agent:1", ""},
		{"custom dockerfile", manifest.Provider{Template: "custom", Dockerfile: dockerfile, Command: []string{"agent"}}, built, ""},
		{"template with a dockerfile", manifest.Provider{Template: "claude", Dockerfile: dockerfile}, built, ""},
		{"dockerfile in the operator's home", manifest.Provider{Template: "custom", Dockerfile: "~/Dockerfile.mine", Command: []string{"agent"}}, built, ""},
		{"missing dockerfile", manifest.Provider{Template: "custom", Dockerfile: filepath.Join(dir, "nope"), Command: []string{"agent"}}, "",
			"agent_provider.dockerfile of bottle dev: open " + filepath.Join(dir, "nope") + ": no such file or directory; point it at the Dockerfile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AgentImage(manifest.Bottle{Name: "dev", Provider: tt.provider})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("AgentImage error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("AgentImage = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestBuiltAgentImage(t *testing.T) {
	tag := regexp.MustCompile(`^bot-bottle/agent-[a-z0-9]+(?:-+[a-z0-9]+)*:[0-9a-f]{12}$`)
	a := BuiltAgentImage("dev", []byte("FROM a\n"))
	if !tag.MatchString(a) || !strings.HasPrefix(a, "bot-bottle/agent-dev:") {
		t.Errorf("BuiltAgentImage = %q", a)
	}
	if again := BuiltAgentImage("dev", []byte("FROM a\n")); again != a {
		t.Errorf("the same Dockerfile gave %q, then %q", a, again)
	}
	if edited := BuiltAgentImage("dev", []byte("FROM a\nRUN x\n")); edited == a {
		t.Error("an edited Dockerfile kept the tag: the bottle would run the old image")
	}
	if other := BuiltAgentImage("ops", []byte("FROM a\n")); other == a {
		t.Error("two bottles share a tag")
	}
	if got := BuiltAgentImage("dev--", []byte("x")); !tag.MatchString(got) {
		t.Errorf("a bottle name ending in '-' gave %q, which Docker refuses", got)
	}
}

// A custom provider's image is the agent's image in compose.yaml.
func TestRenderCustomProviderImage(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id")
	write(t, key, testKey)
	eff := homeWith(t, key, "agent_provider:\n  template: custom\n  image: registry.example.test/team/agent:1.4\n  command: [agent]\n")
	out := filepath.Join(t.TempDir(), "p")
	if _, err := Render(eff, Options{Dir: out, Getenv: env(map[string]string{"EXAMPLE_API_TOKEN": testToken, "JIRA_TICKET": "x"})}); err != nil {
		t.Fatal(err)
	}
	if yml := read(t, out, contract.BottleComposeFile); !strings.Contains(yml, "image: registry.example.test/team/agent:1.4\n") {
		t.Errorf("compose.yaml does not run the custom image:\n%s", yml)
	}
}

// A bottle whose Dockerfile is missing fails to render, naming it, with
// the other problems.
func TestRenderMissingDockerfile(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id")
	write(t, key, testKey)
	eff := homeWith(t, key, "agent_provider:\n  template: custom\n  dockerfile: no-such/Dockerfile\n  command: [agent]\n")
	_, err := Render(eff, Options{Dir: filepath.Join(t.TempDir(), "p"), Getenv: env(map[string]string{"JIRA_TICKET": "x"})})
	if err == nil || !strings.Contains(err.Error(), "no-such/Dockerfile") || !strings.Contains(err.Error(), "$EXAMPLE_API_TOKEN") {
		t.Fatalf("err = %v, want the Dockerfile and the token named", err)
	}
}
