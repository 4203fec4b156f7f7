package codexauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/fileinfo"
)

// MaxSize is the largest auth.json [Read] accepts. A Codex login is a few
// kilobytes; the bound keeps a mistaken path (a log, a disk image) from
// being read into memory.
const MaxSize = 1 << 20

// Skew is how long before its expiry an access token is already refused
// as expired. It errs against the token: a bottle started with a token
// about to lapse fails minutes later, and a host clock a little behind
// would otherwise pass a token the API already refuses.
const Skew = time.Minute

// Read reads the host's Codex login at path (see [Path]) as of now, and
// returns it if egress can forward it, with the agent's stand-in already
// built. Every refusal wraps one of the Err* kinds and ends with its fix.
func Read(path string, now time.Time) (*Host, error) {
	data, warnings, err := readFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := parseDocument(path, data)
	if err != nil {
		return nil, err
	}
	if err := checkMode(path, doc); err != nil {
		return nil, err
	}
	tokens, err := tokensOf(path, doc)
	if err != nil {
		return nil, err
	}
	access := tokens["access_token"].(string) // tokensOf checked
	at, err := parseJWT(access)
	if err != nil {
		return nil, refuse(ErrNotJWT, path, fixLogin, "tokens.access_token is not a JWT: %v", err)
	}
	exp, err := at.expiry()
	if err != nil {
		return nil, refuse(ErrNotJWT, path, fixLogin, "tokens.access_token is not a usable JWT: %v", err)
	}
	if expires := unixTime(exp); !expires.After(now.Add(Skew)) {
		return nil, expired(path, expires, now)
	}

	// Everything the stand-in must not hold: the tokens, and the raw
	// signatures, which a stand-in could only hold by copying them.
	list := [][]byte{[]byte(access), at.sig}
	s := &standIn{exp: exp, now: now, idClaims: at.claims, accessClaims: at.claims}
	if id, ok := tokens["id_token"].(string); ok {
		list = append(list, []byte(id))
		// An ID token Codex could not parse either is replaced by one
		// built from the access token, which names the same account.
		if it, err := parseJWT(id); err == nil {
			s.idClaims = it.claims
			list = append(list, it.sig)
		}
	}
	if rt, ok := tokens["refresh_token"].(string); ok {
		list = append(list, []byte(rt))
	}
	dummy, err := s.build(doc)
	if err != nil {
		return nil, refuse(ErrRedaction, path, fixLogin, "cannot build the agent's stand-in: %v", err)
	}
	if leaked(newSecrets(list...), dummy, s.tokens) {
		return nil, refuse(ErrRedaction, path, fixLogin+"; if it happens again, report it",
			"something bot-bottle keeps for the agent (a field name, an account or user id, the plan) repeats part of a token, so the stand-in would leak it")
	}
	return &Host{
		path:     path,
		expires:  unixTime(exp),
		warnings: warnings,
		held:     func() held { return held{access: access, dummy: dummy} },
	}, nil
}

// leaked reports whether the stand-in holds a secret: in its bytes, in
// its decoded strings, or in the claims its tokens carry (which its bytes
// only hold base64-encoded).
func leaked(p *secrets, dummy []byte, tokens []map[string]any) bool {
	if p.in(dummy) {
		return true
	}
	var decoded any
	if err := json.Unmarshal(dummy, &decoded); err != nil || p.inValue(decoded) {
		return true // a stand-in that does not decode is not handed out either
	}
	for _, c := range tokens {
		if p.inValue(c) {
			return true
		}
	}
	return false
}

// readFile reads path, which must be (or link to) a regular file of at
// most MaxSize bytes. A symbolic link is followed, since dotfile managers
// link auth.json into place; what is checked is the file actually opened,
// so nothing can be swapped in between the check and the read, and the
// open does not block, so a named pipe is refused rather than waited on.
func readFile(path string) ([]byte, []string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, openError(path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, refuse(ErrUnreadable, path, fixLogin, "cannot be read: %v", reason(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, refuse(ErrUnreadable, path, fixLogin, "is %s, not a regular file", fileinfo.Kind(fi.Mode()))
	}
	if fi.Size() > MaxSize {
		return nil, nil, tooLarge(path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, nil, refuse(ErrUnreadable, path, fixLogin, "cannot be read: %v", reason(err))
	}
	if len(data) > MaxSize {
		return nil, nil, tooLarge(path) // it grew since the stat
	}
	var warnings []string
	if perm := fi.Mode().Perm(); perm&0o004 != 0 && runtime.GOOS != "windows" {
		warnings = append(warnings, fmt.Sprintf("%s is readable by every user of this machine (mode %04o); it holds your Codex login: chmod 600 %s", path, perm, path))
	}
	return data, warnings, nil
}

func openError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return refuse(ErrNoLogin, path, fixLogin, "is a symbolic link to a file that does not exist")
		}
		return refuse(ErrNoLogin, path, fixLogin+
			" (if Codex's config.toml sets cli_auth_credentials_store to \"keyring\" or \"auto\", it keeps the login in the OS keyring instead: set it to \"file\" and log in again)",
			"does not exist, so Codex is not logged in with ChatGPT here")
	case errors.Is(err, fs.ErrPermission):
		return refuse(ErrUnreadable, path, "make it readable by you (it is yours: chmod 600 it), or "+fixLogin,
			"cannot be read: permission denied")
	}
	return refuse(ErrUnreadable, path, fixLogin, "cannot be opened: %v", reason(err))
}

func tooLarge(path string) error {
	return refuse(ErrUnreadable, path, fixLogin, "is larger than %d bytes; a Codex login is a few kilobytes", MaxSize)
}

// reason is the system's word for err without the path it repeats.
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parseDocument decodes data as one JSON object, numbers kept exact. A
// syntax error is reported by its offset only: encoding/json quotes the
// offending character, and this file is full of secrets.
func parseDocument(path string, data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.Is(err, io.EOF):
			return nil, refuse(ErrUnreadable, path, fixLogin, "is empty")
		case errors.As(err, &se):
			return nil, refuse(ErrUnreadable, path, fixLogin, "is not valid JSON (syntax error at byte %d)", se.Offset)
		default:
			return nil, refuse(ErrUnreadable, path, fixLogin, "is not valid JSON (it ends too early)")
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, refuse(ErrUnreadable, path, fixLogin, "is not valid JSON (more follows its first value)")
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, refuse(ErrUnreadable, path, fixLogin, "does not hold a JSON object")
	}
	return doc, nil
}

// The auth_mode values Codex knows (AuthMode in codex-rs's
// app-server-protocol), so a message may name one; any other value is
// not quoted, since it came from the file.
var otherModes = map[string]string{
	"apikey":              "an API-key",
	"chatgptAuthTokens":   "an externally managed ChatGPT token",
	"headers":             "a request-headers",
	"agentIdentity":       "an agent-identity",
	"personalAccessToken": "a personal-access-token",
	"bedrockApiKey":       "an Amazon Bedrock API-key",
	"bedrockAccessKeys":   "an Amazon Bedrock access-key",
}

// fixAPIKey replaces a login of another kind with a ChatGPT one.
const fixAPIKey = "run `codex logout`, then `codex login --device-auth`, on the host, then try again"

// checkMode refuses every login but ChatGPT's. Codex takes auth_mode
// when it is set; without it, the other kinds' credentials select
// their kind (AuthDotJson::resolved_mode in codex-rs/login).
func checkMode(path string, doc map[string]any) error {
	if mode, ok := doc["auth_mode"]; ok && mode != nil {
		str, _ := mode.(string)
		if str == "chatgpt" {
			// An API key left beside a ChatGPT login is still refused:
			// the operator's intent is unclear, and the key is live.
			if doc["OPENAI_API_KEY"] != nil {
				return refuse(ErrNotChatGPT, path, fixAPIKey,
					"holds an OpenAI API key (OPENAI_API_KEY is set) beside its ChatGPT login; bot-bottle forwards ChatGPT logins only")
			}
			return nil
		}
		if kind, known := otherModes[str]; known {
			return refuse(ErrNotChatGPT, path, fixAPIKey,
				"is %s login (auth_mode %q); bot-bottle forwards ChatGPT logins only", kind, str)
		}
		return refuse(ErrNotChatGPT, path, fixAPIKey,
			"has an auth_mode bot-bottle does not know; bot-bottle forwards ChatGPT logins (auth_mode \"chatgpt\") only")
	}
	if doc["OPENAI_API_KEY"] != nil {
		return refuse(ErrNotChatGPT, path, fixAPIKey,
			"is an API-key login (OPENAI_API_KEY is set); bot-bottle forwards ChatGPT logins only")
	}
	for _, k := range []string{"personal_access_token", "bedrock_api_key", "bedrock_access_keys"} {
		if doc[k] != nil {
			return refuse(ErrNotChatGPT, path, fixAPIKey,
				"is not a ChatGPT login (%s is set); bot-bottle forwards ChatGPT logins only", k)
		}
	}
	return nil
}

// tokensOf is the login's "tokens" object, which must hold a non-empty
// access token.
func tokensOf(path string, doc map[string]any) (map[string]any, error) {
	v := doc["tokens"]
	if v == nil {
		return nil, refuse(ErrNoLogin, path, fixLogin, "has no ChatGPT tokens (no \"tokens\" object)")
	}
	tokens, ok := v.(map[string]any)
	if !ok {
		return nil, refuse(ErrNoLogin, path, fixLogin, "has no ChatGPT tokens (\"tokens\" is not an object)")
	}
	if s, ok := tokens["access_token"].(string); !ok || s == "" {
		return nil, refuse(ErrNoLogin, path, fixLogin, "has no access token (tokens.access_token is missing or empty)")
	}
	return tokens, nil
}

// expired is the refusal of a token that expired at expires, or will
// within Skew.
func expired(path string, expires, now time.Time) error {
	at := expires.UTC().Format(time.RFC3339)
	if expires.After(now) {
		return refuse(ErrExpired, path, fixLogin,
			"the access token expires at %s, in %v: too soon to start a bottle with", at, expires.Sub(now).Round(time.Second))
	}
	return refuse(ErrExpired, path, fixLogin,
		"the access token expired at %s, %v ago", at, now.Sub(expires).Round(time.Second))
}
