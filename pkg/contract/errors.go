package contract

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnsupportedVersion is matched (with errors.Is) by every error about a
// missing, malformed or unsupported contract version, so a sidecar can tell
// "this file is from another bot-bottle release" apart from "this file is
// wrong".
var ErrUnsupportedVersion = errors.New("unsupported contract version")

// versionError carries a version message written for the reader while still
// matching ErrUnsupportedVersion.
type versionError struct{ msg string }

func (e *versionError) Error() string { return e.msg }

func (e *versionError) Is(target error) bool { return target == ErrUnsupportedVersion }

// checkVersion reports whether v is the version this build understands. kind
// names the file or record ("routes file", "proposal") in the message.
func checkVersion(kind string, v int) error {
	switch v {
	case Version:
		return nil
	case 0:
		return &versionError{fmt.Sprintf("is required; add `version: %d`", Version)}
	default:
		return &versionError{fmt.Sprintf("unsupported %s version %d; this build understands version %d (upgrade bot-bottle)", kind, v, Version)}
	}
}

// FieldError is one problem with one field. Field is the path of the field
// in the file or record, written as in the file: "routes[2].auth.secret",
// "repos[0].url", "payload.host". An empty Field means the problem concerns
// the whole value and Error returns Err's text alone.
type FieldError struct {
	// Field is the field path; "" means the value as a whole.
	Field string
	// Err is what is wrong with the field; it must not be nil.
	Err error
}

// Error returns Field + ": " + Err.Error().
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *FieldError) Unwrap() error { return e.Err }

// ValidationError holds every problem a Validate method found, in the order
// the fields appear. Each element is usually a *FieldError. Validate methods
// return a nil error, never an empty ValidationError, when all is well.
//
// Error joins the problems with "; " so the whole report stays on one log
// line; a caller that wants one problem per line ranges over Errs.
// errors.Is and errors.As look through every problem.
type ValidationError struct {
	// Errs are the problems; a nil or empty Errs means none (and is never
	// returned by this package).
	Errs []error
}

// Error returns the problems joined with "; ".
func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap returns Errs, so errors.Is and errors.As see every problem.
func (e *ValidationError) Unwrap() []error { return e.Errs }

// problems collects the FieldErrors of one Validate call.
type problems []error

func (p *problems) add(field string, err error) {
	*p = append(*p, &FieldError{Field: field, Err: err})
}

func (p *problems) addf(field, format string, args ...any) {
	p.add(field, fmt.Errorf(format, args...))
}

// err returns the collected problems as a *ValidationError, or nil.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Errs: p}
}

// join returns the path of a named field inside prefix.
func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// index returns the path of element i of the list at prefix.
func index(prefix string, i int) string {
	return fmt.Sprintf("%s[%d]", prefix, i)
}
