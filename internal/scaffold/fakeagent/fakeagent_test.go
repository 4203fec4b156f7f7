package fakeagent

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTOMLURL(t *testing.T) {
	doc := "# c\n[projects.\"/w\"]\nurl = \"no\"\n\n[mcp_servers.supervise]\nurl = \"http://supervise:9100/mcp\"\n[other]\nurl = \"x\"\n"
	for table, want := range map[string]string{
		"[mcp_servers.supervise]": "http://supervise:9100/mcp",
		"[other]":                 "x",
		"[absent]":                "",
	} {
		if got := tomlURL(doc, table); got != want {
			t.Errorf("tomlURL(%s) = %q, want %q", table, got, want)
		}
	}
}

// TestLoginStatus is `codex login status`: a ChatGPT login (auth_mode
// chatgpt or absent) with an access token is logged in.
func TestLoginStatus(t *testing.T) {
	for _, tt := range []struct {
		auth string
		code int
	}{
		{`{"auth_mode":"chatgpt","tokens":{"access_token":"a.b.c"}}`, 0},
		{`{"tokens":{"access_token":"a.b.c"}}`, 0},
		{`{"auth_mode":"apikey","OPENAI_API_KEY":"sk"}`, 1},
		{`{"auth_mode":"chatgpt","tokens":{}}`, 1},
		{``, 1},
	} {
		dir := t.TempDir()
		if tt.auth != "" {
			if err := os.WriteFile(filepath.Join(dir, "auth.json"), []byte(tt.auth), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv("CODEX_HOME", dir)
		var out bytes.Buffer
		if code := Main(t.Context(), []string{"/usr/local/bin/codex", "login", "status"}, &out); code != tt.code || !strings.Contains(out.String(), "Logged in") != (tt.code != 0) {
			t.Errorf("%s: exit %d, %q; want exit %d", tt.auth, code, out.String(), tt.code)
		}
	}
}
