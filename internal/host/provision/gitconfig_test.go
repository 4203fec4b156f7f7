package provision

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name, or writes it there with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", file, diff)
	}
}

func TestSpellings(t *testing.T) {
	tests := []struct {
		name     string
		upstream string
		want     []string // "RANK URL"
		err      string
	}{
		{name: "port 22 written", upstream: "ssh://git@git.example.test:22/srv/demo.git", want: []string{
			"0 ssh://git@git.example.test/srv/demo.git",
			"0 ssh://git@git.example.test:22/srv/demo.git",
			"1 git@git.example.test:/srv/demo.git",
			"1 git@git.example.test:srv/demo.git",
			"1 https://git.example.test/srv/demo.git",
			"2 ssh://git@git.example.test/srv/demo",
			"2 ssh://git@git.example.test:22/srv/demo",
			"2 git@git.example.test:/srv/demo",
			"2 git@git.example.test:srv/demo",
			"2 https://git.example.test/srv/demo",
		}},
		{name: "port 22 implied, hosting-service path", upstream: "ssh://git@github.com/acme/app.git", want: []string{
			"0 ssh://git@github.com/acme/app.git",
			"0 ssh://git@github.com:22/acme/app.git",
			"1 git@github.com:/acme/app.git",
			"1 git@github.com:acme/app.git",
			"1 https://github.com/acme/app.git",
			"2 ssh://git@github.com/acme/app",
			"2 ssh://git@github.com:22/acme/app",
			"2 git@github.com:/acme/app",
			"2 git@github.com:acme/app",
			"2 https://github.com/acme/app",
		}},
		{name: "other port: no scp form, .git added", upstream: "ssh://gitea@git.example.test:2222/srv/tools", want: []string{
			"0 ssh://gitea@git.example.test:2222/srv/tools",
			"1 https://git.example.test/srv/tools",
			"2 ssh://gitea@git.example.test:2222/srv/tools.git",
			"2 https://git.example.test/srv/tools.git",
		}},
		{name: "IPv6 in brackets", upstream: "ssh://git@[2001:db8::1]:22/x.git", want: []string{
			"0 ssh://git@[2001:db8::1]/x.git",
			"0 ssh://git@[2001:db8::1]:22/x.git",
			"1 git@[2001:db8::1]:/x.git",
			"1 git@[2001:db8::1]:x.git",
			"1 https://[2001:db8::1]/x.git",
			"2 ssh://git@[2001:db8::1]/x",
			"2 ssh://git@[2001:db8::1]:22/x",
			"2 git@[2001:db8::1]:/x",
			"2 git@[2001:db8::1]:x",
			"2 https://[2001:db8::1]/x",
		}},
		{name: "IPv4 and home-relative path", upstream: "ssh://git@192.0.2.7/~git/r", want: []string{
			"0 ssh://git@192.0.2.7/~git/r",
			"0 ssh://git@192.0.2.7:22/~git/r",
			"1 git@192.0.2.7:/~git/r",
			"1 git@192.0.2.7:~git/r",
			"1 https://192.0.2.7/~git/r",
			"2 ssh://git@192.0.2.7/~git/r.git",
			"2 ssh://git@192.0.2.7:22/~git/r.git",
			"2 git@192.0.2.7:/~git/r.git",
			"2 git@192.0.2.7:~git/r.git",
			"2 https://192.0.2.7/~git/r.git",
		}},
		{name: "a path that is only .git has no stem", upstream: "ssh://git@h:2222/.git", want: []string{
			"0 ssh://git@h:2222/.git",
			"1 https://h/.git",
		}},
		{name: "scp form refused", upstream: "git@github.com:acme/app.git", err: "scp form"},
		{name: "https refused", upstream: "https://github.com/acme/app.git", err: "over SSH only"},
		{name: "password refused", upstream: "ssh://git:pw@h/x.git", err: "password"},
		{name: "no user refused", upstream: "ssh://h/x.git", err: "no user"},
		{name: "query refused", upstream: "ssh://git@h/x.git?a=b", err: "query"},
		{name: "newline refused", upstream: "ssh://git@h/x.git\n[core]", err: "URL contains"},
		{name: "empty", upstream: "", err: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Spellings(tt.upstream)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Spellings(%q) = %v, %v; want an error containing %q", tt.upstream, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, s := range got {
				lines = append(lines, string(rune('0'+s.Rank))+" "+s.URL)
			}
			if diff := cmp.Diff(tt.want, lines); diff != "" {
				t.Errorf("Spellings(%q) (-want +got):\n%s", tt.upstream, diff)
			}
		})
	}
}

// demoRepos are gate repos whose upstreams crowd each other: x.git and x
// on one server, the same path for another user, another port.
var demoRepos = []GateRepo{
	{Name: "tools", URL: "ssh://gitea@git.example.test:2222/srv/tools"},
	{Name: "demo", URL: "ssh://git@git.example.test:22/srv/demo.git"},
	{Name: "demo-bare", URL: "ssh://git@git.example.test/srv/demo"},
	{Name: "demo-bob", URL: "ssh://bob@git.example.test/srv/demo.git"},
}

var demoIdentity = GitIdentity{Name: `Ada "the Countess" \ Lovelace; #1 é`, Email: " ada+$(id)@example.test "}

func TestGitConfigGolden(t *testing.T) {
	text, ambiguous, err := GitConfig(demoIdentity, demoRepos)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "gitconfig.golden", text)
	if want := []string{"https://git.example.test/srv/demo.git"}; !slices.Equal(ambiguous, want) {
		t.Errorf("ambiguous = %q, want %q", ambiguous, want)
	}
}

func TestGitConfigShapes(t *testing.T) {
	tests := []struct {
		name  string
		id    GitIdentity
		repos []GateRepo
		want  string
	}{
		{name: "nothing", want: "# Written by bot-bottle when the bottle started; it is rewritten at every start.\n"},
		{name: "email only", id: GitIdentity{Email: "a@b.test"},
			want: "# Written by bot-bottle when the bottle started; it is rewritten at every start.\n[user]\n\temail = \"a@b.test\"\n"},
		{name: "one repo, another port", repos: []GateRepo{{Name: "t", URL: "ssh://g@h:2222/t"}},
			want: "# Written by bot-bottle when the bottle started; it is rewritten at every start.\n" +
				"[url \"http://git-gate:9420/t.git\"]\n" +
				"\tinsteadOf = \"ssh://g@h:2222/t\"\n\tinsteadOf = \"https://h/t\"\n" +
				"\tinsteadOf = \"ssh://g@h:2222/t.git\"\n\tinsteadOf = \"https://h/t.git\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := GitConfig(tt.id, tt.repos)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestGitConfigRefuses(t *testing.T) {
	repo := GateRepo{Name: "demo", URL: "ssh://git@h/x.git"}
	tests := []struct {
		name  string
		id    GitIdentity
		repos []GateRepo
		err   string
	}{
		{name: "newline in the name starts a section", id: GitIdentity{Name: "Ada\n[core]\n\tsshCommand = touch /tmp/x"}, err: "user.name: \"Ada\\n[core]\\n\\tsshCommand = touch /tmp/x\" contains a line break"},
		{name: "carriage return in the email", id: GitIdentity{Email: "a@b\rc"}, err: "user.email: \"a@b\\rc\" contains a line break"},
		{name: "NUL", id: GitIdentity{Name: "a\x00b"}, err: "contains a NUL byte"},
		{name: "escape sequence", id: GitIdentity{Name: "a\x1b[31mb"}, err: "contains a control character"},
		{name: "DEL", id: GitIdentity{Name: "a\x7f"}, err: "contains a control character"},
		{name: "C1 control", id: GitIdentity{Name: "a\u0085"}, err: "contains a control character"},
		{name: "invalid UTF-8", id: GitIdentity{Name: "a\xff"}, err: "not valid UTF-8"},
		{name: "bad repo name", repos: []GateRepo{{Name: "a b", URL: repo.URL}}, err: "gate repo: repo name"},
		{name: "repo name with .git", repos: []GateRepo{{Name: "x.git", URL: repo.URL}}, err: "ends in \".git\""},
		{name: "repo twice", repos: []GateRepo{repo, {Name: "Demo", URL: "ssh://git@h/y.git"}}, err: "given twice"},
		{name: "same upstream twice", repos: []GateRepo{repo, {Name: "copy", URL: "ssh://git@h:22/x.git"}}, err: `gate repos "copy" and "demo" have the same upstream ssh://git@h/x.git`},
		{name: "bad upstream", repos: []GateRepo{{Name: "a", URL: "git@h:x.git"}}, err: `gate repo "a": URL is in scp form`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := GitConfig(tt.id, tt.repos)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("GitConfig = %q, %v; want an error containing %q", got, err, tt.err)
			}
		})
	}
}

// TestGitReadsTheConfig hands the golden configuration to the real git:
// the identity reads back exactly, every spelling of every upstream is
// rewritten to its repo's gate URL (or, shared by two, left alone), and
// URLs that are not an upstream are not rewritten.
func TestGitReadsTheConfig(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	text, ambiguous, err := GitConfig(demoIdentity, demoRepos)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gitconfig")
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, args...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + cfg, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSuffix(string(out), "\n")
	}
	if got := git("config", "--global", "user.name"); got != demoIdentity.Name {
		t.Errorf("user.name = %q, want %q", got, demoIdentity.Name)
	}
	if got := git("config", "--global", "user.email"); got != demoIdentity.Email {
		t.Errorf("user.email = %q, want %q", got, demoIdentity.Email)
	}
	git("init", "-q")
	git("remote", "add", "origin", "ssh://nobody@nowhere.test/none")
	getURL := func(url string) string {
		git("remote", "set-url", "origin", url)
		return git("remote", "get-url", "origin")
	}
	for _, r := range demoRepos {
		sp, err := Spellings(r.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := getURL(r.URL); got != GateURL(r.Name) {
			t.Errorf("%s's upstream %s → %s, want %s", r.Name, r.URL, got, GateURL(r.Name))
		}
		for _, s := range sp {
			want := GateURL(r.Name)
			if owner := ownerOf(t, s.URL); owner == "" {
				want = s.URL
			} else if owner != r.Name {
				want = GateURL(owner)
			}
			if got := getURL(s.URL); got != want {
				t.Errorf("%s: %s → %s, want %s", r.Name, s.URL, got, want)
			}
			if got, want := getURL(s.URL+"/"), want+"/"; got != want {
				t.Errorf("%s: %s/ → %s, want %s", r.Name, s.URL, got, want)
			}
		}
	}
	for _, url := range append([]string{
		"ssh://git@elsewhere.test/srv/demo.git",
		"https://git.example.test/srv/other.git",
		"git@git.example.test:srv/other.git",
		"ssh://git@git.example.test:2200/srv/demo.git",
	}, ambiguous...) {
		if got := getURL(url); got != url {
			t.Errorf("%s → %s; it is no gate repo's", url, got)
		}
	}
}

// ownerOf is the repo of demoRepos whose gate URL a spelling should reach:
// the one with the lowest rank for it, or "" when two tie.
func ownerOf(t *testing.T, url string) string {
	t.Helper()
	best, owner, tie := 3, "", false
	for _, r := range demoRepos {
		sp, err := Spellings(r.URL)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sp {
			switch {
			case s.URL != url:
			case s.Rank < best:
				best, owner, tie = s.Rank, r.Name, false
			case s.Rank == best:
				tie = true
			}
		}
	}
	if tie {
		return ""
	}
	return owner
}

func TestGateURL(t *testing.T) {
	if got := GateURL("demo"); got != "http://git-gate:9420/demo.git" {
		t.Errorf("GateURL = %q", got)
	}
}
