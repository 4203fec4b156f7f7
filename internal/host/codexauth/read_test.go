package codexauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestReadAcceptsChatGPTLogins(t *testing.T) {
	for _, name := range []string{"chatgpt-current.json", "chatgpt-older.json", "chatgpt-future-fields.json"} {
		t.Run(name, func(t *testing.T) {
			path := fixturePath(t, name)
			h, err := Read(path, testNow)
			if err != nil {
				t.Fatal(err)
			}
			want := readDoc(t, path)["tokens"].(map[string]any)["access_token"]
			if h.AccessToken() != want {
				t.Error("AccessToken is not the host's tokens.access_token")
			}
			if !h.Expires().Equal(time.Unix(fxExpires, 0)) {
				t.Errorf("Expires = %v, want %v", h.Expires(), time.Unix(fxExpires, 0).UTC())
			}
			if h.Path() != path {
				t.Errorf("Path = %q, want %q", h.Path(), path)
			}
			if w := h.Warnings(); w != nil {
				t.Errorf("Warnings = %q, want none for a 0600 file", w)
			}
		})
	}
}

// TestReadExpiryBoundary pins Skew: a token is refused until it has more
// than Skew left.
func TestReadExpiryBoundary(t *testing.T) {
	path := fixturePath(t, "chatgpt-current.json")
	exp := time.Unix(fxExpires, 0)
	if _, err := Read(path, exp.Add(-Skew)); !errors.Is(err, ErrExpired) {
		t.Errorf("with exactly Skew left: err = %v, want ErrExpired", err)
	}
	if _, err := Read(path, exp.Add(-Skew-time.Second)); err != nil {
		t.Errorf("with Skew and a second left: %v", err)
	}
}

// jwtWith is a host-looking token whose payload is the given bytes.
func jwtWith(t *testing.T, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + "." + enc(fxBytes("sig/"+payload, 256))
}

// withAccess is the current fixture with its access token replaced.
func withAccess(t *testing.T, access string) map[string]any {
	doc := fxCurrent(t, "case", fxExpires)
	doc["tokens"].(map[string]any)["access_token"] = access
	return doc
}

func TestReadRefuses(t *testing.T) {
	good := fxJWT(t, "refuse/access", fxAccessClaims("refuse", fxExpires))
	standIn := func(t *testing.T) string {
		h, err := Read(fixturePath(t, "chatgpt-current.json"), testNow)
		if err != nil {
			t.Fatal(err)
		}
		d, err := h.Dummy()
		if err != nil {
			t.Fatal(err)
		}
		return writeDoc(t, d)
	}
	tests := []struct {
		name string
		file func(t *testing.T) string // writes the host file, returns its path
		kind error
		says []string // what the message must say, beyond the path and the fix
	}{
		{"missing file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "auth.json") },
			ErrNoLogin, []string{"does not exist", "cli_auth_credentials_store"}},
		{"missing CODEX_HOME", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope", "auth.json") },
			ErrNoLogin, []string{"does not exist"}},
		{"dangling symlink", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "auth.json")
			if err := os.Symlink(filepath.Join(t.TempDir(), "gone.json"), p); err != nil {
				t.Skip("no symlinks here:", err)
			}
			return p
		}, ErrNoLogin, []string{"symbolic link to a file that does not exist"}},
		{"directory", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "auth.json")
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrUnreadable, []string{"is a directory, not a regular file"}},
		{"huge file", func(t *testing.T) string {
			// Made here, not kept in testdata: a sparse file just over the bound.
			p := filepath.Join(t.TempDir(), "auth.json")
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(MaxSize + 1); err != nil {
				t.Fatal(err)
			}
			return p
		}, ErrUnreadable, []string{"larger than 1048576 bytes"}},
		{"empty file", func(t *testing.T) string { return writeDoc(t, []byte{}) },
			ErrUnreadable, []string{"is empty"}},
		{"malformed JSON", func(t *testing.T) string { return fixturePath(t, "malformed.json") },
			ErrUnreadable, []string{"not valid JSON"}},
		{"syntax error names the byte only", func(t *testing.T) string {
			return writeDoc(t, []byte(`{"tokens": {"access_token": `+good[:40]+`}}`))
		}, ErrUnreadable, []string{"syntax error at byte 29"}},
		{"not an object", func(t *testing.T) string { return writeDoc(t, []any{good}) },
			ErrUnreadable, []string{"does not hold a JSON object"}},
		{"two documents", func(t *testing.T) string {
			b, _ := json.Marshal(fxCurrent(t, "two", fxExpires))
			return writeDoc(t, append(append(b, '\n'), b...))
		}, ErrUnreadable, []string{"more follows"}},
		{"API-key mode", func(t *testing.T) string { return fixturePath(t, "apikey-mode.json") },
			ErrNotChatGPT, []string{`API-key login (auth_mode "apikey")`, "codex logout", "ChatGPT logins only"}},
		{"Python-era API key beside tokens", func(t *testing.T) string { return fixturePath(t, "apikey-python-era.json") },
			ErrNotChatGPT, []string{"API-key login (OPENAI_API_KEY is set)"}},
		{"API key beside a ChatGPT login", func(t *testing.T) string {
			doc := fxCurrent(t, "both", fxExpires)
			doc["OPENAI_API_KEY"] = "sk-proj-" + fxText("both-key", 60)
			return writeDoc(t, doc)
		}, ErrNotChatGPT, []string{"OPENAI_API_KEY is set", "beside its ChatGPT login"}},
		{"empty API key still selects API-key mode", func(t *testing.T) string {
			doc := fxCurrent(t, "empty-key", fxExpires)
			delete(doc, "auth_mode")
			doc["OPENAI_API_KEY"] = ""
			return writeDoc(t, doc)
		}, ErrNotChatGPT, []string{"OPENAI_API_KEY is set"}},
		{"Bedrock mode", func(t *testing.T) string {
			return writeDoc(t, map[string]any{"auth_mode": "bedrockApiKey", "bedrock_api_key": "br-" + fxText("br", 40)})
		}, ErrNotChatGPT, []string{`Amazon Bedrock API-key login (auth_mode "bedrockApiKey")`}},
		{"personal access token without auth_mode", func(t *testing.T) string {
			doc := fxCurrent(t, "pat", fxExpires)
			delete(doc, "auth_mode")
			doc["personal_access_token"] = "pat_" + fxText("pat", 40)
			return writeDoc(t, doc)
		}, ErrNotChatGPT, []string{"personal_access_token is set"}},
		{"unknown auth_mode is not quoted", func(t *testing.T) string {
			doc := fxCurrent(t, "mode", fxExpires)
			doc["auth_mode"] = good // whatever is there might be a secret
			return writeDoc(t, doc)
		}, ErrNotChatGPT, []string{"auth_mode bot-bottle does not know"}},
		{"no tokens", func(t *testing.T) string { return fixturePath(t, "missing-tokens.json") },
			ErrNoLogin, []string{`no "tokens" object`}},
		{"tokens not an object", func(t *testing.T) string {
			doc := fxCurrent(t, "tokstr", fxExpires)
			doc["tokens"] = good
			return writeDoc(t, doc)
		}, ErrNoLogin, []string{`"tokens" is not an object`}},
		{"no access token", func(t *testing.T) string {
			doc := fxCurrent(t, "noaccess", fxExpires)
			delete(doc["tokens"].(map[string]any), "access_token")
			return writeDoc(t, doc)
		}, ErrNoLogin, []string{"tokens.access_token is missing or empty"}},
		{"empty access token", func(t *testing.T) string { return writeDoc(t, withAccess(t, "")) },
			ErrNoLogin, []string{"tokens.access_token is missing or empty"}},
		{"opaque access token", func(t *testing.T) string { return fixturePath(t, "not-a-jwt.json") },
			ErrNotJWT, []string{"not a JWT", "three non-empty parts"}},
		{"unsigned JWT with an empty signature", func(t *testing.T) string {
			parts := strings.Split(good, ".")
			return writeDoc(t, withAccess(t, parts[0]+"."+parts[1]+"."))
		}, ErrNotJWT, []string{"three non-empty parts"}},
		{"four parts", func(t *testing.T) string { return writeDoc(t, withAccess(t, good+"."+good[:20])) },
			ErrNotJWT, []string{"three non-empty parts"}},
		{"padded base64", func(t *testing.T) string {
			parts := strings.Split(good, ".")
			return writeDoc(t, withAccess(t, parts[0]+"."+parts[1]+"==."+parts[2]))
		}, ErrNotJWT, []string{"base64url"}},
		{"CRLF in the token", func(t *testing.T) string {
			parts := strings.Split(good, ".")
			return writeDoc(t, withAccess(t, parts[0]+"."+parts[1]+"."+parts[2][:100]+"\r\nX-Injected: 1"))
		}, ErrNotJWT, []string{"base64url"}},
		{"header not JSON", func(t *testing.T) string {
			parts := strings.Split(good, ".")
			return writeDoc(t, withAccess(t, base64.RawURLEncoding.EncodeToString([]byte("RS256"))+"."+parts[1]+"."+parts[2]))
		}, ErrNotJWT, []string{"header is not a JSON object"}},
		{"payload with more after the object", func(t *testing.T) string {
			return writeDoc(t, withAccess(t, jwtWith(t, `{"exp":1781092800}x`)))
		}, ErrNotJWT, []string{"payload is not a JSON object"}},
		{"payload not an object", func(t *testing.T) string { return writeDoc(t, withAccess(t, jwtWith(t, `[1781092800]`))) },
			ErrNotJWT, []string{"payload is not a JSON object"}},
		{"no exp", func(t *testing.T) string {
			return writeDoc(t, withAccess(t, jwtWith(t, `{"sub":"google-oauth2|104857392018475620394","iat":1780228800}`)))
		}, ErrNotJWT, []string{"no exp claim"}},
		{"exp not a number", func(t *testing.T) string { return writeDoc(t, withAccess(t, jwtWith(t, `{"exp":"2026-06-10"}`))) },
			ErrNotJWT, []string{"exp claim is not a time"}},
		{"exp out of range", func(t *testing.T) string { return writeDoc(t, withAccess(t, jwtWith(t, `{"exp":1e300}`))) },
			ErrNotJWT, []string{"exp claim is not a time"}},
		{"a stand-in copied out of a bottle", standIn,
			ErrNotJWT, []string{"bot-bottle's unsigned stand-in"}},
		{"expired", func(t *testing.T) string { return fixturePath(t, "expired.json") },
			ErrExpired, []string{"expired at 2026-06-01T09:00:00Z, 3h0m0s ago"}},
		{"expires within the skew", func(t *testing.T) string {
			return writeDoc(t, fxCurrent(t, "soon", testNow.Add(30*time.Second).Unix()))
		}, ErrExpired, []string{"expires at 2026-06-01T12:00:30Z, in 30s: too soon"}},
		{"an identifier repeating a token slice", func(t *testing.T) string {
			doc := fxCurrent(t, "leak", fxExpires)
			tokens := doc["tokens"].(map[string]any)
			tokens["account_id"] = tokens["refresh_token"].(string)[5:40]
			return writeDoc(t, doc)
		}, ErrRedaction, []string{"repeats part of a token", "report it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.file(t)
			raw, _ := os.ReadFile(path) // read before Read, which must not care
			h, err := Read(path, testNow)
			if err == nil {
				t.Fatalf("Read accepted it (token expires %v)", h.Expires())
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("err = %v, want kind %v", err, tt.kind)
			}
			msg := err.Error()
			for _, want := range append([]string{path, "codex login --device-auth", "on the host"}, tt.says...) {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %q", msg, want)
				}
			}
			assertNoSecretIn(t, msg, raw)
		})
	}
}

// tokenLike are runs of JWT and key alphabet long enough to be a token
// or a key: found in the raw file, so that a file that does not even
// parse is searched too.
var tokenLike = regexp.MustCompile(`[A-Za-z0-9_\-.~+/=]{40,}`)

// assertNoSecretIn fails if msg holds any 8-byte slice of a host token,
// key or signature of the file raw, or a token's decoded payload whole.
func assertNoSecretIn(t *testing.T, msg string, raw []byte) {
	t.Helper()
	var secrets, whole [][]byte
	var doc map[string]any
	if json.Unmarshal(raw, &doc) == nil {
		secrets, whole = hostSecrets(doc)
	}
	secrets = append(secrets, tokenLike.FindAll(raw, -1)...)
	own := []byte(placeholder + "\n" + "bot-bottle: unsigned stand-in") // a stand-in's own words are no secret
	nd := newNeedles(secrets, 8, 8, whole...)
	for s := range nd.slice {
		if bytes.Contains(own, []byte(s)) {
			delete(nd.slice, s)
		}
	}
	if n, ok := nd.in([]byte(msg)); ok {
		t.Errorf("message %q holds token bytes %q", msg, n)
	}
}
