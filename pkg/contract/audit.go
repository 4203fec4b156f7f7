package contract

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Decision is the outcome an audit record reports.
type Decision string

// The decisions.
const (
	// DecisionAllow means the request or push went ahead.
	DecisionAllow Decision = "allow"
	// DecisionDeny means policy refused it.
	DecisionDeny Decision = "deny"
	// DecisionError means it failed for a reason other than policy (an
	// upstream error, a bad request).
	DecisionError Decision = "error"
)

// String returns the decision as written in audit records.
func (d Decision) String() string { return string(d) }

// Valid reports whether d is one of the decisions.
func (d Decision) Valid() bool {
	return d == DecisionAllow || d == DecisionDeny || d == DecisionError
}

// ParseDecision returns s as a Decision, or an error naming the decisions.
func ParseDecision(s string) (Decision, error) {
	if d := Decision(s); d.Valid() {
		return d, nil
	}
	return "", fmt.Errorf("%q is not a decision; use %s, %s or %s", s, DecisionAllow, DecisionDeny, DecisionError)
}

// The components that write audit records (AuditRecord.Component).
const (
	// ComponentEgress is the egress proxy.
	ComponentEgress = "egress"
	// ComponentGitGate is the git gate.
	ComponentGitGate = "gitgate"
	// ComponentSupervise is the supervise MCP server.
	ComponentSupervise = "supervise"
	// ComponentCLI is the host CLI.
	ComponentCLI = "cli"
)

// AuditRecord is one decision, written as one JSON line (MarshalLine). It
// never holds a secret: no header values, no query strings, no bodies.
type AuditRecord struct {
	// Time is when the decision was made; it is required.
	Time time.Time `json:"time"`
	// Component is who decided: ComponentEgress, ComponentGitGate,
	// ComponentSupervise or ComponentCLI; it is required.
	Component string `json:"component"`
	// Bottle is the bottle slug; "" means not known to the component.
	Bottle string `json:"bottle,omitempty"`
	// Method is the HTTP method; "" means not an HTTP request.
	Method string `json:"method,omitempty"`
	// Host is the destination host; "" means none.
	Host string `json:"host,omitempty"`
	// Path is the URL path, never with a query string; "" means none.
	Path string `json:"path,omitempty"`
	// Decision is the outcome; it is required.
	Decision Decision `json:"decision"`
	// Rule is the policy or DLP rule id behind the decision; "" means none
	// in particular (such as the default deny).
	Rule string `json:"rule,omitempty"`
	// Reason explains the decision for people; "" means none.
	Reason string `json:"reason,omitempty"`
	// Status is the HTTP status sent to the client; 0 means none.
	Status int `json:"status,omitempty"`
	// BytesIn counts bytes received from the client; 0 means none (or not
	// counted).
	BytesIn int64 `json:"bytes_in,omitempty"`
	// BytesOut counts bytes sent to the client; 0 means none (or not
	// counted).
	BytesOut int64 `json:"bytes_out,omitempty"`
	// DurationMS is how long handling took, in milliseconds; 0 means not
	// measured.
	DurationMS float64 `json:"duration_ms,omitempty"`
}

// Validate reports every problem with a as a *ValidationError: the time is
// set, the component is known, the decision valid, the path free of any
// query string, and the numbers sane.
func (a *AuditRecord) Validate() error {
	var ps problems
	if a.Time.IsZero() {
		ps.addf("time", "is required")
	}
	switch a.Component {
	case ComponentEgress, ComponentGitGate, ComponentSupervise, ComponentCLI:
	default:
		ps.addf("component", "%q is not a component; use %s, %s, %s or %s", a.Component, ComponentEgress, ComponentGitGate, ComponentSupervise, ComponentCLI)
	}
	if a.Bottle != "" {
		if err := ValidSlug(a.Bottle); err != nil {
			ps.add("bottle", err)
		}
	}
	if _, err := ParseDecision(string(a.Decision)); err != nil {
		ps.add("decision", err)
	}
	if strings.Contains(a.Path, "?") {
		ps.addf("path", "contains '?'; audit records never carry query strings (they may hold secrets), so cut the path at '?'")
	}
	if a.Status != 0 && (a.Status < 100 || a.Status > 999) {
		ps.addf("status", "%d is not an HTTP status", a.Status)
	}
	if a.BytesIn < 0 {
		ps.addf("bytes_in", "is negative")
	}
	if a.BytesOut < 0 {
		ps.addf("bytes_out", "is negative")
	}
	if math.IsNaN(a.DurationMS) || math.IsInf(a.DurationMS, 0) || a.DurationMS < 0 {
		ps.addf("duration_ms", "%v is not a duration", a.DurationMS)
	}
	return ps.err()
}

// MarshalLine returns a as one line of JSON ending in "\n". It does not
// validate a (an audit line is never dropped for being odd), but fails on
// a DurationMS that JSON cannot carry.
func (a AuditRecord) MarshalLine() ([]byte, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
