// Package fakeagent is a stand-in for Claude Code and Codex, which cannot
// be installed where the tests run: the test agent image has it as
// /usr/local/bin/claude and /usr/local/bin/codex. Started by bot-bottle as
// a provider's CLI, it records what it was given (argv, environment, the
// configuration files it finds), makes one request to its provider's API
// through egress with the credential it was given, and an MCP initialize
// to the server its configuration registers, then prints the record as
// one line "FAKE-AGENT-RECORD {json}" and writes it to
// fake-agent-<name>.json in its working directory (the workspace: new
// work there keeps the bottle up after the agent exits).
package fakeagent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Record is what the stand-in saw and did.
type Record struct {
	Name  string            `json:"name"`
	Argv  []string          `json:"argv"`
	Env   map[string]string `json:"env"`
	Files map[string]string `json:"files"`
	// API is the provider API's answer (status and body) to a request with
	// the credential the agent holds.
	APIHost   string `json:"api_host"`
	APIStatus int    `json:"api_status"`
	APIBody   string `json:"api_body"`
	APIError  string `json:"api_error,omitempty"`
	// MCP is the registered server's answer to initialize.
	MCPURL     string `json:"mcp_url"`
	MCPStatus  int    `json:"mcp_status"`
	MCPSession bool   `json:"mcp_session"`
	MCPError   string `json:"mcp_error,omitempty"`
}

// RecordPrefix starts the line the record is printed on.
const RecordPrefix = "FAKE-AGENT-RECORD "

// SkipAPIEnv, set to anything, skips the API request (a test that only
// looks at the launch).
const SkipAPIEnv = "FAKE_AGENT_SKIP_API"

// Main runs the stand-in named by argv[0] ("claude" or "codex").
func Main(ctx context.Context, argv []string, stdout io.Writer) int {
	name := filepath.Base(argv[0])
	home, _ := os.UserHomeDir()
	if name == "codex" && len(argv) == 3 && argv[1] == "login" && argv[2] == "status" {
		return loginStatus(stdout)
	}
	rec := Record{Name: name, Argv: argv, Env: map[string]string{}, Files: map[string]string{}}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		rec.Env[k] = v
	}
	codexHome := os.Getenv("CODEX_HOME")
	for _, p := range []string{
		path.Join(home, ".claude.json"), path.Join(home, ".bot-bottle-prompt.txt"),
		path.Join(codexHome, "config.toml"), path.Join(codexHome, "AGENTS.md"), path.Join(codexHome, "auth.json"),
	} {
		if data, err := os.ReadFile(p); err == nil {
			rec.Files[p] = string(data)
		}
	}
	token := ""
	switch name {
	case "claude":
		rec.APIHost, token = "api.anthropic.com", os.Getenv("CLAUDE_CODE_OAUTH_TOKEN")
		var cfg struct {
			MCPServers map[string]struct{ URL string } `json:"mcpServers"`
		}
		_ = json.Unmarshal([]byte(rec.Files[path.Join(home, ".claude.json")]), &cfg)
		rec.MCPURL = cfg.MCPServers["supervise"].URL
	case "codex":
		rec.APIHost = "chatgpt.com"
		var auth struct {
			Tokens struct {
				AccessToken string `json:"access_token"`
			} `json:"tokens"`
		}
		_ = json.Unmarshal([]byte(rec.Files[path.Join(codexHome, "auth.json")]), &auth)
		token = auth.Tokens.AccessToken
		rec.MCPURL = tomlURL(rec.Files[path.Join(codexHome, "config.toml")], "[mcp_servers.supervise]")
	}
	if os.Getenv(SkipAPIEnv) == "" {
		rec.APIStatus, rec.APIBody, rec.APIError = callAPI(ctx, rec.APIHost, token)
	}
	if rec.MCPURL != "" {
		rec.MCPStatus, rec.MCPSession, rec.MCPError = initialize(ctx, rec.MCPURL)
	}
	line, _ := json.Marshal(rec)
	_ = os.WriteFile("fake-agent-"+name+".json", line, 0o600)
	fmt.Fprintf(stdout, "%s%s\n", RecordPrefix, line)
	return 0
}

// callAPI asks the provider API who the agent is, with its credential,
// through HTTPS_PROXY, trusting the system store; it retries for a while
// on a connection error or a 502 (the API may join the bottle's network
// after the agent started).
func callAPI(ctx context.Context, host, token string) (int, string, string) {
	client := &http.Client{Timeout: 10 * time.Second}
	var last string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v1/whoami", nil)
		if err != nil {
			return 0, "", err.Error()
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadGateway {
			last = "502: " + string(body)
			continue
		}
		return resp.StatusCode, string(body), ""
	}
	return 0, "", last
}

// initialize sends an MCP initialize to url.
func initialize(ctx context.Context, url string) (int, bool, string) {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fake-agent","version":"1"}}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, false, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, false, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id") != "", ""
}

// tomlURL finds `url = "..."` under table in a small TOML file.
func tomlURL(doc, table string) string {
	in := false
	sc := bufio.NewScanner(strings.NewReader(doc))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			in = line == table
			continue
		}
		if k, v, ok := strings.Cut(line, "="); in && ok && strings.TrimSpace(k) == "url" {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// loginStatus is `codex login status`: logged in (exit 0) when
// $CODEX_HOME/auth.json is a ChatGPT login (auth_mode absent in older
// files) with an access token.
func loginStatus(stdout io.Writer) int {
	data, err := os.ReadFile(path.Join(os.Getenv("CODEX_HOME"), "auth.json"))
	if err != nil {
		fmt.Fprintln(stdout, "Not logged in")
		return 1
	}
	var auth struct {
		Mode   string `json:"auth_mode"`
		Tokens struct {
			AccessToken string `json:"access_token"`
		} `json:"tokens"`
	}
	if json.Unmarshal(data, &auth) != nil || (auth.Mode != "" && auth.Mode != "chatgpt") || auth.Tokens.AccessToken == "" {
		fmt.Fprintln(stdout, "Not logged in")
		return 1
	}
	fmt.Fprintln(stdout, "Logged in using ChatGPT")
	return 0
}
