package codexauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Host is a host Codex ChatGPT login that egress may forward, as [Read]
// found it: the access token and the agent's stand-in auth.json.
//
// A Host prints (with any fmt verb), logs and marshals to JSON as its path
// and expiry only.
type Host struct {
	path     string
	expires  time.Time
	warnings []string
	// held returns what the Host must never show. It is a func because
	// fmt, printing a Host whose methods it may not call (an unexported
	// field of some other struct), walks its fields: it would print a
	// string, and with a wrong verb even a pointer's target, in full, but
	// prints a func as an address.
	held func() held
}

// held is what a Host must never show.
type held struct {
	access string // the host access token
	dummy  []byte // the stand-in auth.json
}

// Path is the auth.json the login was read from.
func (h *Host) Path() string { return h.path }

// Expires is when the access token expires; the bottle's Codex stops
// working then, until the host logs in again and the bottle restarts.
func (h *Host) Expires() time.Time { return h.expires }

// Warnings are problems worth telling the operator that do not stop the
// launch, such as an auth.json every user may read. Nil when none.
func (h *Host) Warnings() []string { return slices.Clone(h.warnings) }

// AccessToken is the host's access token, for egress to send as
// "Authorization: Bearer <token>" to api.openai.com and chatgpt.com. It
// goes to egress's secrets and nowhere else: never to the agent, a file
// the agent can read, a log or a message. Empty for a zero Host.
func (h *Host) AccessToken() string {
	if h.held == nil {
		return ""
	}
	return h.held().access
}

// Dummy is the agent's auth.json: the host's, with every value the
// allow-list does not keep replaced (see the package doc). It holds no
// byte of a host token; [Read] checked that before returning.
func (h *Host) Dummy() ([]byte, error) {
	if h.held == nil {
		return nil, errors.New("codex login: no login was read (use codexauth.Read)")
	}
	return slices.Clone(h.held().dummy), nil
}

// redacted is what a Host shows of itself.
func (h Host) redacted() string {
	return fmt.Sprintf("codex login %s (access token expires %s)", h.path, h.expires.UTC().Format(time.RFC3339))
}

// Format writes the path and expiry, whatever the verb.
func (h Host) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(h.redacted())) }

// LogValue logs the path and expiry.
func (h Host) LogValue() slog.Value {
	return slog.GroupValue(slog.String("path", h.path), slog.Time("expires", h.expires))
}

// MarshalJSON writes the path and expiry.
func (h Host) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Path    string    `json:"path"`
		Expires time.Time `json:"expires"`
	}{h.path, h.expires})
}

var (
	_ fmt.Formatter  = Host{}
	_ slog.LogValuer = Host{}
	_ json.Marshaler = Host{}
)
