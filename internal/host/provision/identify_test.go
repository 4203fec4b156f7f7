package provision

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseIdentity(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want Agent
		err  string
	}{
		{name: "test agent image",
			out: "uid=1000\ngid=1000\nuser=agent\nhome=/home/agent\npasswd=agent:x:1000:1000:agent:/home/agent:/bin/sh\n" +
				"tool.tar=tar\ntool.wget=wget\ntool.git=/usr/bin/git\ntool.probe=/usr/local/bin/probe\n",
			want: Agent{UID: 1000, GID: 1000, Name: "agent", Home: "/home/agent",
				Tools: map[string]string{"tar": "tar", "wget": "wget", "git": "/usr/bin/git", "probe": "/usr/local/bin/probe"}}},
		{name: "node image, no HOME: the passwd entry's",
			out: "uid=1000\ngid=1000\nuser=node\nhome=\npasswd=node:x:1000:1000::/home/node:/bin/bash\ntool.update-ca-certificates=/usr/sbin/update-ca-certificates\ntool.curl=/usr/bin/curl\n",
			want: Agent{UID: 1000, GID: 1000, Name: "node", Home: "/home/node",
				Tools: map[string]string{"update-ca-certificates": "/usr/sbin/update-ca-certificates", "curl": "/usr/bin/curl"}}},
		{name: "HOME=/ falls back to passwd",
			out:  "uid=2000\ngid=3000\nuser=2000\nhome=/\npasswd=dev:x:2000:3000::/srv/dev:/bin/sh\n",
			want: Agent{UID: 2000, GID: 3000, Home: "/srv/dev", Tools: map[string]string{}}},
		{name: "a uid without a name", out: "uid=4242\ngid=4242\nuser=4242\nhome=/work\npasswd=\n",
			want: Agent{UID: 4242, GID: 4242, Home: "/work", Tools: map[string]string{}}},
		{name: "root refused", out: "uid=0\ngid=0\nuser=root\nhome=/root\n", err: "runs as root"},
		{name: "no home at all", out: "uid=1000\ngid=1000\nuser=a\nhome=\npasswd=\n", err: "neither $HOME nor the passwd entry"},
		{name: "passwd line of another uid", out: "uid=1000\ngid=1000\nhome=\npasswd=x:x:1001:1000::/home/x:/bin/sh\n", err: "neither $HOME"},
		{name: "relative home", out: "uid=1000\ngid=1000\nhome=home/agent\n", err: `"home/agent" is not an absolute, clean path`},
		{name: "unclean home", out: "uid=1000\ngid=1000\nhome=/home/../etc\n", err: "not an absolute, clean path"},
		{name: "home with a control character", out: "uid=1000\ngid=1000\nhome=/home/a\x1b[2J\n", err: "not printable"},
		{name: "uid not a number", out: "uid=10x\ngid=1000\nhome=/h\n", err: `uid: "10x" is not a number`},
		{name: "uid missing", out: "gid=1000\nhome=/h\n", err: `uid: "" is not a number`},
		{name: "uid out of range", out: "uid=9999999999\ngid=1\nhome=/h\n", err: "out of range"},
		{name: "a key twice", out: "uid=1000\nuid=0\ngid=1000\nhome=/h\n", err: "uid printed twice"},
		{name: "a line without =", out: "uid=1000\nhello\n", err: `unexpected line "hello"`},
		{name: "a tool not asked for", out: "uid=1000\ngid=1\nhome=/h\ntool.sudo=/usr/bin/sudo\n", err: `unexpected tool "sudo"`},
		{name: "a tool path with a space", out: "uid=1000\ngid=1\nhome=/h\ntool.curl=/bin/curl -k\n", err: "not a program path"},
		{name: "a relative tool path", out: "uid=1000\ngid=1\nhome=/h\ntool.curl=bin/curl\n", err: "not an absolute, clean path"},
		{name: "a bad login name is dropped", out: "uid=1000\ngid=1\nuser=a b\nhome=/h\n", want: Agent{UID: 1000, GID: 1, Home: "/h", Tools: map[string]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseIdentity([]byte(tt.out))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseIdentity = %+v, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAgentPaths(t *testing.T) {
	a := Agent{UID: 1000, GID: 1001, Home: "/home/node"}
	if a.User() != "1000:1001" || a.Workspace() != "/home/node/workspace" {
		t.Errorf("User = %q, Workspace = %q", a.User(), a.Workspace())
	}
}

// TestIdentifyAsksTheContainersOwnUser: Identify runs as the image's user
// (no -u), under /bin/sh, and asks for every tool.
func TestIdentifyAsksTheContainersOwnUser(t *testing.T) {
	var gotUser string
	var gotArgv []string
	ft := targetFunc(func(_ context.Context, user string, _ io.Reader, argv ...string) ([]byte, error) {
		gotUser, gotArgv = user, argv
		return []byte("uid=1000\ngid=1000\nhome=/home/a\n"), nil
	})
	if _, err := Identify(context.Background(), ft); err != nil {
		t.Fatal(err)
	}
	if gotUser != "" {
		t.Errorf("Identify ran as %q; want the container's user", gotUser)
	}
	if len(gotArgv) < 4 || gotArgv[0] != "/bin/sh" || gotArgv[1] != "-c" || gotArgv[3] != "identify" {
		t.Fatalf("argv = %q", gotArgv)
	}
	if diff := cmp.Diff(toolNames, gotArgv[4:]); diff != "" {
		t.Errorf("tools asked for (-want +got):\n%s", diff)
	}
}

// targetFunc is a Target made of a function.
type targetFunc func(ctx context.Context, user string, stdin io.Reader, argv ...string) ([]byte, error)

func (f targetFunc) Exec(ctx context.Context, user string, stdin io.Reader, argv ...string) ([]byte, error) {
	return f(ctx, user, stdin, argv...)
}
