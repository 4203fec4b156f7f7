package supervise

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bot-bottle/bot-bottle/internal/shared/wildcard"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// egressListTimeout bounds list-egress-routes' call to egress.
const egressListTimeout = 5 * time.Second

// Each tool's input schema. additionalProperties is false everywhere: an
// argument the server does not know is an error, not silently dropped.
var (
	proposalIDProp = `"proposal_id": {"type": "string", "maxLength": 64, "pattern": "^[A-Za-z0-9_-]+$",
		"description": "Set only to check on a proposal you made earlier that came back pending; the other arguments are then not needed."}`
	reasonProp = `"reason": {"type": "string", "minLength": 1, "maxLength": 4000,
		"description": "Why you need this, for the operator who decides. Be specific: what you are doing and what failed."}`

	schemas = map[contract.Tool]string{
		contract.ToolListEgressRoutes: `{"type": "object", "properties": {}, "additionalProperties": false}`,
		contract.ToolEgressBlock: `{"type": "object", "additionalProperties": false, "properties": {
			"host": {"type": "string", "maxLength": 253, "description": "The host name you were refused, e.g. api.example.com (no scheme, port or path)."},
			"path_prefixes": {"type": "array", "maxItems": 32, "items": {"type": "string", "pattern": "^/", "maxLength": 1024},
				"description": "Optional: the URL path prefixes you need, e.g. [\"/v1/\"]. Omit to ask for the whole host."},
			"methods": {"type": "array", "maxItems": 7, "items": {"type": "string", "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]},
				"description": "Optional: the HTTP methods you need. Omit for all."},
			` + reasonProp + `, ` + proposalIDProp + `}}`,
		contract.ToolDLPBlock: `{"type": "object", "additionalProperties": false, "properties": {
			"host": {"type": "string", "maxLength": 253, "description": "For a request egress refused: the host it went to. Give host and rule_id, or repo and fingerprint, never both."},
			"rule_id": {"type": "string", "maxLength": 128, "description": "For a request egress refused: the DLP rule id named in its 403 message, e.g. generic-api-key."},
			"repo": {"type": "string", "maxLength": 100, "description": "For a push the git gate refused: the repository's name at the gate, e.g. demo for http://git-gate:9420/demo.git."},
			"fingerprint": {"type": "string", "maxLength": 4400, "description": "For a push the git gate refused: the finding's fingerprint exactly as the gate printed it (COMMIT:PATH:RULE:LINE). One finding per proposal."},
			` + reasonProp + `, ` + proposalIDProp + `}}`,
		contract.ToolCapabilityBlock: `{"type": "object", "additionalProperties": false, "properties": {
			"apt_packages": {"type": "array", "maxItems": 64, "items": {"type": "string", "maxLength": 128}, "description": "Debian packages to add to the agent image."},
			"dockerfile_lines": {"type": "array", "maxItems": 64, "items": {"type": "string", "maxLength": 1000}, "description": "Dockerfile lines to add to the agent image."},
			` + reasonProp + `, ` + proposalIDProp + `}}`,
		contract.ToolCredBlock: `{"type": "object", "additionalProperties": false, "properties": {
			"host": {"type": "string", "maxLength": 253, "description": "The host that needs a credential."},
			"scheme": {"type": "string", "enum": ["Bearer", "token"], "description": "How the credential is sent: Authorization: Bearer … or Authorization: token …"},
			"purpose": {"type": "string", "minLength": 1, "maxLength": 1000, "description": "What the credential must be able to do (scopes, repositories)."},
			` + reasonProp + `, ` + proposalIDProp + `}}`,
	}

	descriptions = map[contract.Tool]string{
		contract.ToolListEgressRoutes: "List the hosts (with path prefixes and methods) this sandbox may reach over HTTP(S). " +
			"Use it before asking for access, to see what is already allowed.",
		contract.ToolEgressBlock: "Ask the operator to allow a host you were refused (egress answered 403 \"not an allowed destination\"). " +
			"The operator approves, edits or rejects; an approved host works at once, with no restart. " +
			"If the answer is pending, call again later with proposal_id.",
		contract.ToolDLPBlock: "Report a false positive of a secret scanner and ask for an exception. Only for data that is not a real secret. " +
			"For a request egress refused (a 403 naming a DLP rule), give host and rule_id: the rule is exempted on that host. " +
			"For a push the git gate refused, give repo and the fingerprint it printed under the finding: that one finding " +
			"(that line of that file in that commit) is let through, nothing else; push again once approved.",
		contract.ToolCapabilityBlock: "Ask for a change to your container image: Debian packages or Dockerfile lines (for a tool you need " +
			"that is not installed). Applied at the next restart of the sandbox.",
		contract.ToolCredBlock: "Ask for a credential on a host (an API token the proxy adds to your requests; you never see it). " +
			"Say what it must be able to do.",
	}
)

// Arguments of the proposing tools, decoded strictly.
type (
	egressBlockArgs struct {
		Host         string   `json:"host"`
		PathPrefixes []string `json:"path_prefixes,omitempty"`
		Methods      []string `json:"methods,omitempty"`
		Reason       string   `json:"reason"`
		ProposalID   string   `json:"proposal_id,omitempty"`
	}
	dlpBlockArgs struct {
		Host        string `json:"host,omitempty"`
		RuleID      string `json:"rule_id,omitempty"`
		Repo        string `json:"repo,omitempty"`
		Fingerprint string `json:"fingerprint,omitempty"`
		Reason      string `json:"reason"`
		ProposalID  string `json:"proposal_id,omitempty"`
	}
	capabilityBlockArgs struct {
		AptPackages     []string `json:"apt_packages,omitempty"`
		DockerfileLines []string `json:"dockerfile_lines,omitempty"`
		Reason          string   `json:"reason"`
		ProposalID      string   `json:"proposal_id,omitempty"`
	}
	credBlockArgs struct {
		Host       string              `json:"host"`
		Scheme     contract.AuthScheme `json:"scheme"`
		Purpose    string              `json:"purpose"`
		Reason     string              `json:"reason"`
		ProposalID string              `json:"proposal_id,omitempty"`
	}
)

// propose turns a tool call's arguments into a payload and reason, or
// returns the id of an earlier proposal to check on.
func propose(tool contract.Tool, args map[string]any) (payload any, reason, checkID string, err error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, "", "", err
	}
	decode := func(v any) error {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("invalid arguments: %s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return nil
	}
	switch tool {
	case contract.ToolEgressBlock:
		var a egressBlockArgs
		if err := decode(&a); err != nil {
			return nil, "", "", err
		}
		return &contract.EgressBlockPayload{Host: a.Host, PathPrefixes: a.PathPrefixes, Methods: a.Methods}, a.Reason, a.ProposalID, nil
	case contract.ToolDLPBlock:
		var a dlpBlockArgs
		if err := decode(&a); err != nil {
			return nil, "", "", err
		}
		return &contract.DLPBlockPayload{Host: a.Host, RuleID: a.RuleID, Repo: a.Repo, Fingerprint: a.Fingerprint}, a.Reason, a.ProposalID, nil
	case contract.ToolCapabilityBlock:
		var a capabilityBlockArgs
		if err := decode(&a); err != nil {
			return nil, "", "", err
		}
		return &contract.CapabilityBlockPayload{AptPackages: a.AptPackages, DockerfileLines: a.DockerfileLines}, a.Reason, a.ProposalID, nil
	case contract.ToolCredBlock:
		var a credBlockArgs
		if err := decode(&a); err != nil {
			return nil, "", "", err
		}
		return &contract.CredBlockPayload{Host: a.Host, Scheme: a.Scheme, Purpose: a.Purpose}, a.Reason, a.ProposalID, nil
	}
	return nil, "", "", fmt.Errorf("unknown tool %q", tool)
}

// payloadHost is the host a proposal names; "" for none.
func payloadHost(payload any) string {
	switch p := payload.(type) {
	case *contract.EgressBlockPayload:
		return p.Host
	case *contract.CredBlockPayload:
		return p.Host
	case *contract.DLPBlockPayload:
		return p.Host
	}
	return ""
}

// handlePropose is the handler of every proposing tool.
func (s *Server) handlePropose(tool contract.Tool) func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		payload, reason, checkID, err := propose(tool, req.GetArguments())
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		if checkID != "" {
			e, err := s.queue.Get(checkID)
			if err != nil || e.Proposal.Tool != tool {
				return mcp.NewToolResultError(fmt.Sprintf("no %s proposal %q in this bottle's queue", tool, checkID)), nil
			}
			return s.await(ctx, e.Proposal), nil
		}
		raw, err := json.Marshal(payload)
		if err != nil {
			return nil, err
		}
		p := &contract.Proposal{Version: contract.Version, ID: contract.NewProposalID(), Bottle: s.cfg.Bottle, Tool: tool,
			Payload: raw, Justification: reason, CreatedAt: s.cfg.Now().UTC()}
		if err := p.Validate(); err != nil {
			return mcp.NewToolResultError("invalid arguments: " + argumentProblems(err)), nil
		}
		if err := wildcard.Check(payloadHost(payload)); err != nil {
			return mcp.NewToolResultError("invalid arguments: host: " + err.Error() + "; nothing was queued"), nil
		}
		if refused := s.enqueue(p); refused != nil {
			return refused, nil
		}
		s.log.Info("proposal queued", "id", p.ID, "tool", string(tool))
		return s.await(ctx, p), nil
	}
}

// enqueue writes p if the bottle's limits allow it; otherwise, or if the
// write fails, it returns the tool error to answer with, and nothing is
// written. Admission is serialised, so concurrent calls are counted one
// at a time; the operator deciding proposals meanwhile only frees places.
func (s *Server) enqueue(p *contract.Proposal) *mcp.CallToolResult {
	s.admit.Lock()
	defer s.admit.Unlock()
	pending, err := s.queue.Pending()
	if err != nil {
		s.log.Error("count pending proposals", "err", err)
		return mcp.NewToolResultError("could not queue the proposal; try again later")
	}
	if pending >= s.cfg.MaxPending {
		s.log.Warn("proposal refused", "tool", string(p.Tool), "limit", "max-pending", "pending", pending)
		return mcp.NewToolResultError(fmt.Sprintf("not queued: this bottle already has %d proposals waiting for the operator, "+
			"the most it may have (supervise --max-pending %d); nothing was written. Wait for the operator to decide some of them; "+
			"to see whether one was decided, call its tool again with just its proposal_id.", pending, s.cfg.MaxPending))
	}
	now := s.cfg.Now()
	if wait := s.rate.wait(now); wait > 0 {
		s.log.Warn("proposal refused", "tool", string(p.Tool), "limit", "rate", "rate", s.cfg.Rate.String())
		return mcp.NewToolResultError(fmt.Sprintf("not queued: this bottle may make at most %d proposals per %s (supervise --rate %s) "+
			"and has made them; nothing was written. Try again in %s, or check on an earlier proposal by calling its tool again "+
			"with just its proposal_id.", s.cfg.Rate.N, s.cfg.Rate.interval(), s.cfg.Rate, (wait + time.Second - 1).Truncate(time.Second)))
	}
	if err := s.queue.Put(p); err != nil {
		s.log.Error("write proposal", "id", p.ID, "err", err)
		return mcp.NewToolResultError("could not queue the proposal; try again later")
	}
	s.rate.add(now)
	return nil
}

// argumentProblems words a proposal's validation problems in terms of the
// tool's arguments: "reason", not "justification"; "host", not
// "payload.host". The messages never contain the refused characters.
func argumentProblems(err error) string {
	var ve *contract.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	msgs := make([]string, len(ve.Errs))
	for i, e := range ve.Errs {
		var fe *contract.FieldError
		if !errors.As(e, &fe) {
			msgs[i] = e.Error()
			continue
		}
		field := fe.Field
		switch {
		case field == "justification":
			field = "reason"
		case field == "payload":
			field = "arguments"
		default:
			field = strings.TrimPrefix(field, "payload.")
		}
		msgs[i] = (&contract.FieldError{Field: field, Err: fe.Err}).Error()
	}
	return strings.Join(msgs, "; ")
}

// await waits (bounded) for the operator's answer to p.
func (s *Server) await(ctx context.Context, p *contract.Proposal) *mcp.CallToolResult {
	select {
	case s.waiting <- struct{}{}:
		defer func() { <-s.waiting }()
	default:
		return pendingResult(p, "too many calls are waiting for the operator")
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.ResponseTimeout)
	defer cancel()
	resp, err := s.queue.Wait(wctx, p.ID, s.cfg.Poll)
	if err != nil {
		s.log.Error("read response", "id", p.ID, "err", err)
		return mcp.NewToolResultError("could not read the operator's answer; try again with proposal_id")
	}
	if resp == nil {
		return pendingResult(p, fmt.Sprintf("the operator has not answered within %s", s.cfg.ResponseTimeout))
	}
	lines := []string{"status: " + string(resp.Status), "proposal: " + p.ID}
	if resp.Notes != "" {
		lines = append(lines, "notes: "+resp.Notes)
	}
	if resp.AppliedDiff != "" {
		lines = append(lines, "applied:", resp.AppliedDiff)
	}
	return mcp.NewToolResultStructured(map[string]any{
		"status": resp.Status, "proposal_id": p.ID, "notes": resp.Notes, "applied_diff": resp.AppliedDiff,
	}, strings.Join(lines, "\n"))
}

func pendingResult(p *contract.Proposal, why string) *mcp.CallToolResult {
	text := fmt.Sprintf("status: pending\nproposal: %s\n%s; the proposal stays queued. Call %s again with proposal_id %q to check.",
		p.ID, why, p.Tool, p.ID)
	return mcp.NewToolResultStructured(map[string]any{"status": contract.StatusPending, "proposal_id": p.ID}, text)
}

// handleListRoutes reads egress's /routes.
func (s *Server) handleListRoutes(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(ctx, egressListTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(s.cfg.EgressAdmin, "/")+"/routes", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return mcp.NewToolResultError("egress is unreachable, so the routes cannot be listed: " + shortErr(err)), nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return mcp.NewToolResultError(fmt.Sprintf("egress answered %d to the routes listing", resp.StatusCode)), nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return mcp.NewToolResultError("egress answered the routes listing with something that is not JSON"), nil
	}
	return mcp.NewToolResultStructured(v, string(body)), nil
}

func shortErr(err error) string {
	var ue interface{ Timeout() bool }
	if errors.As(err, &ue) && ue.Timeout() {
		return "timed out"
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}
