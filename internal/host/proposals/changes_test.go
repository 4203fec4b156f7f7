package proposals

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// fakeBottles records what an approval asked of the bottle.
type fakeBottles struct {
	err        error
	rebuilt    []string
	creds      map[string]string
	dockerfile string // agent.Dockerfile as RebuildAgent saw it
	dir        contract.BottleDir
}

func (f *fakeBottles) RebuildAgent(_ context.Context, slug string) error {
	f.rebuilt = append(f.rebuilt, slug)
	data, _ := os.ReadFile(f.dir.Path(contract.BottleAgentDockerfile))
	f.dockerfile = string(data)
	return f.err
}

func (f *fakeBottles) AddCredential(_ context.Context, slug, secret string, value []byte) error {
	if f.creds == nil {
		f.creds = map[string]string{}
	}
	f.creds[secret] = string(value)
	return f.err
}

// startedBottle is setup with metadata, as up leaves it.
func startedBottle(t *testing.T) (*Operator, *fakeBottles) {
	t.Helper()
	o, _ := setup(t, startRoutes)
	d := testutil.BottleDir(t, o.Home, "dev")
	meta := &bottle.Metadata{Version: bottle.MetadataVersion, Slug: "dev", Agent: "dev", ComposeProject: "bot-bottle-dev",
		Image: "bot-bottle/agent-test:local", AgentUser: bottle.User{UID: 1000, GID: 1000, Home: "/home/agent"},
		StartedAt: time.Now().UTC(), State: bottle.StateRunning}
	if err := bottle.Write(d, meta); err != nil {
		t.Fatal(err)
	}
	f := &fakeBottles{dir: d}
	o.Bottles = f
	o.Credential = func(host string, scheme contract.AuthScheme) ([]byte, error) { return []byte("s3cret-" + host), nil }
	return o, f
}

// TestCapabilityRebuildsTheAgentEndingAsTheAgent: approving writes the
// override (FROM the bottle's image, the packages as root, the agent's
// lines, back to the agent's user), shows it as a diff first, and has the
// agent rebuilt; a second approval appends to it.
func TestCapabilityRebuildsTheAgentEndingAsTheAgent(t *testing.T) {
	o, f := startedBottle(t)
	id := queueProposal(t, o, contract.ToolCapabilityBlock, `{"apt_packages":["jq"],"dockerfile_lines":["USER 0","RUN touch /opt/x"]}`)
	it, err := o.Find(id)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := o.Preview(it, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ch.Diff, "+ FROM bot-bottle/agent-test:local") || !strings.Contains(ch.Summary, "network access") || ch.NextSteps != "" {
		t.Fatalf("preview: %+v", ch)
	}
	if _, err := o.Approve(context.Background(), id, ""); err != nil {
		t.Fatal(err)
	}
	want := "FROM bot-bottle/agent-test:local\n\n# capability-block " + id + "\nUSER 0\nRUN apt-get update && apt-get install -y --no-install-recommends jq && rm -rf /var/lib/apt/lists/*\nUSER 1000:1000\nUSER 0\nRUN touch /opt/x\nUSER 1000:1000\n"
	if len(f.rebuilt) != 1 || !strings.HasSuffix(f.dockerfile, want) {
		t.Fatalf("rebuilt %v from:\n%s\nwant it to end:\n%s", f.rebuilt, f.dockerfile, want)
	}
	id2 := queueProposal(t, o, contract.ToolCapabilityBlock, `{"dockerfile_lines":["RUN true"]}`)
	if _, err := o.Approve(context.Background(), id2, ""); err != nil {
		t.Fatal(err)
	}
	if strings.Count(f.dockerfile, "FROM ") != 1 || !strings.HasSuffix(f.dockerfile, "RUN true\nUSER 1000:1000\n") || !strings.Contains(f.dockerfile, want) {
		t.Errorf("the second approval did not append:\n%s", f.dockerfile)
	}
}

// TestCapabilityThatFailsToBuildChangesNothing: the override is put back
// and the proposal stays pending.
func TestCapabilityThatFailsToBuildChangesNothing(t *testing.T) {
	o, f := startedBottle(t)
	f.err = errors.New("build failed: RUN returned 1")
	id := queueProposal(t, o, contract.ToolCapabilityBlock, `{"dockerfile_lines":["RUN false"]}`)
	if _, err := o.Approve(context.Background(), id, ""); err == nil || !strings.Contains(err.Error(), "stays pending") {
		t.Fatalf("approve: %v", err)
	}
	if _, err := os.Stat(f.dir.Path(contract.BottleAgentDockerfile)); !os.IsNotExist(err) {
		t.Errorf("the override is left behind: %v", err)
	}
	if it, _ := o.Find(id); it.Response != nil {
		t.Error("the proposal was decided")
	}
}

// TestCredentialGoesToEgressNeverToTheFiles: the value asked for reaches
// the bottle's secret only; the routes file names the secret, on the
// route's existing limits, and the summary says where it will be sent.
func TestCredentialGoesToEgressNeverToTheFiles(t *testing.T) {
	o, f := startedBottle(t)
	id := queueProposal(t, o, contract.ToolCredBlock, `{"host":"api.example.test","scheme":"Bearer","purpose":"read issues"}`)
	it, _ := o.Find(id)
	ch, err := o.Preview(it, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ch.Summary, "on paths /v1/, with GET") || !strings.Contains(ch.Summary, "read issues") {
		t.Errorf("summary: %s", ch.Summary)
	}
	d, err := o.Approve(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	secret := CredentialSecretName("api.example.test")
	if f.creds[secret] != "s3cret-api.example.test" {
		t.Fatalf("egress got %v", f.creds)
	}
	rf := routesNow(t, o)
	if a := rf.Routes[0].Auth; a == nil || a.Secret != secret || a.Scheme != contract.AuthBearer || rf.Routes[0].Methods[0] != "GET" {
		t.Errorf("route after approval: %+v", rf.Routes[0])
	}
	data, _ := os.ReadFile(testutil.BottleDir(t, o.Home, "dev").RoutesFile())
	if strings.Contains(string(data), "s3cret") || strings.Contains(d.Response.AppliedDiff, "s3cret") {
		t.Error("the value reached the routes file or the agent's answer")
	}
}

func TestCredentialThatEgressRefusesChangesNothing(t *testing.T) {
	o, f := startedBottle(t)
	f.err = errors.New("egress did not come back")
	before, _ := os.ReadFile(testutil.BottleDir(t, o.Home, "dev").RoutesFile())
	id := queueProposal(t, o, contract.ToolCredBlock, `{"host":"new.example.test","scheme":"token","purpose":"p"}`)
	if _, err := o.Approve(context.Background(), id, ""); err == nil {
		t.Fatal("approved")
	}
	after, _ := os.ReadFile(testutil.BottleDir(t, o.Home, "dev").RoutesFile())
	if string(after) != string(before) {
		t.Errorf("routes changed:\n%s", after)
	}
}

func TestCredentialSecretName(t *testing.T) {
	for host, want := range map[string]string{"api.github.com": "cred_api_github_com", "API.Example.TEST": "cred_api_example_test", "*.corp.test": "cred___corp_test"} {
		got := CredentialSecretName(host)
		if got != want || contract.ValidSecretName(got) != nil {
			t.Errorf("CredentialSecretName(%q) = %q (%v), want %q", host, got, contract.ValidSecretName(got), want)
		}
	}
}
