package proposals

import (
	"encoding/json"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func TestGrantsSaysWhatApprovingLets(t *testing.T) {
	for _, tc := range []struct {
		tool    contract.Tool
		payload string
		want    string
	}{
		{contract.ToolEgressBlock, `{"host":"api.example.test","path_prefixes":["/v1/"],"methods":["POST"]}`,
			"lets the agent POST to api.example.test/v1/*"},
		{contract.ToolEgressBlock, `{"host":"api.example.test"}`,
			"lets the agent use any method to every path of api.example.test (as a new route; a route it has keeps its limits)"},
		{contract.ToolEgressBlock, `{"host":"api.example.test","path_prefixes":["/a/","/b/"],"methods":["GET","HEAD"]}`,
			"lets the agent GET, HEAD to api.example.test/a/*, api.example.test/b/*"},
		{contract.ToolCapabilityBlock, `{"apt_packages":["jq","curl"]}`,
			"installs jq, curl into the agent image, and restarts the agent (its workspace is kept)"},
		{contract.ToolCapabilityBlock, `{"apt_packages":["jq"],"dockerfile_lines":["RUN make"]}`,
			"installs jq into the agent image and runs 1 Dockerfile line(s) of the agent's as root while building its image, and restarts the agent (its workspace is kept)"},
		{contract.ToolCredBlock, `{"host":"api.github.com","scheme":"Bearer","purpose":"PRs"}`,
			"asks you for a Bearer credential that egress then sends on every request to api.github.com (the agent never sees it)"},
		{contract.ToolDLPBlock, `{"host":"api.example.test","rule_id":"aws-access-token"}`,
			"stops DLP rule aws-access-token from blocking requests to api.example.test, on every path"},
		{contract.ToolEgressBlock, `{"host":""}`, "cannot be approved: its arguments are invalid"},
	} {
		got := Grants(&contract.Proposal{Tool: tc.tool, Payload: json.RawMessage(tc.payload)})
		if len(got) < len(tc.want) || got[:len(tc.want)] != tc.want {
			t.Errorf("%s %s:\n got %q\nwant %q", tc.tool, tc.payload, got, tc.want)
		}
	}
}
