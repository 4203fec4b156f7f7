package demoupstream

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestAPIHandlerWantsTheToken(t *testing.T) {
	srv := httptest.NewServer(APIHandler("s3cret-token", slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	cases := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"right token", "GET", "/v1/whoami", "Bearer s3cret-token", 200},
		{"no token", "GET", "/v1/whoami", "", 401},
		{"wrong token", "GET", "/v1/whoami", "Bearer placeholder", 401},
		{"token without scheme", "GET", "/v1/whoami", "s3cret-token", 401},
		{"note", "POST", "/v1/notes", "", 201},
		{"health", "GET", "/healthz", "", 200},
		{"unknown path", "GET", "/v2/x", "", 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader("hello"))
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("status = %d, want %d (%s)", resp.StatusCode, c.want, body)
			}
			if strings.Contains(string(body), "s3cret") || strings.Contains(string(body), "placeholder") {
				t.Errorf("the API echoed a credential: %s", body)
			}
		})
	}
}

func TestInitRepoMakesOneCommitOnce(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	root := t.TempDir()
	for i := 0; i < 2; i++ {
		if err := InitRepo(context.Background(), root, "demo"); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("git", "--git-dir", filepath.Join(root, "demo.git"), "log", "--oneline", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; n != 1 {
		t.Errorf("main has %d commits, want 1:\n%s", n, out)
	}
}

func TestRunRejectsUnknownSubcommand(t *testing.T) {
	if err := Run(context.Background(), []string{"ftp"}, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown subcommand") {
		t.Fatalf("err = %v", err)
	}
}
