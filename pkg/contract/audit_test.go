package contract_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func auditRecord() contract.AuditRecord {
	return contract.AuditRecord{
		Time:       when,
		Component:  contract.ComponentEgress,
		Bottle:     "dev",
		Method:     "GET",
		Host:       "api.example.test",
		Path:       "/v1/models",
		Decision:   contract.DecisionAllow,
		Rule:       "routes[0]",
		Reason:     "route allows path",
		Status:     200,
		BytesIn:    120,
		BytesOut:   4096,
		DurationMS: 12.5,
	}
}

func TestAuditValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*contract.AuditRecord)
		wants []string
	}{
		{"good", func(*contract.AuditRecord) {}, nil},
		{"minimal", func(a *contract.AuditRecord) {
			*a = contract.AuditRecord{Time: when, Component: contract.ComponentGitGate, Decision: contract.DecisionDeny}
		}, nil},
		{"no time", func(a *contract.AuditRecord) { a.Time = time.Time{} }, []string{"time: is required"}},
		{"unknown component", func(a *contract.AuditRecord) { a.Component = "proxy" }, []string{`component: "proxy" is not a component; use egress, gitgate, supervise or cli`}},
		{"bad decision", func(a *contract.AuditRecord) { a.Decision = "block" }, []string{`decision: "block" is not a decision`}},
		{"query string", func(a *contract.AuditRecord) { a.Path = "/v1?token=hunter2" }, []string{"path: contains '?'; audit records never carry query strings"}},
		{"bad bottle", func(a *contract.AuditRecord) { a.Bottle = "Dev" }, []string{"bottle: bottle slug"}},
		{"bad status", func(a *contract.AuditRecord) { a.Status = 42 }, []string{"status: 42 is not an HTTP status"}},
		{"negative bytes", func(a *contract.AuditRecord) { a.BytesIn, a.BytesOut = -1, -2 }, []string{"bytes_in: is negative", "bytes_out: is negative"}},
		{"nan duration", func(a *contract.AuditRecord) { a.DurationMS = math.NaN() }, []string{"duration_ms: NaN is not a duration"}},
		{"everything wrong", func(a *contract.AuditRecord) { *a = contract.AuditRecord{Path: "/?"} }, []string{"time", "component", "decision", "path"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := auditRecord()
			tc.edit(&a)
			checkProblems(t, a.Validate(), tc.wants...)
		})
	}
}

func TestAuditMarshalLine(t *testing.T) {
	a := auditRecord()
	a.Reason = "two\nlines \u2028 and a separator"
	line, err := a.MarshalLine()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("MarshalLine() = %q; want exactly one line", line)
	}
	var got contract.AuditRecord
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}

	minimal, err := contract.AuditRecord{Time: when, Component: contract.ComponentCLI, Decision: contract.DecisionError}.MarshalLine()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"time":"2025-12-02T15:04:05Z","component":"cli","decision":"error"}` + "\n"; string(minimal) != want {
		t.Errorf("MarshalLine() = %q, want %q (empty fields omitted)", minimal, want)
	}

	a.DurationMS = math.Inf(1)
	if _, err := a.MarshalLine(); err == nil {
		t.Error("MarshalLine with an infinite duration succeeded")
	}
}
