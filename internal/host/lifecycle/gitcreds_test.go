package lifecycle

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitIn runs the real git in dir.
func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// Review item (b): `up --cwd` copies .git/config into the agent. A remote
// (or push URL, or url.insteadOf, or a submodule's remote) written with a
// token in it is refused, naming where, with the token hidden; remotes
// without credentials (https, ssh with a user name, scp-like) pass.
func TestWorkspaceCredentialsInGitConfigAreRefused(t *testing.T) {
	const token = "ghp_s3cr3tT0kenValue"
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string // "" none: accepted
	}{
		{"clean remotes", func(t *testing.T, dir string) {
			gitIn(t, dir, "remote", "add", "origin", "https://github.com/acme/app.git")
			gitIn(t, dir, "remote", "add", "ssh", "ssh://git@github.com/acme/app.git")
			gitIn(t, dir, "remote", "add", "scp", "git@github.com:acme/app.git")
		}, nil},
		{"user and token in a remote", func(t *testing.T, dir string) {
			gitIn(t, dir, "remote", "add", "origin", "https://bot:"+token+"@github.com/acme/app.git")
		}, []string{`.git/config:`, `[remote "origin"] https://***@github.com/acme/app.git`}},
		{"token as the user name", func(t *testing.T, dir string) {
			gitIn(t, dir, "remote", "add", "origin", "https://"+token+"@github.com/acme/app.git")
		}, []string{`[remote "origin"] https://***@github.com/acme/app.git`}},
		{"push URL", func(t *testing.T, dir string) {
			gitIn(t, dir, "remote", "add", "origin", "https://github.com/acme/app.git")
			gitIn(t, dir, "remote", "set-url", "--push", "origin", "https://x:"+token+"@github.com/acme/app.git")
		}, []string{`[remote "origin"] https://***@github.com/acme/app.git`}},
		{"insteadOf", func(t *testing.T, dir string) {
			gitIn(t, dir, "config", "url.https://x:"+token+"@github.com/.insteadOf", "https://github.com/")
		}, []string{`[url "https://***@github.com/"]`}},
		{"an unencoded @ in the password", func(t *testing.T, dir string) {
			gitIn(t, dir, "remote", "add", "origin", "https://bot:"+token+"@x@github.com/acme/app.git")
		}, []string{`[remote "origin"] https://***@github.com/acme/app.git`}},
		{"password on ssh", func(t *testing.T, dir string) {
			gitIn(t, dir, "remote", "add", "origin", "ssh://git:"+token+"@example.test/app.git")
		}, []string{`ssh://***@example.test/app.git`}},
		{"a submodule's config", func(t *testing.T, dir string) {
			sub := filepath.Join(dir, ".git", "modules", "lib")
			if err := os.MkdirAll(sub, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(sub, "config"), []byte("[remote \"origin\"]\n\turl = https://u:"+token+"@git.example.test/lib.git\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{filepath.Join(".git", "modules", "lib", "config") + ":2: [remote \"origin\"] https://***@git.example.test/lib.git"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			gitIn(t, dir, "init", "-q")
			tt.setup(t, dir)
			err := CheckWorkspaceCredentials(dir)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("a credential in the workspace's git config was accepted")
			}
			msg := err.Error()
			if strings.Contains(msg, token) || strings.Contains(msg, "@x@") {
				t.Fatalf("the error holds the token: %s", msg)
			}
			for _, want := range append(tt.want, "git remote set-url", "or run without --cwd") {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
		})
	}
}

// FuzzConfigCredentials: whatever a git config holds, reading it does not
// panic, and what it reports shows no URL's user info.
func FuzzConfigCredentials(f *testing.F) {
	f.Add([]byte("[remote \"origin\"]\n\turl = https://u:p@h/x.git\n"))
	f.Add([]byte("[url \"https://t@h/\"]\n\tinsteadOf = https://h/\n"))
	f.Add([]byte("url=ssh://a:b@c https://d@e/ \"http://f:g@h\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, line := range configCredentials("f", data) {
			for _, m := range urlWithUserinfo.FindAllString(line, -1) {
				_, rest, _ := strings.Cut(m, "://")
				if userinfo, _, _ := strings.Cut(rest, "@"); userinfo != "***" {
					t.Fatalf("reported user info %q in %q", userinfo, line)
				}
			}
		}
	})
}
