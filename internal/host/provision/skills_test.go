package provision

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolveSkills(t *testing.T) {
	bb, home := t.TempDir(), t.TempDir()
	mk := func(dir string) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk(filepath.Join(bb, "skills", "both"))
	mk(filepath.Join(home, ".claude", "skills", "both"))
	mk(filepath.Join(home, ".claude", "skills", "claude-only"))
	mk(filepath.Join(bb, "skills", "mine"))
	if err := os.WriteFile(filepath.Join(bb, "skills", "a-file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(bb, "skills", "mine"), filepath.Join(home, ".claude", "skills", "linked")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		names []string
		want  []Skill
		errs  []string
	}{
		{name: "none", names: nil},
		{name: "the bot-bottle home first", names: []string{"both", "claude-only", "mine"}, want: []Skill{
			{"both", filepath.Join(bb, "skills", "both")},
			{"claude-only", filepath.Join(home, ".claude", "skills", "claude-only")},
			{"mine", filepath.Join(bb, "skills", "mine")},
		}},
		{name: "a symlinked skill directory", names: []string{"linked"}, want: []Skill{{"linked", filepath.Join(home, ".claude", "skills", "linked")}}},
		{name: "named twice, copied once", names: []string{"mine", "mine"}, want: []Skill{{"mine", filepath.Join(bb, "skills", "mine")}}},
		{name: "every missing skill names every place looked", names: []string{"gone", "mine", "lost"}, errs: []string{
			fmt.Sprintf(`skill "gone" not found: looked in %s and %s`, filepath.Join(bb, "skills", "gone"), filepath.Join(home, ".claude", "skills", "gone")),
			fmt.Sprintf(`skill "lost" not found: looked in %s and %s`, filepath.Join(bb, "skills", "lost"), filepath.Join(home, ".claude", "skills", "lost")),
		}},
		{name: "a file is not a skill", names: []string{"a-file"}, errs: []string{`skill "a-file": ` + filepath.Join(bb, "skills", "a-file") + " is not a directory"}},
		{name: "a path is not a skill name", names: []string{"../../etc"}, errs: []string{`"../../etc" is not a skill name`}},
		{name: "dot-dot", names: []string{".."}, errs: []string{`".." is not a skill name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveSkills(tt.names, bb, home)
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("ResolveSkills = %v; want errors %q", got, tt.errs)
			}
			for _, want := range tt.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// listTar describes every entry of a tar, one line each, without times.
func listTar(t *testing.T, data []byte) string {
	t.Helper()
	var b strings.Builder
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%c %04o %d:%d %s", h.Typeflag, h.Mode, h.Uid, h.Gid, h.Name)
		switch h.Typeflag {
		case tar.TypeSymlink:
			fmt.Fprintf(&b, " -> %s", h.Linkname)
		case tar.TypeReg:
			fmt.Fprintf(&b, " %q", body)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// writeTree creates files (path → content; a content starting with "->"
// is a symlink to the rest) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(data, "->"); ok {
			err = os.Symlink(target, full)
		} else {
			mode := os.FileMode(0o644)
			if strings.HasPrefix(data, "#!") {
				mode = 0o700
			}
			err = os.WriteFile(full, []byte(data), mode)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestSkillsTarGolden(t *testing.T) {
	root := t.TempDir()
	writeTree(t, filepath.Join(root, "review"), map[string]string{
		"SKILL.md":             "# review\n",
		"bin/run.sh":           "#!/bin/sh\necho hi\n",
		"run":                  "->bin/run.sh",
		"docs/up":              "->../SKILL.md",
		"docs/self":            "->.",
		"docs/deep/a/b/c.txt":  "c\n",
		"docs/deep/a/b/to-top": "->../../../../SKILL.md",
	})
	writeTree(t, filepath.Join(root, "real-notes"), map[string]string{"SKILL.md": "# notes\n"})
	// The skill directory itself may be a symlink (a skill kept elsewhere).
	if err := os.Symlink("real-notes", filepath.Join(root, "notes")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err := SkillsTar(&buf, []Skill{{"review", filepath.Join(root, "review")}, {"notes", filepath.Join(root, "notes")}}, 1000, 1001, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "skills-tar.golden", listTar(t, buf.Bytes()))
}

func TestSkillsTarRefuses(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		prepare  func(t *testing.T, dir string)
		maxBytes int64
		err      string
	}{
		{name: "a symlink out of the skill", files: map[string]string{"SKILL.md": "x", "creds": "->../../.ssh/id_ed25519"},
			err: `symlink to "../../.ssh/id_ed25519" leads outside the skill`},
		{name: "a symlink to the skill's parent", files: map[string]string{"up": "->.."}, err: `symlink to ".." leads outside the skill`},
		{name: "a nested symlink climbing out", files: map[string]string{"a/b/x": "->../../../x"}, err: `leads outside the skill`},
		{name: "an absolute symlink", files: map[string]string{"passwd": "->/etc/passwd"}, err: `symlink to the absolute path "/etc/passwd"`},
		{name: "an absolute symlink into the skill", prepare: func(t *testing.T, dir string) {
			if err := os.Symlink(filepath.Join(dir, "SKILL.md"), filepath.Join(dir, "abs")); err != nil {
				t.Fatal(err)
			}
		}, err: "symlink to the absolute path"},
		{name: "a named pipe", prepare: func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
				t.Skip("mkfifo:", err)
			}
		}, err: "fifo is a named pipe"},
		{name: "a socket", prepare: func(t *testing.T, dir string) {
			ln, err := net.Listen("unix", filepath.Join(dir, "sock"))
			if err != nil {
				t.Skip("unix socket:", err)
			}
			t.Cleanup(func() { ln.Close() })
		}, err: "sock is a socket"},
		{name: "over the size cap", files: map[string]string{"a": "12345", "b": "123456"}, maxBytes: 10, err: "over the 10-byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "s")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeTree(t, dir, tt.files)
			if tt.prepare != nil {
				tt.prepare(t, dir)
			}
			max := tt.maxBytes
			if max == 0 {
				max = 1 << 20
			}
			var buf bytes.Buffer
			err := SkillsTar(&buf, []Skill{{"s", dir}}, 1000, 1000, max)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("SkillsTar = %v; want an error containing %q", err, tt.err)
			}
			if !strings.HasPrefix(err.Error(), `skill "s": `) {
				t.Errorf("error %q does not name the skill", err)
			}
			if buf.Len() != 0 {
				t.Errorf("SkillsTar wrote %d bytes before refusing", buf.Len())
			}
		})
	}
}

func TestSkillsTarRefusesTooManyEntries(t *testing.T) {
	dir := t.TempDir()
	for i := range MaxSkillEntries {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// MaxSkillEntries files and the directory itself: one too many.
	err := SkillsTar(io.Discard, []Skill{{"many", dir}}, 1000, 1000, 1<<20)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d entries", MaxSkillEntries)) {
		t.Fatalf("SkillsTar = %v; want the entry cap", err)
	}
}

func TestSkillsTarRefusesBadSkillLists(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name   string
		skills []Skill
		err    string
	}{
		{"a name with a slash", []Skill{{"a/b", dir}}, `"a/b" is not a skill name`},
		{"a name twice", []Skill{{"a", dir}, {"a", dir}}, `skill "a" is given twice`},
		{"a missing directory", []Skill{{"a", filepath.Join(dir, "nope")}}, `skill "a": `},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := SkillsTar(io.Discard, tt.skills, 1, 1, 1<<20); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("SkillsTar = %v; want an error containing %q", err, tt.err)
			}
		})
	}
}
