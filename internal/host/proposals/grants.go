package proposals

import (
	"fmt"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Grants says in plain words what approving p as proposed would let the
// agent do, such as "lets the agent GET, POST to api.example.test/v1/*".
// It reads only the proposal (Preview adds what the bottle's files say);
// every string the agent chose is escaped for the terminal.
func Grants(p *contract.Proposal) string {
	decoded, err := contract.DecodeToolPayload(p.Tool, p.Payload)
	if err != nil {
		return "cannot be approved: its arguments are invalid (" + termtext.Line(err.Error()) + ")"
	}
	switch a := decoded.(type) {
	case *contract.EgressBlockPayload:
		s := fmt.Sprintf("lets the agent %s to %s", methodWords(a.Methods), hostPaths(a.Host, a.PathPrefixes))
		if len(a.Methods) == 0 || len(a.PathPrefixes) == 0 {
			// Approving never lifts an existing route's limits.
			s += " (as a new route; a route it has keeps its limits)"
		}
		return s
	case *contract.DLPBlockPayload:
		if fp, ok := a.GateFinding(); ok {
			return fmt.Sprintf("lets the one finding %s through the git gate on pushes to %s",
				termtext.Line(fp.Describe()), termtext.Line(a.Repo))
		}
		return fmt.Sprintf("stops DLP rule %s from blocking requests to %s, on every path",
			termtext.Line(a.RuleID), termtext.Line(a.Host))
	case *contract.CapabilityBlockPayload:
		var parts []string
		if len(a.AptPackages) > 0 {
			parts = append(parts, "installs "+termtext.Line(strings.Join(a.AptPackages, ", "))+" into the agent image")
		}
		if n := len(a.DockerfileLines); n > 0 {
			parts = append(parts, fmt.Sprintf("runs %d Dockerfile line(s) of the agent's as root while building its image", n))
		}
		return strings.Join(parts, " and ") + ", and restarts the agent (its workspace is kept)"
	case *contract.CredBlockPayload:
		return fmt.Sprintf("asks you for a %s credential that egress then sends on every request to %s (the agent never sees it)",
			termtext.Line(string(a.Scheme)), termtext.Line(a.Host))
	}
	return "tool " + termtext.Line(string(p.Tool)) + " cannot be approved"
}

// methodWords is "GET, POST" or "use any method".
func methodWords(methods []string) string {
	if len(methods) == 0 {
		return "use any method"
	}
	return termtext.Line(strings.Join(methods, ", "))
}

// hostPaths is "api.example.test/v1/*" or "every path of api.example.test".
func hostPaths(host string, prefixes []string) string {
	host = termtext.Line(host)
	if len(prefixes) == 0 {
		return "every path of " + host
	}
	shown := make([]string, len(prefixes))
	for i, p := range prefixes {
		shown[i] = host + termtext.Line(p) + "*"
	}
	return strings.Join(shown, ", ")
}
