package codexauth

import (
	"errors"
	"fmt"
)

// The kinds of refusal. Every error [Read] returns wraps exactly one, so
// a caller (the launch, doctor) can tell them apart with errors.Is.
var (
	// ErrNoLogin: there is no ChatGPT login to forward: no auth.json, or
	// one without tokens.
	ErrNoLogin = errors.New("no ChatGPT login for codex")
	// ErrUnreadable: the file is there but cannot be used as a login: not
	// a regular file, too large, unreadable, or not JSON.
	ErrUnreadable = errors.New("codex login unreadable")
	// ErrNotChatGPT: the login is an API key or another kind bot-bottle
	// does not forward.
	ErrNotChatGPT = errors.New("codex login is not a ChatGPT login")
	// ErrNotJWT: the access token is not a JWT with an expiry.
	ErrNotJWT = errors.New("codex access token is not a JWT")
	// ErrExpired: the access token has expired or is about to.
	ErrExpired = errors.New("codex access token expired")
	// ErrRedaction: the stand-in would still hold bytes of a host token.
	// The allow-list keeps only identifiers, so this means one of them
	// repeats part of a token; bot-bottle refuses rather than leak it.
	ErrRedaction = errors.New("codex login cannot be redacted")
)

// fixLogin is the fix for nearly every refusal: a fresh device login
// rewrites auth.json with a new ChatGPT login.
const fixLogin = "run `codex login --device-auth` on the host, then try again"

// refusal is an error from [Read]: the file, what is wrong with it and
// how to fix it. None of its text comes from a token.
type refusal struct {
	kind error
	path string
	what string
	fix  string
}

func (r *refusal) Error() string {
	return fmt.Sprintf("codex login %s: %s; to fix, %s", r.path, r.what, r.fix)
}

func (r *refusal) Unwrap() error { return r.kind }

func refuse(kind error, path, fix, format string, args ...any) error {
	return &refusal{kind: kind, path: path, what: fmt.Sprintf(format, args...), fix: fix}
}
