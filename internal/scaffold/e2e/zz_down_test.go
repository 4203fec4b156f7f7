package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/host/demo"
)

// This file's name sorts after every other test file's: go test runs the
// tests in file order, and this one takes the shared bottles down.

// TestDownLeavesNothingBehind takes both bottles down: no container or
// network of either project is left, no volume was ever made, and what is
// meant to persist (the gate's mirror, the proposal queue, in the project
// directory) is still there. It runs last.
func TestDownLeavesNothingBehind(t *testing.T) {
	a, b := bottles(t)
	// A fetch makes the gate mirror its upstream.
	if r := agent(t, a, "git ls-remote http://git-gate:9420/"+demo.RepoName+".git"); r.Code != 0 {
		t.Fatalf("git ls-remote through the gate: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, bt := range []*demo.Bottle{a, b} {
		if err := bt.Down(context.Background()); err != nil {
			t.Fatalf("down %s: %v", bt.Project, err)
		}
	}
	shared.down.Store(true)
	for _, bt := range []*demo.Bottle{a, b} {
		label := "label=com.docker.compose.project=" + bt.Project
		for _, what := range [][]string{{"ps", "-aq"}, {"network", "ls", "-q"}, {"volume", "ls", "-q"}} {
			if out := strings.TrimSpace(dockerOut(t, nil, append(what, "--filter", label)...)); out != "" {
				t.Errorf("%s: docker %s still lists %s", bt.Project, strings.Join(what, " "), out)
			}
		}
		for _, keep := range []string{"git", "queue", "audit.jsonl"} {
			if _, err := os.Stat(filepath.Join(bt.Dir, keep)); err != nil {
				t.Errorf("%s: %s did not persist: %v", bt.Project, keep, err)
			}
		}
	}
	if entries, err := os.ReadDir(filepath.Join(a.Dir, "git")); err != nil || len(entries) == 0 {
		t.Errorf("the gate's mirror of bottle A is gone (%v, %d entries)", err, len(entries))
	}
	if err := teardown(); err != nil {
		t.Error(err)
	}
}
