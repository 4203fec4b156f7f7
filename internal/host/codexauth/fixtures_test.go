package codexauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fixtures in testdata/ are written by this file (go test -run
// TestFixtures -update) so that their tokens are real JWT encodings of
// the claims below; TestFixtures fails when a file and its definition
// drift apart. Their shape follows what Codex itself reads and writes:
// AuthDotJson and TokenData in codex-rs/login (src/auth/storage.rs,
// src/token_data.rs), the older shape in its backcompat_auth_json.rs
// test (no auth_mode, no account_id, an API key beside the tokens), and
// the claim names public tooling reports seeing in real ChatGPT ID and
// access tokens. Every identifier, address and signature is made up.

var update = flag.Bool("update", false, "rewrite testdata/ from the fixture definitions")

// testNow is the clock of every test: the fixtures' tokens were issued a
// day before it and expire nine days after it.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// The made-up identity of the fixtures.
const (
	fxAccountID = "3f6c2b1e-8a47-4d2b-9c1e-5b7a0d9e4f21"
	fxUserID    = "user-Zq8Rk3VbT2mNw5YhC7pLxA9d"
	fxOrgID     = "org-4HcVt9QwErTyUi0PaSdFgHjK"
	fxProjectID = "proj_8KxLmNbVcZaSdQwEr1Ty2Ui3"
	fxEmail     = "ada.lovelace@example.com"
	fxSubject   = "google-oauth2|104857392018475620394"
	fxClientID  = "app_EMoamEEZ73f0CkXaXp7hrann" // Codex's public OAuth client id
	fxIssuer    = "https://auth.openai.com"
)

var (
	fxIssued  = testNow.Add(-24 * time.Hour).Unix()
	fxExpires = testNow.Add(9 * 24 * time.Hour).Unix()
)

// fxBytes is n made-up bytes that are the same on every run.
func fxBytes(label string, n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		sum := sha256.Sum256([]byte(label + "/" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)))
		out = append(out, sum[:]...)
	}
	return out[:n]
}

func fxText(label string, n int) string {
	return base64.RawURLEncoding.EncodeToString(fxBytes(label, n))
}

// fxJWT is an RS256-looking JWT of claims with a made-up signature.
func fxJWT(t testing.TB, label string, claims map[string]any) string {
	t.Helper()
	header, err := json.Marshal(map[string]any{"alg": "RS256", "kid": fxText(label+"/kid", 12), "typ": "JWT"})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc(header) + "." + enc(payload) + "." + enc(fxBytes(label+"/sig", 256))
}

// fxAccessClaims are the claims of a current ChatGPT access token.
func fxAccessClaims(label string, exp int64) map[string]any {
	return map[string]any{
		"aud":       []any{"https://api.openai.com/v1"},
		"client_id": fxClientID,
		"exp":       exp,
		"https://api.openai.com/auth": map[string]any{
			"chatgpt_account_id":        fxAccountID,
			"chatgpt_account_user_id":   fxUserID + "__" + fxAccountID,
			"chatgpt_compute_residency": "no_constraint",
			"chatgpt_plan_type":         "plus",
			"chatgpt_user_id":           fxUserID,
			"localhost":                 true,
			"poid":                      fxOrgID,
			"user_id":                   fxUserID,
		},
		"https://api.openai.com/profile": map[string]any{
			"email":          fxEmail,
			"email_verified": true,
		},
		"iat":           fxIssued,
		"iss":           fxIssuer,
		"jti":           fxText(label+"/jti", 16),
		"nbf":           fxIssued,
		"pwd_auth_time": fxIssued*1000 - 41873,
		"scp":           []any{"openid", "profile", "email", "offline_access"},
		"session_id":    "authsess_" + fxText(label+"/session", 18),
		"sub":           fxSubject,
	}
}

// fxIDClaims are the claims of a current ChatGPT ID token. It expires an
// hour after issue, long before the test clock: Codex never checks.
func fxIDClaims(label string) map[string]any {
	return map[string]any{
		"amr":            []any{"pwd", "otp", "mfa", "urn:openai:amr:otp_email"},
		"at_hash":        fxText(label+"/at_hash", 16),
		"aud":            []any{fxClientID},
		"auth_provider":  "google",
		"auth_time":      fxIssued - 30,
		"email":          fxEmail,
		"email_verified": true,
		"exp":            fxIssued + 3600,
		"https://api.openai.com/auth": map[string]any{
			"chatgpt_account_id":                fxAccountID,
			"chatgpt_account_is_fedramp":        false,
			"chatgpt_plan_type":                 "plus",
			"chatgpt_subscription_active_start": "2026-05-10T08:21:40+00:00",
			"chatgpt_subscription_active_until": "2026-06-10T08:21:40+00:00",
			"chatgpt_subscription_last_checked": "2026-05-31T11:59:58.123456+00:00",
			"chatgpt_user_id":                   fxUserID,
			"completed_platform_onboarding":     true,
			"groups":                            []any{},
			"is_org_owner":                      true,
			"localhost":                         true,
			"organization_id":                   fxOrgID,
			"organizations": []any{map[string]any{
				"id": fxOrgID, "is_default": true, "role": "owner", "title": "Personal",
			}},
			"project_id": fxProjectID,
			"user_id":    fxUserID,
		},
		"iat": fxIssued,
		"iss": fxIssuer,
		"jti": fxText(label+"/id-jti", 16),
		"rat": fxIssued - 45,
		"sid": fxText(label+"/sid", 24),
		"sub": fxSubject,
	}
}

func fxRefresh(label string) string {
	return "rt_" + fxText(label+"/rt", 32) + "." + fxText(label+"/rt2", 16)
}

// fxCurrent is auth.json as current Codex writes it after
// `codex login --device-auth`.
func fxCurrent(t testing.TB, label string, accessExp int64) map[string]any {
	return map[string]any{
		"OPENAI_API_KEY": nil,
		"auth_mode":      "chatgpt",
		"last_refresh":   "2026-05-31T12:00:03.482917Z",
		"tokens": map[string]any{
			"access_token":  fxJWT(t, label+"/access", fxAccessClaims(label, accessExp)),
			"account_id":    fxAccountID,
			"id_token":      fxJWT(t, label+"/id", fxIDClaims(label)),
			"refresh_token": fxRefresh(label),
		},
	}
}

// futureMark is in every value of the future-fields fixture that the
// stand-in must not keep.
const futureMark = "FUTURE-SECRET"

func fxFuture(label string) string {
	return futureMark + "-" + label + "-" + fxText("future/"+label, 12)
}

// fixtures maps each testdata file to its contents.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	js := func(v any) []byte {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '\n')
	}
	out := map[string][]byte{}

	out["chatgpt-current.json"] = js(fxCurrent(t, "current", fxExpires))

	// A login from before auth_mode and tokens.account_id were written,
	// with the fewer claims tokens carried then.
	olderAccess := map[string]any{
		"aud":       []any{"https://api.openai.com/v1"},
		"client_id": fxClientID,
		"exp":       fxExpires,
		"https://api.openai.com/auth": map[string]any{
			"chatgpt_account_id": fxAccountID,
			"chatgpt_plan_type":  "pro",
			"user_id":            fxUserID,
		},
		"https://api.openai.com/profile": map[string]any{"email": fxEmail, "email_verified": true},
		"iat":                            fxIssued,
		"iss":                            fxIssuer,
		"sub":                            fxSubject,
	}
	olderID := map[string]any{
		"aud":                         []any{fxClientID},
		"email":                       fxEmail,
		"exp":                         fxIssued + 3600,
		"https://api.openai.com/auth": map[string]any{"chatgpt_plan_type": "pro", "user_id": fxUserID},
		"iat":                         fxIssued,
		"iss":                         fxIssuer,
		"sub":                         fxSubject,
	}
	out["chatgpt-older.json"] = js(map[string]any{
		"OPENAI_API_KEY": nil,
		"last_refresh":   "2025-08-20T09:14:51.123456Z",
		"tokens": map[string]any{
			"access_token":  fxJWT(t, "older/access", olderAccess),
			"id_token":      fxJWT(t, "older/id", olderID),
			"refresh_token": fxRefresh("older"),
		},
	})

	// The current shape with fields nobody has invented yet, at every
	// depth, each holding something that must not reach the agent.
	fa := fxAccessClaims("future", fxExpires)
	fa["custom_session"] = fxFuture("claim")
	fa["future_nested"] = map[string]any{"value": fxFuture("claim-nested")}
	fa["future_list"] = []any{fxFuture("claim-list")}
	fa["https://api.openai.com/auth"].(map[string]any)["session_context"] = fxFuture("auth-claim")
	fa["https://api.openai.com/auth"].(map[string]any)["nested"] = map[string]any{"value": fxFuture("auth-claim-nested")}
	fa["https://api.openai.com/profile"].(map[string]any)["phone_number"] = fxFuture("profile")
	fa["https://api.openai.com/future"] = map[string]any{"token": fxFuture("namespace")}
	fi := fxIDClaims("future")
	fi["opaque"] = fxFuture("id-claim")
	fi["https://api.openai.com/auth"].(map[string]any)["refresh_hint"] = fxFuture("id-auth-claim")
	future := fxCurrent(t, "future", fxExpires)
	tokens := future["tokens"].(map[string]any)
	tokens["access_token"] = fxJWT(t, "future/access", fa)
	tokens["id_token"] = fxJWT(t, "future/id", fi)
	tokens["session_token"] = fxFuture("session-token")
	tokens["token_type"] = "Bearer"
	tokens["expires_in"] = 864000
	tokens["future_object"] = map[string]any{"nested": map[string]any{"deeper": fxFuture("tokens-deep")}}
	tokens["future_list"] = []any{map[string]any{"k": fxFuture("tokens-list")}}
	future["session_context"] = map[string]any{"device_secret": fxFuture("top-nested")}
	future["future_flag"] = true
	future["future_list"] = []any{fxFuture("top-list")}
	future["keyring_hint"] = fxFuture("top")
	future["agent_identity"] = fxFuture("agent-identity")
	future["future_null"] = nil
	out["chatgpt-future-fields.json"] = js(future)

	// `codex login --with-api-key` today, and a Python-era file with an
	// API key beside ChatGPT tokens (Codex's backcompat test).
	out["apikey-mode.json"] = js(map[string]any{
		"auth_mode":      "apikey",
		"OPENAI_API_KEY": "sk-proj-" + fxText("apikey", 60),
	})
	python := fxCurrent(t, "python", fxExpires)
	delete(python, "auth_mode")
	delete(python["tokens"].(map[string]any), "account_id")
	python["OPENAI_API_KEY"] = "sk-" + fxText("python-apikey", 36)
	out["apikey-python-era.json"] = js(python)

	// A login whose access token lapsed three hours before the test clock.
	out["expired.json"] = js(fxCurrent(t, "expired", testNow.Add(-3*time.Hour).Unix()))

	// An opaque access token, as in Codex's backcompat test.
	notJWT := fxCurrent(t, "notjwt", fxExpires)
	notJWT["tokens"].(map[string]any)["access_token"] = "at-" + fxText("opaque-access", 40)
	out["not-a-jwt.json"] = js(notJWT)

	// Logged out of ChatGPT with the rest left behind.
	out["missing-tokens.json"] = js(map[string]any{
		"OPENAI_API_KEY": nil,
		"auth_mode":      "chatgpt",
		"last_refresh":   "2026-05-31T12:00:03.482917Z",
	})

	// A write cut short in the middle of the access token.
	whole := js(fxCurrent(t, "malformed", fxExpires))
	cut := bytes.Index(whole, []byte(`"access_token": "`)) + len(`"access_token": "`) + 200
	out["malformed.json"] = whole[:cut]
	return out
}

// TestFixtures keeps testdata/ and the definitions above the same.
func TestFixtures(t *testing.T) {
	want := fixtures(t)
	for name, b := range want {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run: go test ./internal/host/codexauth -run TestFixtures -update)", err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs from its definition in fixtures_test.go (run: go test ./internal/host/codexauth -run TestFixtures -update)", path)
		}
	}
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := want[e.Name()]; !ok && strings.HasSuffix(e.Name(), ".json") {
			t.Errorf("testdata/%s has no definition in fixtures_test.go", e.Name())
		}
	}
}
