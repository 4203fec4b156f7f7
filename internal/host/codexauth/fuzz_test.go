package codexauth

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkReadDummy is the invariant of both fuzz targets, for the host file
// data: Read never panics; a refusal holds no slice of a host token; an
// accepted login forwards the host's access token, and its stand-in is
// JSON Codex loads as a ChatGPT login and holds no slice of a host token
// in any form.
func checkReadDummy(t *testing.T, data []byte) {
	path := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := Read(path, testNow)

	var doc map[string]any
	_ = json.Unmarshal(data, &doc) // nil for data Read refused as not JSON
	secrets, whole := hostSecrets(doc)

	if err != nil {
		// Slices of 16 bytes, of secrets of at least 24: shorter ones
		// could be a word of the message itself.
		var long [][]byte
		for _, s := range secrets {
			if len(s) >= 24 {
				long = append(long, s)
			}
		}
		msg := strings.ReplaceAll(err.Error(), path, "")
		if n, ok := newNeedles(long, 16, 16).in([]byte(msg)); ok {
			t.Fatalf("refusal %q holds token bytes %q", err, n)
		}
		return
	}
	tokens, _ := doc["tokens"].(map[string]any)
	if access, _ := tokens["access_token"].(string); h.AccessToken() != access {
		t.Fatal("AccessToken is not the host's tokens.access_token")
	}
	d, err := h.Dummy()
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(d) {
		t.Fatalf("stand-in is not JSON: %q", d)
	}
	if _, err := codexLoad(d, testNow); err != nil {
		t.Fatalf("Codex would not load the stand-in: %v\n%s", err, d)
	}
	nd := newNeedles(secrets, 16, 8, whole...)
	for _, hs := range haystacks(t, d) {
		if n, ok := nd.in(hs); ok {
			t.Fatalf("stand-in holds host token bytes %q", n)
		}
	}
}

// FuzzReadDummy feeds Read whole files: the fixtures, a small login the
// fuzzer can reshape quickly, then mutations.
func FuzzReadDummy(f *testing.F) {
	for _, b := range fixtures(f) {
		f.Add(b)
	}
	small, err := json.Marshal(map[string]any{
		"auth_mode": "chatgpt",
		"tokens": map[string]any{
			"access_token": fxJWT(f, "small", map[string]any{
				"exp":                         fxExpires,
				"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "a", "x": []any{1}},
			}),
			"refresh_token": "rt_0123456789abcdef",
			"x":             map[string]any{"y": nil},
		},
		"last_refresh": "2026-05-31T12:00:00Z",
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Fuzz(checkReadDummy)
}

// FuzzStandInClaims keeps the file well formed and fuzzes the claims of
// its two tokens, where most of the allow-list works: the payloads are
// the fuzzer's bytes, base64url-encoded into otherwise real tokens. The
// seeds are small, the claims that matter and a few that do not: the
// realistic ones are FuzzReadDummy's, and a small input is one the
// fuzzer can minimize and reshape quickly.
func FuzzStandInClaims(f *testing.F) {
	f.Add([]byte(`{"exp":1781092800,"https://api.openai.com/auth":{"chatgpt_account_id":"3f6c","chatgpt_plan_type":"plus","poid":"org-4"},"sub":"g|1"}`),
		[]byte(`{"email":"a@b","https://api.openai.com/auth":{"chatgpt_account_is_fedramp":false,"user_id":"user-Z","groups":[]}}`),
		"3f6c")
	f.Add([]byte(`{"exp":1781092800.5,"https://api.openai.com/profile":{"email":"a@b"},"nested":{"k":[1,{"v":"s"}]}}`),
		[]byte(`{"email":null,"https://api.openai.com/profile":"x","https://api.openai.com/auth":{"chatgpt_account_is_fedramp":"no"}}`),
		"")
	f.Fuzz(func(t *testing.T, access, id []byte, accountID string) {
		enc := base64.RawURLEncoding.EncodeToString
		tok := func(payload []byte, label string) string {
			return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(payload) + "." + enc(fxBytes(label, 64))
		}
		doc := map[string]any{
			"OPENAI_API_KEY": nil,
			"auth_mode":      "chatgpt",
			"last_refresh":   "2026-05-31T12:00:03.482917Z",
			"tokens": map[string]any{
				"access_token":  tok(access, "fuzz/access"),
				"account_id":    accountID,
				"id_token":      tok(id, "fuzz/id"),
				"refresh_token": fxRefresh("fuzz"),
			},
		}
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		checkReadDummy(t, data)
	})
}
