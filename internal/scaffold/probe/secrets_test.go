package probe

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const planted = "sk-test-PLANTED-0123456789abcdef"

// A key-shaped PEM block and the bare marker as TLS libraries carry it.
var (
	pemKey = "-----BEGIN OPENSSH PRIVATE KEY-----\n" +
		"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n" +
		"-----END OPENSSH PRIVATE KEY-----\n"
	bareMarker = "\x00-----BEGIN PRIVATE KEY-----\x00-----END PRIVATE KEY-----\x00"
)

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tree builds a root with one clean file plus the named extra files.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	write(t, filepath.Join(root, "etc/clean.txt"), "nothing to see\n")
	for name, data := range files {
		write(t, filepath.Join(root, name), data)
	}
	return root
}

func TestSecrets(t *testing.T) {
	// A fake /proc: pid 100 leaks the value in its environment and command
	// line, pid 101 is clean, "self" is not a pid.
	proc := t.TempDir()
	write(t, filepath.Join(proc, "100/environ"), "PATH=/bin\x00TOKEN="+planted+"\x00")
	write(t, filepath.Join(proc, "100/cmdline"), "sh\x00-c\x00echo "+planted+"\x00")
	write(t, filepath.Join(proc, "100/comm"), "sh\n")
	write(t, filepath.Join(proc, "101/environ"), "PATH=/bin\x00")
	write(t, filepath.Join(proc, "101/cmdline"), "sleep\x0030\x00")
	write(t, filepath.Join(proc, "self/environ"), "TOKEN="+planted+"\x00")
	emptyProc := t.TempDir()

	// A value across the scanner's chunk boundary.
	straddle := strings.Repeat("\x00", 256<<10-5) + planted

	tests := []struct {
		name     string
		root     string
		environ  []string
		stdin    string
		args     []string
		code     int
		lines    []string // each must appear in stdout
		absent   []string // none may appear in stdout
		summary  string
		skipLine string
	}{
		{name: "clean tree", root: tree(t, nil), args: []string{"--value", planted, "--proc", emptyProc},
			code: ExitOK, summary: "searched 1 files, 0 processes: 0 findings"},
		{name: "planted in a nested file", root: tree(t, map[string]string{"home/agent/.config/app.json": `{"key":"` + planted + `"}`}),
			args: []string{"--value", planted, "--proc", emptyProc}, code: ExitFail,
			lines: []string{"found value #1 in file {root}/home/agent/.config/app.json"}, summary: "searched 2 files, 0 processes: 1 findings"},
		{name: "second value named by number", root: tree(t, map[string]string{"a.txt": "x" + planted + "x"}),
			args: []string{"--value", "other-value", "--value", planted, "--proc", emptyProc}, code: ExitFail,
			lines: []string{"found value #2 in file {root}/a.txt"}, absent: []string{"value #1"}},
		{name: "across a chunk boundary", root: tree(t, map[string]string{"blob.bin": straddle}),
			args: []string{"--value", planted, "--proc", emptyProc}, code: ExitFail,
			lines: []string{"found value #1 in file {root}/blob.bin"}},
		{name: "proc, sys and dev under root are skipped", root: tree(t, map[string]string{
			"proc/1/environ": planted, "sys/kernel/x": planted, "dev/shm/x": planted}),
			args: []string{"--value", planted, "--proc", emptyProc}, code: ExitOK, summary: "searched 1 files, 0 processes: 0 findings"},
		{name: "processes: environ and cmdline", root: tree(t, nil), args: []string{"--value", planted, "--proc", proc}, code: ExitFail,
			lines:  []string{"found value #1 in pid 100 (sh) environ TOKEN", "found value #1 in pid 100 (sh) cmdline argument 2"},
			absent: []string{"pid 101", "self"}, summary: "searched 1 files, 2 processes: 2 findings"},
		{name: "own environment", root: tree(t, nil), environ: []string{"HOME=/home/agent", "API_TOKEN=" + planted},
			args: []string{"--value", planted, "--proc", emptyProc}, code: ExitFail,
			lines: []string{"found value #1 in own environment variable API_TOKEN"}, absent: []string{"HOME"}},
		{name: "values from standard input", root: tree(t, map[string]string{"x": planted}), stdin: "\r\nfirst-value\r\n" + planted + "\n\n",
			args: []string{"--values-file", "-", "--proc", emptyProc}, code: ExitFail,
			lines: []string{"found value #2 in file {root}/x"}},
		{name: "the values file itself is not searched", root: tree(t, map[string]string{"values.txt": planted + "\n"}),
			args: []string{"--values-file", "{root}/values.txt", "--proc", emptyProc}, code: ExitOK,
			summary: "searched 1 files, 0 processes: 0 findings"},
		{name: "pem key block is found", root: tree(t, map[string]string{"home/agent/.ssh/id_ed25519": pemKey}),
			args: []string{"--pem", "--proc", emptyProc}, code: ExitFail,
			lines: []string{"found a PEM private key in file {root}/home/agent/.ssh/id_ed25519"}},
		{name: "pem key with headers and CRLF", root: tree(t, map[string]string{"k.pem": strings.ReplaceAll(
			"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123\n\nMIIEowIBAAKCAQEAx0123456789\n", "\n", "\r\n")}),
			args: []string{"--pem", "--proc", emptyProc}, code: ExitFail, lines: []string{"found a PEM private key in file {root}/k.pem"}},
		{name: "a key block inside an ELF library is a self-test vector, not a finding",
			root: tree(t, map[string]string{"lib/libgnutls.so.30": "\x7fELF\x02\x01\x00" + bareMarker + pemKey}),
			args: []string{"--pem", "--proc", emptyProc}, code: ExitOK, summary: "searched 2 files, 0 processes: 0 findings"},
		{name: "values are still searched in ELF files", root: tree(t, map[string]string{"usr/local/bin/tool": "\x7fELF" + planted}),
			args: []string{"--pem", "--value", planted, "--proc", emptyProc}, code: ExitFail,
			lines: []string{"found value #1 in file {root}/usr/local/bin/tool"}},
		{name: "a bare marker in a library is not a key", root: tree(t, map[string]string{"lib/libtls.so.30": "\x7fELF" + bareMarker}),
			args: []string{"--pem", "--proc", emptyProc}, code: ExitOK, summary: "searched 2 files, 0 processes: 0 findings"},
		{name: "a key-sized file is skipped and counted", root: func() string {
			root := tree(t, nil)
			f, err := os.Create(filepath.Join(root, "huge.img"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(maxFileSize + 1); err != nil { // sparse: costs no disk
				t.Fatal(err)
			}
			return root
		}(), args: []string{"--value", planted, "--proc", emptyProc}, code: ExitOK,
			skipLine: "skipped 0 unreadable files, 1 files over 64 MiB", summary: "searched 1 files, 0 processes: 0 findings"},
		{name: "symlinks are not followed", root: func() string {
			root := tree(t, map[string]string{"real/x": "clean"})
			outside := tree(t, map[string]string{"leak": planted})
			if err := os.Symlink(filepath.Join(outside, "leak"), filepath.Join(root, "link")); err != nil {
				t.Fatal(err)
			}
			return root
		}(), args: []string{"--value", planted, "--proc", emptyProc}, code: ExitOK},
		{name: "nothing to look for", root: tree(t, nil), args: nil, code: ExitUsage},
		{name: "value too short", root: tree(t, nil), args: []string{"--value", "abc"}, code: ExitUsage},
		{name: "stray argument", root: tree(t, nil), args: []string{planted}, code: ExitUsage},
		{name: "missing values file", root: tree(t, nil), args: []string{"--values-file", "/nonexistent/v"}, code: ExitUsage},
		{name: "missing root", root: "/nonexistent/root", args: []string{"--pem"}, code: ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"secrets", "--root", tt.root}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "{root}", tt.root))
			}
			r := run(t, tt.environ, tt.stdin, args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, planted) {
				t.Errorf("output holds the secret value:\n%s%s", r.stdout, r.stderr)
			}
			for _, l := range tt.lines {
				if l = strings.ReplaceAll(l, "{root}", tt.root); !strings.Contains(r.stdout, l+"\n") {
					t.Errorf("stdout lacks line %q:\n%s", l, r.stdout)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(r.stdout, a) {
					t.Errorf("stdout holds %q:\n%s", a, r.stdout)
				}
			}
			if tt.code == ExitUsage {
				return
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			last := lines[len(lines)-1]
			if !regexp.MustCompile(`^searched \d+ files, \d+ processes: \d+ findings$`).MatchString(last) {
				t.Errorf("last line %q is not the summary", last)
			}
			if tt.summary != "" && last != tt.summary {
				t.Errorf("summary %q, want %q", last, tt.summary)
			}
			if tt.skipLine != "" && !strings.Contains(r.stdout, tt.skipLine) {
				t.Errorf("stdout lacks %q:\n%s", tt.skipLine, r.stdout)
			}
		})
	}
}

func TestSecretsUnreadableFileIsCountedNotFatal(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads a mode-000 file anyway; this needs an unprivileged user")
	}
	root := tree(t, map[string]string{"locked": planted})
	if err := os.Chmod(filepath.Join(root, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "", "secrets", "--root", root, "--value", planted, "--proc", t.TempDir())
	if r.code != ExitOK || !strings.Contains(r.stdout, "skipped 1 unreadable files") {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
}

// TestSecretsRealProc plants the value in a real child's environment and
// finds it through the real /proc.
func TestSecretsRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sleep", "30")
	cmd.Env = []string{"LEAKED_TOKEN=" + planted}
	if err := cmd.Start(); err != nil {
		t.Skipf("start sleep: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := strconv.Itoa(cmd.Process.Pid)
	// exec replaces the forked child's environment; wait until /proc shows it.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile("/proc/" + pid + "/environ"); strings.Contains(string(b), "LEAKED_TOKEN") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := run(t, nil, planted+"\n", "secrets", "--root", t.TempDir(), "--values-file", "-")
	want := "found value #1 in pid " + pid + " (sleep) environ LEAKED_TOKEN"
	if r.code != ExitFail || !strings.Contains(r.stdout, want) {
		t.Errorf("exit %d, want %d and %q:\n%s%s", r.code, ExitFail, want, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, planted) {
		t.Errorf("output holds the value")
	}
}

func TestParseValues(t *testing.T) {
	got := strings.Join(parseValues([]byte("a\r\n\nbb\ncc\r")), "|")
	if got != "a|bb|cc" {
		t.Errorf("parseValues = %q", got)
	}
}

// FuzzMatcherChunks: scanning in chunks finds exactly what one pass over
// the whole input finds, wherever the value sits.
func FuzzMatcherChunks(f *testing.F) {
	f.Add([]byte("prefix"), 100, true)
	f.Add([]byte{}, 256<<10-3, false)
	f.Fuzz(func(t *testing.T, filler []byte, at int, pem bool) {
		if at < 0 || at > 600<<10 {
			return
		}
		data := make([]byte, at)
		for i := range data {
			if len(filler) > 0 {
				data[i] = filler[i%len(filler)]
			}
		}
		if strings.HasPrefix(string(data), "\x7fELF") {
			return // ELF files are not searched for keys, by design
		}
		data = append(data, planted...)
		if pem {
			data = append(data, pemKey...)
		}
		m := newMatcher([]string{planted}, true)
		whole := strings.Join(m.matches(data), ",")
		chunked, err := m.scan(strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(chunked, ","); got != whole {
			t.Fatalf("chunked scan found %q, one pass %q", got, whole)
		}
		if !strings.Contains(whole, "value #1") {
			t.Fatalf("value not found at %d", at)
		}
	})
}
