package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree creates files (relative path → content) under a new temp dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// fm wraps YAML in frontmatter fences.
func fm(yaml string) string { return "---\n" + yaml + "---\n" }

// loadTree loads a home; it fails the test on an error that is not Problems.
func loadTree(t *testing.T, home, cwd string) (*Manifest, Problems) {
	t.Helper()
	m, err := Load(Options{Home: home, CWD: cwd})
	if err == nil {
		return m, nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load: %v (not Problems)", err)
	}
	return m, ps
}

// want describes one expected problem: every non-zero field must match.
type want struct {
	line  int
	field string
	msg   string // substring of Msg + "; " + Hint
}

func checkProblems(t *testing.T, got []Problem, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(wants), Problems(got).Error())
		return
	}
	for i, w := range wants {
		p := got[i]
		text := p.Msg + "; " + p.Hint
		if w.line != 0 && p.Line != w.line {
			t.Errorf("problem %d line = %d, want %d: %s", i, p.Line, w.line, p)
		}
		if w.field != "" && p.Field != w.field {
			t.Errorf("problem %d field = %q, want %q: %s", i, p.Field, w.field, p)
		}
		if !strings.Contains(text, w.msg) {
			t.Errorf("problem %d = %q, want it to contain %q", i, text, w.msg)
		}
	}
}

const testHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICI6hGlDCXjpxzhdbdEZUM3HCpzCm9MHmTQ7mTHh00yp"
