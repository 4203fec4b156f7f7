package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinary builds the real binary and drives it as an operator would:
// argv, environment, exit status and the two streams.
func TestBinary(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH; cannot build the binary")
	}
	bin := filepath.Join(t.TempDir(), "bot-bottle")
	build := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	broken, err := filepath.Abs("../../internal/host/cli/testdata/broken-home")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		env    []string
		code   int
		stdout string
		stderr string
	}{
		{"home from the environment", []string{"validate"}, []string{"BOT_BOTTLE_HOME=" + examples}, 0, "ok: 3 bottles", ""},
		{"flag beats the environment", []string{"--home", examples, "config", "demo"}, []string{"BOT_BOTTLE_HOME=/nonexistent"}, 0, "agent demo", ""},
		{"problems exit 1, one line each", []string{"--home", broken, "validate"}, nil, 1, "", "problems in 7 files"},
		{"usage errors exit 2", []string{"config"}, nil, 2, "", "config takes 1 argument"},
		{"version", []string{"version"}, nil, 0, "contract v1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Dir = t.TempDir()
			cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("want stdout ⊇ %q and stderr ⊇ %q\nstdout:\n%s\nstderr:\n%s", tt.stdout, tt.stderr, stdout.String(), stderr.String())
			}
		})
	}
}
