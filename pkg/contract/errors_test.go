package contract_test

import (
	"errors"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

var errSentinel = errors.New("sentinel")

func TestFieldError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *contract.FieldError
		want string
	}{
		{"with field", &contract.FieldError{Field: "routes[2].auth.secret", Err: errSentinel}, "routes[2].auth.secret: sentinel"},
		{"whole value", &contract.FieldError{Err: errSentinel}, "sentinel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
			if !errors.Is(tc.err, errSentinel) {
				t.Error("errors.Is does not see the wrapped error")
			}
		})
	}
}

func TestValidationErrorUnwrap(t *testing.T) {
	other := errors.New("other")
	ve := &contract.ValidationError{Errs: []error{
		&contract.FieldError{Field: "a", Err: other},
		&contract.FieldError{Field: "b", Err: errSentinel},
	}}
	var err error = ve
	if got, want := err.Error(), "a: other; b: sentinel"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, errSentinel) || !errors.Is(err, other) {
		t.Error("errors.Is does not see every problem")
	}
	var fe *contract.FieldError
	if !errors.As(err, &fe) || fe.Field != "a" {
		t.Errorf("errors.As found %v, want the first FieldError", fe)
	}
}

// TestVersionErrorsMatch checks a version problem is recognisable through
// every layer: Parse's direct error and Validate's ValidationError.
func TestVersionErrorsMatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"parse routes", func() error { _, err := contract.ParseRoutes([]byte("version: 2\n")); return err }()},
		{"parse gate", func() error { _, err := contract.ParseGate([]byte("repos: []\n")); return err }()},
		{"validate routes", (&contract.RoutesFile{Version: 3}).Validate()},
		{"validate proposal", (&contract.Proposal{}).Validate()},
		{"parse response", func() error { _, err := contract.ParseResponse([]byte(`{"version": 7}`)); return err }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, contract.ErrUnsupportedVersion) {
				t.Errorf("%v does not match ErrUnsupportedVersion", tc.err)
			}
		})
	}
	if err := (&contract.RoutesFile{Version: 1}).Validate(); errors.Is(err, contract.ErrUnsupportedVersion) {
		t.Errorf("a valid version matches ErrUnsupportedVersion: %v", err)
	}
}
