package docker

import (
	"strings"
	"testing"
)

func TestResolveUser(t *testing.T) {
	passwd := parsePasswd(strings.NewReader("root:x:0:0:root:/root:/bin/sh\n" +
		"# a comment\nbroken line\nnode:x:1000:1000::/home/node:/bin/bash\nagent:x:1001:1002:agent:/home/agent:/bin/sh\n"))
	for _, tc := range []struct {
		name, user string
		env        []string
		want       ImageUser
		err        string
	}{
		{"by name", "node", nil, ImageUser{UID: 1000, GID: 1000, Name: "node", Home: "/home/node"}, ""},
		{"by uid", "1001", nil, ImageUser{UID: 1001, GID: 1002, Name: "agent", Home: "/home/agent"}, ""},
		{"uid:gid", "1001:5", nil, ImageUser{UID: 1001, GID: 5, Name: "agent", Home: "/home/agent"}, ""},
		{"HOME wins", "1000", []string{"PATH=/bin", "HOME=/work"}, ImageUser{UID: 1000, GID: 1000, Name: "node", Home: "/work"}, ""},
		{"unlisted uid", "4242:4242", nil, ImageUser{UID: 4242, GID: 4242, Home: "/"}, ""},
		{"root by default", "", nil, ImageUser{}, "runs as root"},
		{"root by name", "root", nil, ImageUser{}, "runs as root"},
		{"unknown name", "ghost", nil, ImageUser{}, "does not list"},
		{"group by name", "1000:staff", nil, ImageUser{}, "give its number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveUser(imageConfig{User: tc.user, Env: tc.env}, passwd)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestImageUserOnTheEngine reads the test agent image's user without
// running it.
func TestImageUserOnTheEngine(t *testing.T) {
	img := testutilImages(t, "agent-test")[0]
	u, err := Runner{}.ImageUser(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ImageUser{UID: 1000, GID: 1000, Name: "agent", Home: "/home/agent"}); u != want {
		t.Fatalf("ImageUser = %+v, want %+v", u, want)
	}
	if _, err := (Runner{}).ImageUser(t.Context(), "bot-bottle/no-such-image:none"); err == nil || !strings.Contains(err.Error(), "no-such-image") {
		t.Errorf("a missing image: %v", err)
	}
}
