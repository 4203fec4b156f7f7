package provision

import (
	"context"
	"encoding/json"
	"fmt"
)

// SuperviseURL is the supervise MCP server as the agent reaches it:
// contract.SuperviseHost, contract.MCPPort, /mcp (a test holds them
// together).
const SuperviseURL = "http://supervise:9100/mcp"

// MCPServerName is the name the supervise server is registered under.
const MCPServerName = "supervise"

// GenericMCPFile is where the generic provider registers MCP servers,
// relative to the agent's home.
const GenericMCPFile = ".bot-bottle/mcp.json"

// GenericMCP is the generic provider's MCP registration: it writes
// ~/.bot-bottle/mcp.json, 0600, as the agent:
//
//	{"mcpServers":{"supervise":{"type":"http","url":"http://supervise:9100/mcp"}}}
//
// (the mcpServers shape most MCP clients read), replacing any file there.
func GenericMCP(url string) Step {
	return func(ctx context.Context, t Target, a Agent) (string, error) {
		data, err := MCPServersJSON(url)
		if err != nil {
			return "", err
		}
		dst, err := WriteAgentFile(ctx, t, a, GenericMCPFile, 0o600, data)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("MCP server %s (%s) registered in %s", MCPServerName, url, dst), nil
	}
}

// MCPServersJSON is {"mcpServers":{"supervise":{"type":"http","url":URL}}}
// and a newline.
func MCPServersJSON(url string) ([]byte, error) {
	type server struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	}
	doc := struct {
		MCPServers map[string]server `json:"mcpServers"`
	}{map[string]server{MCPServerName: {Type: "http", URL: url}}}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
