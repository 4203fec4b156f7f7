package codexauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These helpers look for leaks on their own, by brute force, rather than
// through the package's secrets type: a test that shared the code it
// checks would share its bugs.

// hostSecrets are the byte strings of the host login the agent must never
// see: the three tokens and an API key, and the raw signature of each
// token that is a JWT (no slice of any of them may appear); and whole,
// since the claims inside may be kept one by one, each JWT's decoded
// payload.
func hostSecrets(doc map[string]any) (out, whole [][]byte) {
	if k, ok := doc["OPENAI_API_KEY"].(string); ok {
		out = append(out, []byte(k))
	}
	tokens, _ := doc["tokens"].(map[string]any)
	for _, name := range []string{"access_token", "id_token", "refresh_token"} {
		s, ok := tokens[name].(string)
		if !ok {
			continue
		}
		out = append(out, []byte(s))
		if parts := strings.Split(s, "."); len(parts) == 3 {
			if sig, err := base64.RawURLEncoding.DecodeString(parts[2]); err == nil && len(sig) > 0 {
				out = append(out, sig)
			}
			if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil && len(payload) > 0 {
				whole = append(whole, payload)
			}
		}
	}
	return out, whole
}

// needles is what a leak search looks for: byte strings of one length,
// found by sliding over the haystack, and others found whole.
type needles struct {
	n     int
	slice map[string]bool
	whole [][]byte
}

// newNeedles looks for each of secrets that is at least min bytes long:
// every n-byte slice of the longer ones (and so any longer slice), the
// shorter ones whole; and for each of whole, whole.
func newNeedles(secrets [][]byte, n, min int, whole ...[]byte) needles {
	nd := needles{n: n, slice: map[string]bool{}}
	for _, s := range secrets {
		switch {
		case len(s) >= n:
			for i := 0; i+n <= len(s); i++ {
				nd.slice[string(s[i:i+n])] = true
			}
		case len(s) >= min:
			nd.whole = append(nd.whole, s)
		}
	}
	for _, w := range whole {
		if len(w) > 0 {
			nd.whole = append(nd.whole, w)
		}
	}
	return nd
}

// in returns a needle found in haystack.
func (nd needles) in(haystack []byte) ([]byte, bool) {
	for i := 0; i+nd.n <= len(haystack); i++ {
		if nd.slice[string(haystack[i:i+nd.n])] {
			return haystack[i : i+nd.n], true
		}
	}
	for _, w := range nd.whole {
		if bytes.Contains(haystack, w) {
			return w, true
		}
	}
	return nil, false
}

// readDoc decodes the auth.json at path as Read's caller would see it.
func readDoc(t testing.TB, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// writeDoc writes doc as auth.json in a new directory and returns its
// path.
func writeDoc(t *testing.T, doc any) string {
	t.Helper()
	b, ok := doc.([]byte)
	if !ok {
		var err error
		b, err = json.MarshalIndent(doc, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fixturePath is testdata/name, copied to a private file so that its
// mode is the one Read expects whatever the checkout gave it.
func fixturePath(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
