package contract_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// checkErr asserts that err is nil when want is "" and otherwise contains
// want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error; want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

// checkProblems asserts that err reports exactly the problems in wants, in
// order: no wants means a nil error; otherwise err is a *ValidationError
// whose i-th problem contains wants[i].
func checkProblems(t *testing.T, err error, wants ...string) {
	t.Helper()
	if len(wants) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error; want %d problems: %q", len(wants), wants)
	}
	var ve *contract.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %q (%T) is not a *ValidationError", err, err)
	}
	if len(ve.Errs) != len(wants) {
		t.Fatalf("got %d problems, want %d:\n  got:  %q\n  want: %q", len(ve.Errs), len(wants), ve.Errs, wants)
	}
	for i, w := range wants {
		var fe *contract.FieldError
		if !errors.As(ve.Errs[i], &fe) {
			t.Errorf("problem %d (%q) is not a *FieldError", i, ve.Errs[i])
		}
		if got := ve.Errs[i].Error(); !strings.Contains(got, w) {
			t.Errorf("problem %d is %q; want it to contain %q", i, got, w)
		}
	}
}

// roundTrip checks that file survives Marshal → parse (YAML) and
// json.Marshal → json.Unmarshal unchanged.
func roundTrip[T any](t *testing.T, name string, file *T, marshal func() ([]byte, error), parse func([]byte) (*T, error)) {
	t.Helper()
	t.Run(name+"/yaml", func(t *testing.T) {
		data, err := marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		got, err := parse(data)
		if err != nil {
			t.Fatalf("parse(Marshal()): %v\n%s", err, data)
		}
		if diff := cmp.Diff(file, got); diff != "" {
			t.Errorf("round trip mismatch (-want +got):\n%s\n%s", diff, data)
		}
	})
	t.Run(name+"/json", func(t *testing.T) {
		data, err := json.Marshal(file)
		if err != nil {
			t.Fatal(err)
		}
		got := new(T)
		if err := json.Unmarshal(data, got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(file, got); diff != "" {
			t.Errorf("round trip mismatch (-want +got):\n%s\n%s", diff, data)
		}
	})
}
