package contract

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Tool is a supervise MCP tool.
type Tool string

// The supervise tools. Every tool but ToolListEgressRoutes makes a
// proposal.
const (
	// ToolListEgressRoutes lists the bottle's routes; it proposes nothing.
	ToolListEgressRoutes Tool = "list-egress-routes"
	// ToolEgressBlock asks for a host (and paths, methods) to be routed;
	// payload EgressBlockPayload.
	ToolEgressBlock Tool = "egress-block"
	// ToolDLPBlock reports a DLP false positive and asks for an exception;
	// payload DLPBlockPayload.
	ToolDLPBlock Tool = "dlp-block"
	// ToolCapabilityBlock asks for an image change; payload
	// CapabilityBlockPayload.
	ToolCapabilityBlock Tool = "capability-block"
	// ToolCredBlock asks for a credential on a route; payload
	// CredBlockPayload.
	ToolCredBlock Tool = "cred-block"
)

// tools lists every Tool, in the order messages show them.
var tools = []Tool{ToolListEgressRoutes, ToolEgressBlock, ToolDLPBlock, ToolCapabilityBlock, ToolCredBlock}

// String returns the tool's MCP name.
func (t Tool) String() string { return string(t) }

// Valid reports whether t is one of the supervise tools.
func (t Tool) Valid() bool {
	for _, v := range tools {
		if t == v {
			return true
		}
	}
	return false
}

// ParseTool returns s as a Tool, or an error naming the tools.
func ParseTool(s string) (Tool, error) {
	if t := Tool(s); t.Valid() {
		return t, nil
	}
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = string(t)
	}
	return "", fmt.Errorf("%q is not a supervise tool; the tools are %s", s, strings.Join(names, ", "))
}

// Size limits on proposal and response fields and files. They keep a
// hostile agent from filling the operator's disk or terminal through the
// queue; supervise also bounds how many proposals wait at once.
const (
	// MaxJustificationLen is the longest justification, in characters.
	MaxJustificationLen = 4000
	// MaxNotesLen is the longest response note, in characters.
	MaxNotesLen = 4000
	// MaxPayloadBytes is the largest proposal or response payload, as
	// compact JSON (the whitespace between tokens does not count).
	MaxPayloadBytes = 64 << 10
	// MaxAppliedDiffBytes is the largest applied diff in a response.
	MaxAppliedDiffBytes = 1 << 20
	// MaxProposalFileBytes is the largest proposal file (ProposalFileName)
	// a queue writes or reads. Every valid proposal fits: its payload is
	// at most MaxPayloadBytes of compact JSON (indenting its at most 2×64
	// list entries adds under 2 KiB), its justification at most 16,000
	// bytes encoded (MaxJustificationLen characters of at most 4 bytes
	// each), and the other fields under 1 KiB: about 83 KiB in all. Files
	// written with '<', '>' and '&' escaped (6 bytes each), as earlier
	// releases did, are at most about 91 KiB.
	MaxProposalFileBytes = 128 << 10
	// MaxResponseFileBytes is the largest response file (ResponseFileName)
	// a queue writes or reads: an applied diff of MaxAppliedDiffBytes (at
	// most twice that encoded), an edited payload of MaxPayloadBytes and
	// notes of MaxNotesLen characters fit, even with '<', '>' and '&'
	// escaped to 6 bytes each.
	MaxResponseFileBytes = 8 << 20
	// maxPurposeLen bounds CredBlockPayload.Purpose, in characters.
	maxPurposeLen = 1000
	// maxListLen bounds every list in a payload.
	maxListLen = 64
	// maxDockerfileLineLen bounds one Dockerfile line, in characters.
	maxDockerfileLineLen = 1000
	// maxAptNameLen bounds one apt package name.
	maxAptNameLen = 128
)

// Proposal is a change the agent asks the operator for, written by
// supervise as a JSON file (ProposalFileName) in the queue directory.
type Proposal struct {
	// Version is the contract version; it must be Version.
	Version int `json:"version"`
	// ID identifies the proposal and names its files (see
	// ValidProposalID); it is required.
	ID string `json:"id"`
	// Bottle is the slug of the bottle the agent runs in; it is required.
	Bottle string `json:"bottle"`
	// Tool is the proposing tool, never ToolListEgressRoutes; it is
	// required.
	Tool Tool `json:"tool"`
	// Payload holds the tool's arguments except the reason, as a JSON
	// object shaped by the tool (see DecodePayload); it is required.
	Payload json.RawMessage `json:"payload"`
	// Justification is the agent's reason, shown to the operator; it is
	// required, at most MaxJustificationLen characters, and display text
	// (see ValidDisplayText) that may span lines.
	Justification string `json:"justification"`
	// CreatedAt is when supervise queued the proposal; it is required.
	CreatedAt time.Time `json:"created_at"`
}

// EgressBlockPayload asks for a route to Host.
type EgressBlockPayload struct {
	// Host is the host to route (see ValidHost); it is required.
	Host string `json:"host"`
	// PathPrefixes narrows the request to these paths; nil or empty means
	// the agent asks for every path.
	PathPrefixes []string `json:"path_prefixes,omitempty"`
	// Methods narrows the request to these methods; nil or empty means the
	// agent asks for every method.
	Methods []string `json:"methods,omitempty"`
}

// DLPBlockPayload reports a DLP finding the agent believes is a false
// positive and asks for an exception. It names exactly one of two places:
//
//   - Host: egress refused a request; RuleID is to be exempted on Host's
//     route.
//   - Repo: the git gate refused a push; the one finding Fingerprint names
//     is to be let through on pushes to Repo — never a whole rule, file or
//     repository.
type DLPBlockPayload struct {
	// Host is the egress route's host (see ValidHost); "" when Repo is set.
	Host string `json:"host,omitempty"`
	// Repo is the git gate repository the refused push went to (see
	// ValidRepoName); "" when Host is set.
	Repo string `json:"repo,omitempty"`
	// RuleID is the DLP rule that fired; it is required with Host. With
	// Repo it may be "", and otherwise must be Fingerprint's rule.
	RuleID string `json:"rule_id,omitempty"`
	// Fingerprint is the gate's fingerprint of the finding,
	// COMMIT:PATH:RULE:LINE as the refused push printed it (see
	// ParseFingerprint); it is required with Repo and must be "" with Host.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// GateFinding returns the finding a dlp-block for a repository names, and
// false for one about an egress host. p must be valid.
func (p *DLPBlockPayload) GateFinding() (Fingerprint, bool) {
	if p.Repo == "" {
		return Fingerprint{}, false
	}
	fp, err := ParseFingerprint(p.Fingerprint)
	return fp, err == nil
}

// CapabilityBlockPayload asks for the agent image to be changed. At least
// one list is non-empty.
type CapabilityBlockPayload struct {
	// AptPackages are Debian package names to install; nil means none.
	AptPackages []string `json:"apt_packages,omitempty"`
	// DockerfileLines are lines to append to the agent's Dockerfile, one
	// instruction each, each one line of display text (see
	// ValidDisplayText); nil means none.
	DockerfileLines []string `json:"dockerfile_lines,omitempty"`
}

// CredBlockPayload asks for a credential to be injected on Host's route.
type CredBlockPayload struct {
	// Host is the route's host; it is required.
	Host string `json:"host"`
	// Scheme is the Authorization scheme the service expects; it is
	// required.
	Scheme AuthScheme `json:"scheme"`
	// Purpose says what the credential is for, for the operator; it is
	// required, and one line of display text (see ValidDisplayText).
	Purpose string `json:"purpose"`
}

// Validate reports every problem with p as a *ValidationError.
func (p *EgressBlockPayload) Validate() error { return validatePayload(p) }

// Validate reports every problem with p as a *ValidationError.
func (p *DLPBlockPayload) Validate() error { return validatePayload(p) }

// Validate reports every problem with p as a *ValidationError.
func (p *CapabilityBlockPayload) Validate() error { return validatePayload(p) }

// Validate reports every problem with p as a *ValidationError.
func (p *CredBlockPayload) Validate() error { return validatePayload(p) }

// payload is implemented by the payload types.
type payload interface {
	validate(ps *problems, prefix string)
}

var (
	_ payload = (*EgressBlockPayload)(nil)
	_ payload = (*DLPBlockPayload)(nil)
	_ payload = (*CapabilityBlockPayload)(nil)
	_ payload = (*CredBlockPayload)(nil)
)

func validatePayload(p payload) error {
	var ps problems
	p.validate(&ps, "")
	return ps.err()
}

// displayText checks an agent string with ValidDisplayText, reporting a
// problem under field. It returns false when s is refused: the caller then
// skips the field's own checks, which would only add a second message
// about the same character.
func displayText(ps *problems, field, s string, multiline bool) bool {
	if err := ValidDisplayText(s, multiline); err != nil {
		ps.add(field, err)
		return false
	}
	return true
}

// displayList checks every string of a list with displayText; it returns
// false if any was refused.
func displayList(ps *problems, field string, list []string) bool {
	ok := true
	for i, s := range list {
		ok = displayText(ps, index(field, i), s, false) && ok
	}
	return ok
}

func (p *EgressBlockPayload) validate(ps *problems, prefix string) {
	if displayText(ps, join(prefix, "host"), p.Host, false) {
		if err := ValidHost(p.Host); err != nil {
			ps.add(join(prefix, "host"), err)
		}
	}
	if len(p.PathPrefixes) > maxListLen {
		ps.addf(join(prefix, "path_prefixes"), "has %d entries; the limit is %d", len(p.PathPrefixes), maxListLen)
	} else {
		for i, s := range p.PathPrefixes {
			if !displayText(ps, index(join(prefix, "path_prefixes"), i), s, false) {
				continue
			}
			if err := ValidPathPrefix(s); err != nil {
				ps.add(index(join(prefix, "path_prefixes"), i), err)
			}
		}
	}
	if len(p.Methods) > maxListLen {
		ps.addf(join(prefix, "methods"), "has %d entries; the limit is %d", len(p.Methods), maxListLen)
	} else if displayList(ps, join(prefix, "methods"), p.Methods) {
		validMethods(ps, join(prefix, "methods"), p.Methods)
	}
}

func (p *DLPBlockPayload) validate(ps *problems, prefix string) {
	if p.Repo == "" {
		p.validateEgress(ps, prefix)
		return
	}
	if p.Host != "" {
		ps.addf(join(prefix, "host"), "is set with repo; give host and rule_id for a request egress refused, or repo and fingerprint for a push the git gate refused, not both")
	}
	if displayText(ps, join(prefix, "repo"), p.Repo, false) {
		if err := ValidRepoName(p.Repo); err != nil {
			ps.add(join(prefix, "repo"), err)
		}
	}
	if p.Fingerprint == "" {
		ps.addf(join(prefix, "fingerprint"), "is required with repo; copy the fingerprint the git gate printed under the finding")
		return
	}
	if !displayText(ps, join(prefix, "fingerprint"), p.Fingerprint, false) || !displayText(ps, join(prefix, "rule_id"), p.RuleID, false) {
		return
	}
	fp, err := ParseFingerprint(p.Fingerprint)
	if err != nil {
		ps.add(join(prefix, "fingerprint"), err)
		return
	}
	if p.RuleID != "" && p.RuleID != fp.Rule {
		ps.addf(join(prefix, "rule_id"), "is %q but the fingerprint's rule is %q; leave rule_id out or make them agree", p.RuleID, fp.Rule)
	}
}

func (p *DLPBlockPayload) validateEgress(ps *problems, prefix string) {
	if displayText(ps, join(prefix, "host"), p.Host, false) {
		if err := ValidHost(p.Host); err != nil {
			if p.Host == "" {
				err = fmt.Errorf("%w; give host and rule_id for a request egress refused, or repo and fingerprint for a push the git gate refused", err)
			}
			ps.add(join(prefix, "host"), err)
		}
	}
	if displayText(ps, join(prefix, "rule_id"), p.RuleID, false) {
		if err := ValidRuleID(p.RuleID); err != nil {
			ps.add(join(prefix, "rule_id"), err)
		}
	}
	if p.Fingerprint != "" {
		ps.addf(join(prefix, "fingerprint"), "is only for a push the git gate refused, with repo; an egress exception names host and rule_id")
	}
}

func (p *CapabilityBlockPayload) validate(ps *problems, prefix string) {
	if len(p.AptPackages) == 0 && len(p.DockerfileLines) == 0 {
		ps.addf(prefix, "asks for nothing; give apt_packages, dockerfile_lines or both")
	}
	if len(p.AptPackages) > maxListLen {
		ps.addf(join(prefix, "apt_packages"), "has %d entries; the limit is %d", len(p.AptPackages), maxListLen)
	} else {
		for i, s := range p.AptPackages {
			if !displayText(ps, index(join(prefix, "apt_packages"), i), s, false) {
				continue
			}
			if err := validAptName(s); err != nil {
				ps.add(index(join(prefix, "apt_packages"), i), err)
			}
		}
	}
	if len(p.DockerfileLines) > maxListLen {
		ps.addf(join(prefix, "dockerfile_lines"), "has %d entries; the limit is %d", len(p.DockerfileLines), maxListLen)
	} else {
		for i, s := range p.DockerfileLines {
			if err := validDockerfileLine(s); err != nil {
				ps.add(index(join(prefix, "dockerfile_lines"), i), err)
			}
		}
	}
}

func (p *CredBlockPayload) validate(ps *problems, prefix string) {
	if displayText(ps, join(prefix, "host"), p.Host, false) {
		if err := ValidHost(p.Host); err != nil {
			ps.add(join(prefix, "host"), err)
		}
	}
	if displayText(ps, join(prefix, "scheme"), string(p.Scheme), false) {
		if _, err := ParseAuthScheme(string(p.Scheme)); err != nil {
			ps.add(join(prefix, "scheme"), err)
		}
	}
	if err := validText(p.Purpose, maxPurposeLen, false); err != nil {
		ps.add(join(prefix, "purpose"), err)
	}
}

// validAptName checks a Debian package name (Debian policy 5.6.7): a
// lower-case letter or digit, then at least one of lower-case letters,
// digits, '+', '-' and '.'.
func validAptName(s string) error {
	switch {
	case len(s) < 2:
		return fmt.Errorf("package name %q is too short; Debian names have at least two characters", s)
	case len(s) > maxAptNameLen:
		return fmt.Errorf("package name is %d characters; the limit is %d", len(s), maxAptNameLen)
	case !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= '0' && s[0] <= '9'):
		return fmt.Errorf("package name %q must start with a lower-case letter or digit", s)
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return fmt.Errorf("package name %q contains %s; Debian names use lower-case letters, digits, '+', '-' and '.' (no versions or options)", s, describeByte(s, i))
		}
	}
	return nil
}

// validDockerfileLine checks one requested Dockerfile line. It must stay
// one line: a newline, or a trailing '\' continuation, would splice it into
// the line the CLI writes after it.
func validDockerfileLine(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("line is empty")
	case utf8.RuneCountInString(s) > maxDockerfileLineLen:
		return fmt.Errorf("line is %d characters; the limit is %d", utf8.RuneCountInString(s), maxDockerfileLineLen)
	}
	// ValidDisplayText refuses '\r' and '\n' too: each line is given
	// separately.
	if err := ValidDisplayText(s, false); err != nil {
		return fmt.Errorf("line %w", err)
	}
	if strings.HasSuffix(strings.TrimRight(s, " \t"), `\`) {
		return fmt.Errorf(`line ends in '\', which would continue it onto the next line; give the whole instruction on one line`)
	}
	return nil
}

// validText checks a required free-text field of at most limit characters
// that the operator will read (see ValidDisplayText); only a multiline
// field may contain line breaks.
func validText(s string, limit int, multiline bool) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("is required")
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return fmt.Errorf("is %d characters; the limit is %d", n, limit)
	}
	return ValidDisplayText(s, multiline)
}

// newPayload returns a pointer to the zero payload of a proposing tool.
func newPayload(t Tool) (payload, error) {
	switch t {
	case ToolEgressBlock:
		return &EgressBlockPayload{}, nil
	case ToolDLPBlock:
		return &DLPBlockPayload{}, nil
	case ToolCapabilityBlock:
		return &CapabilityBlockPayload{}, nil
	case ToolCredBlock:
		return &CredBlockPayload{}, nil
	case ToolListEgressRoutes:
		return nil, fmt.Errorf("%s makes no proposals", t)
	}
	_, err := ParseTool(string(t))
	return nil, err
}

// decodePayload strictly decodes raw into tool's payload type, without
// validating its fields.
func decodePayload(tool Tool, raw json.RawMessage) (payload, error) {
	p, err := newPayload(tool)
	if err != nil {
		return nil, err
	}
	if n := payloadSize(raw); n > MaxPayloadBytes {
		return nil, fmt.Errorf("is %d bytes; the limit is %d", n, MaxPayloadBytes)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("is required")
	}
	if err := decodeJSON(raw, p); err != nil {
		return nil, fmt.Errorf("does not fit %s: %w", tool, err)
	}
	return p, nil
}

// payloadSize is the size of the JSON raw without the whitespace between
// its tokens, which MaxPayloadBytes limits: the queue writes records
// indented, and the same payload must pass when read back. Only raw over
// the limit is compacted; raw that is not JSON counts whole.
func payloadSize(raw json.RawMessage) int {
	if len(raw) <= MaxPayloadBytes {
		return len(raw)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return len(raw)
	}
	return b.Len()
}

// DecodeToolPayload strictly decodes raw as the payload of tool (unknown,
// duplicate or differently-cased keys are errors) and validates it. It
// returns *EgressBlockPayload, *DLPBlockPayload, *CapabilityBlockPayload or
// *CredBlockPayload. Use it for an operator's edited payload, which a
// Response carries without naming the tool.
func DecodeToolPayload(tool Tool, raw json.RawMessage) (any, error) {
	if _, err := newPayload(tool); err != nil {
		return nil, &FieldError{Field: "tool", Err: err}
	}
	p, err := decodePayload(tool, raw)
	if err != nil {
		return nil, &FieldError{Field: "payload", Err: err}
	}
	var ps problems
	p.validate(&ps, "payload")
	if err := ps.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// DecodePayload returns p's payload decoded and validated for p.Tool; see
// DecodeToolPayload.
func (p *Proposal) DecodePayload() (any, error) {
	return DecodeToolPayload(p.Tool, p.Payload)
}

// Validate reports every problem with p, including its payload's (under
// "payload."), as a *ValidationError.
func (p *Proposal) Validate() error {
	var ps problems
	if err := checkVersion("proposal", p.Version); err != nil {
		ps.add("version", err)
	}
	if err := ValidProposalID(p.ID); err != nil {
		ps.add("id", err)
	}
	if err := ValidSlug(p.Bottle); err != nil {
		ps.add("bottle", err)
	}
	if _, err := newPayload(p.Tool); err != nil {
		ps.add("tool", err)
	} else if pl, err := decodePayload(p.Tool, p.Payload); err != nil {
		ps.add("payload", err)
	} else {
		pl.validate(&ps, "payload")
	}
	if err := validText(p.Justification, MaxJustificationLen, true); err != nil {
		ps.add("justification", err)
	}
	if p.CreatedAt.IsZero() {
		ps.addf("created_at", "is required")
	}
	return ps.err()
}

// ParseProposal strictly decodes a proposal file (version first, unknown
// or duplicate keys are errors) and validates it.
func ParseProposal(data []byte) (*Proposal, error) {
	var p Proposal
	if err := parseJSON(data, "proposal", &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// parseJSON checks the version of the record in data, then decodes it
// strictly into out.
func parseJSON(data []byte, kind string, out any) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return err
	}
	raw, ok := probe["version"]
	if !ok {
		return &versionError{fmt.Sprintf("version is required; add \"version\": %d", Version)}
	}
	var v int
	if err := json.Unmarshal(raw, &v); err != nil || string(raw) == "null" {
		return &versionError{fmt.Sprintf("version must be the number %d, not %s", Version, raw)}
	}
	if v != Version {
		return &versionError{fmt.Sprintf("unsupported %s version %d; this build understands version %d (upgrade bot-bottle)", kind, v, Version)}
	}
	return decodeJSON(data, out)
}

// proposalIDBytes is how many random bytes NewProposalID encodes.
const proposalIDBytes = 16

// MaxProposalIDLen is the longest proposal id ValidProposalID accepts.
const MaxProposalIDLen = 64

// NewProposalID returns a fresh random proposal id: 16 bytes from
// crypto/rand in lower-case hex.
func NewProposalID() string {
	b := make([]byte, proposalIDBytes)
	// Since Go 1.24 Read never returns an error: it crashes the program
	// rather than hand out predictable ids.
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ValidProposalID reports whether s can be a proposal id: 1 to
// MaxProposalIDLen letters, digits, '_' and '-'. Ids name files in the queue
// directory, so nothing else is allowed.
func ValidProposalID(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("proposal id is empty")
	case len(s) > MaxProposalIDLen:
		return fmt.Errorf("proposal id is %d characters; the limit is %d", len(s), MaxProposalIDLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' {
			return fmt.Errorf("proposal id %q contains %s; use letters, digits, '_' and '-'", s, describeByte(s, i))
		}
	}
	return nil
}

// ProposalFileName returns the queue file name of proposal id:
// id + ".proposal.json". The id must satisfy ValidProposalID, which keeps
// the name a single path element; ProposalFileName does not check.
func ProposalFileName(id string) string { return id + ".proposal.json" }

// ResponseFileName returns the queue file name of the response to
// proposal id: id + ".response.json". The id must satisfy
// ValidProposalID; ResponseFileName does not check.
func ResponseFileName(id string) string { return id + ".response.json" }

// Status is where a proposal stands.
type Status string

// The statuses. A Response carries one of approved, rejected or edited;
// pending is what supervise tells the agent while no response exists.
const (
	// StatusPending means the operator has not decided yet.
	StatusPending Status = "pending"
	// StatusApproved means the proposal was applied as asked.
	StatusApproved Status = "approved"
	// StatusRejected means the proposal was refused; Notes says why.
	StatusRejected Status = "rejected"
	// StatusEdited means the operator applied a changed payload.
	StatusEdited Status = "edited"
)

// String returns the status as written in records.
func (s Status) String() string { return string(s) }

// Valid reports whether s is one of the statuses, pending included.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusApproved, StatusRejected, StatusEdited:
		return true
	}
	return false
}

// ParseStatus returns s as a Status, or an error naming the statuses.
func ParseStatus(s string) (Status, error) {
	if st := Status(s); st.Valid() {
		return st, nil
	}
	return "", fmt.Errorf("%q is not a status; use %s, %s, %s or %s", s, StatusPending, StatusApproved, StatusRejected, StatusEdited)
}

// Response is the operator's decision on a proposal, written by the CLI as
// a JSON file (ResponseFileName) next to the proposal.
type Response struct {
	// Version is the contract version; it must be Version.
	Version int `json:"version"`
	// ID is the id of the proposal decided; it is required.
	ID string `json:"id"`
	// Status is the decision: approved, rejected or edited (never
	// pending); it is required.
	Status Status `json:"status"`
	// Notes is the operator's message to the agent, display text (see
	// ValidDisplayText) that may span lines; "" means none, which a
	// rejection does not allow.
	Notes string `json:"notes,omitempty"`
	// Payload is the operator's edited payload, in the proposal's tool's
	// shape (check it with DecodeToolPayload). It is required when Status
	// is edited and must be empty otherwise.
	Payload json.RawMessage `json:"payload,omitempty"`
	// AppliedDiff shows what the CLI changed (a unified diff of the
	// bottle); "" means nothing is shown, and a rejection must leave it
	// empty.
	AppliedDiff string `json:"applied_diff,omitempty"`
	// DecidedAt is when the operator decided; it is required.
	DecidedAt time.Time `json:"decided_at"`
}

// Validate reports every problem with r as a *ValidationError. It checks
// an edited payload is a JSON object within MaxPayloadBytes; only
// DecodeToolPayload, given the proposal's tool, can check its shape.
func (r *Response) Validate() error {
	var ps problems
	if err := checkVersion("response", r.Version); err != nil {
		ps.add("version", err)
	}
	if err := ValidProposalID(r.ID); err != nil {
		ps.add("id", err)
	}
	switch r.Status {
	case StatusApproved, StatusRejected, StatusEdited:
	case StatusPending:
		ps.addf("status", "pending is not a decision; use %s, %s or %s", StatusApproved, StatusRejected, StatusEdited)
	default:
		ps.addf("status", "%q is not a decision; use %s, %s or %s", r.Status, StatusApproved, StatusRejected, StatusEdited)
	}
	if r.Status == StatusRejected && strings.TrimSpace(r.Notes) == "" {
		ps.addf("notes", "is required when rejecting: tell the agent why")
	} else if n := utf8.RuneCountInString(r.Notes); n > MaxNotesLen {
		ps.addf("notes", "is %d characters; the limit is %d", n, MaxNotesLen)
	} else {
		displayText(&ps, "notes", r.Notes, true)
	}
	hasPayload := len(bytes.TrimSpace(r.Payload)) > 0
	switch {
	case r.Status == StatusEdited && !hasPayload:
		ps.addf("payload", "is required when the status is edited")
	case r.Status != StatusEdited && hasPayload:
		ps.addf("payload", "is allowed only when the status is edited")
	case hasPayload && payloadSize(r.Payload) > MaxPayloadBytes:
		ps.addf("payload", "is %d bytes; the limit is %d", payloadSize(r.Payload), MaxPayloadBytes)
	case hasPayload && (!json.Valid(r.Payload) || bytes.TrimSpace(r.Payload)[0] != '{'):
		ps.addf("payload", "must be a JSON object")
	}
	if r.Status == StatusRejected && r.AppliedDiff != "" {
		ps.addf("applied_diff", "must be empty when rejecting: nothing was applied")
	} else if len(r.AppliedDiff) > MaxAppliedDiffBytes {
		ps.addf("applied_diff", "is %d bytes; the limit is %d", len(r.AppliedDiff), MaxAppliedDiffBytes)
	} else {
		displayText(&ps, "applied_diff", r.AppliedDiff, true)
	}
	if r.DecidedAt.IsZero() {
		ps.addf("decided_at", "is required")
	}
	return ps.err()
}

// ParseResponse strictly decodes a response file (version first, unknown
// or duplicate keys are errors) and validates it.
func ParseResponse(data []byte) (*Response, error) {
	var r Response
	if err := parseJSON(data, "response", &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}
