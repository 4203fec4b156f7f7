package codexauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// standIn builds the agent's auth.json from the host's by the allow-list.
type standIn struct {
	exp          int64          // the host access token's exp
	now          time.Time      // the time of Read, for a missing last_refresh
	idClaims     map[string]any // the host ID token's claims (else the access token's)
	accessClaims map[string]any // the host access token's claims
	// tokens collects every stand-in claim set built, for the leak check.
	tokens []map[string]any
}

// build is the stand-in for the host document doc, as auth.json bytes
// written the way Codex writes them: indented by two spaces, keys sorted.
func (s *standIn) build(doc map[string]any) ([]byte, error) {
	out, err := s.object(doc, authFileList)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// object applies list to the host object m. Keys of m the list does not
// name are redacted; required keys m lacks are written as if null.
func (s *standIn) object(m map[string]any, list map[string]entry) (map[string]any, error) {
	out := make(map[string]any, len(m)+len(list))
	for k, v := range m {
		nv, keep, err := s.apply(list[k], v)
		if err != nil {
			return nil, err
		}
		if keep {
			out[k] = nv
		}
	}
	for k, e := range list {
		if _, ok := m[k]; ok || !e.required {
			continue
		}
		nv, _, err := s.apply(e, nil)
		if err != nil {
			return nil, err
		}
		out[k] = nv
	}
	return out, nil
}

// apply is what e makes of the host value v, and whether the key is
// written at all. An allow-listed key whose value has the wrong type is
// left out: Codex parses those keys strictly, and a placeholder there
// would make it refuse the whole file, where a missing key is just
// "none".
func (s *standIn) apply(e entry, v any) (any, bool, error) {
	switch e.rule {
	case redact:
		if v == nil {
			return nil, true, nil
		}
		return placeholder, true, nil
	case keepString:
		_, ok := v.(string)
		return v, ok || v == nil, nil
	case keepBool:
		_, ok := v.(bool)
		return v, ok, nil
	case null:
		return nil, true, nil
	case placeholderString:
		return placeholder, true, nil
	case chatgptMode:
		return "chatgpt", true, nil
	case timestamp:
		if str, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, str); err == nil {
				return t.UTC().Format(time.RFC3339Nano), true, nil
			}
		}
		return s.now.UTC().Format(time.RFC3339Nano), true, nil
	case hostExpiry:
		return s.exp, true, nil
	case standInID:
		t, err := s.token(s.idClaims)
		return t, true, err
	case standInAccess:
		t, err := s.token(s.accessClaims)
		return t, true, err
	case object:
		switch m := v.(type) {
		case map[string]any:
			o, err := s.object(m, e.list)
			return o, true, err
		case nil:
			if e.required {
				o, err := s.object(nil, e.list)
				return o, true, err
			}
			return nil, true, nil
		}
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("allow-list rule %d has no meaning", e.rule)
}

// token is an unsigned stand-in JWT for a host token with these claims.
func (s *standIn) token(claims map[string]any) (string, error) {
	c, err := s.object(claims, claimsList)
	if err != nil {
		return "", err
	}
	s.tokens = append(s.tokens, c)
	return encodeStandIn(c)
}

// window is the length of the token slices the leak check looks for: long
// enough that an identifier the allow-list keeps does not match a token by
// chance, short enough that any copy of a token worth having is found.
const window = 16

// minSecret is the shortest secret looked for whole. A shorter one is too
// short to be a credential and would match ordinary words.
const minSecret = 8

// secrets are byte strings that must not appear in the stand-in: every
// window-long slice of each host token, and shorter tokens whole.
type secrets struct {
	windows map[[window]byte]struct{}
	short   [][]byte
}

// newSecrets looks for slices of each of list.
func newSecrets(list ...[]byte) *secrets {
	n := 0
	for _, b := range list {
		n += max(len(b)-window+1, 0)
	}
	p := &secrets{windows: make(map[[window]byte]struct{}, n)}
	for _, b := range list {
		if len(b) < window {
			if len(b) >= minSecret {
				p.short = append(p.short, b)
			}
			continue
		}
		for i := 0; i+window <= len(b); i++ {
			p.windows[[window]byte(b[i:i+window])] = struct{}{}
		}
	}
	return p
}

// in reports whether b holds a secret.
func (p *secrets) in(b []byte) bool {
	for i := 0; i+window <= len(b); i++ {
		if _, ok := p.windows[[window]byte(b[i:i+window])]; ok {
			return true
		}
	}
	for _, s := range p.short {
		if bytes.Contains(b, s) {
			return true
		}
	}
	return false
}

// inValue reports whether a key or string anywhere in v holds a secret.
// It sees strings decoded, which a search of the encoded JSON does not
// (a token with a quote in it is escaped there).
func (p *secrets) inValue(v any) bool {
	switch v := v.(type) {
	case string:
		return p.in([]byte(v))
	case json.Number:
		return p.in([]byte(v))
	case map[string]any:
		for k, e := range v {
			if p.in([]byte(k)) || p.inValue(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if p.inValue(e) {
				return true
			}
		}
	}
	return false
}
