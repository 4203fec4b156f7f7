package codexauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// class is what the stand-in does with one field of the host's auth.json.
type class string

const (
	kept        class = "kept"        // the host's value, unchanged
	walked      class = "walked"      // an object whose fields are classified one by one
	standInJWT  class = "stand-in"    // an unsigned stand-in JWT, its claims classified under "(claims)"
	replaced    class = "placeholder" // the placeholder string
	nulled      class = "null"        // null
	hostExpires class = "host exp"    // the host access token's exp
)

// The paths of claims in the fixtures' tokens.
const (
	at        = "tokens / access_token / (claims) / "
	atAuth    = at + "https://api.openai.com/auth / "
	atProfile = at + "https://api.openai.com/profile / "
	id        = "tokens / id_token / (claims) / "
	idAuth    = id + "https://api.openai.com/auth / "
)

// currentFields classifies every field of chatgpt-current.json, the
// claims inside its two tokens included. A field the fixture gains (say
// it is regenerated from a newer Codex) fails the test until it is
// classified here, and kept only if the allow-list says why.
var currentFields = map[string]class{
	"OPENAI_API_KEY":         nulled,
	"auth_mode":              kept,
	"last_refresh":           kept,
	"tokens":                 walked,
	"tokens / account_id":    kept,
	"tokens / refresh_token": replaced,

	"tokens / access_token":               standInJWT,
	at + "aud":                            replaced,
	at + "client_id":                      replaced,
	at + "exp":                            hostExpires,
	at + "https://api.openai.com/auth":    walked,
	atAuth + "chatgpt_account_id":         kept,
	atAuth + "chatgpt_account_user_id":    replaced,
	atAuth + "chatgpt_compute_residency":  replaced,
	atAuth + "chatgpt_plan_type":          kept,
	atAuth + "chatgpt_user_id":            kept,
	atAuth + "localhost":                  replaced,
	atAuth + "poid":                       replaced,
	atAuth + "user_id":                    kept,
	at + "https://api.openai.com/profile": walked,
	atProfile + "email":                   replaced,
	atProfile + "email_verified":          replaced,
	at + "iat":                            replaced,
	at + "iss":                            replaced,
	at + "jti":                            replaced,
	at + "nbf":                            replaced,
	at + "pwd_auth_time":                  replaced,
	at + "scp":                            replaced,
	at + "session_id":                     replaced,
	at + "sub":                            replaced,

	"tokens / id_token":                          standInJWT,
	id + "amr":                                   replaced,
	id + "at_hash":                               replaced,
	id + "aud":                                   replaced,
	id + "auth_provider":                         replaced,
	id + "auth_time":                             replaced,
	id + "email":                                 replaced,
	id + "email_verified":                        replaced,
	id + "exp":                                   hostExpires,
	id + "https://api.openai.com/auth":           walked,
	idAuth + "chatgpt_account_id":                kept,
	idAuth + "chatgpt_account_is_fedramp":        kept,
	idAuth + "chatgpt_plan_type":                 kept,
	idAuth + "chatgpt_subscription_active_start": replaced,
	idAuth + "chatgpt_subscription_active_until": replaced,
	idAuth + "chatgpt_subscription_last_checked": replaced,
	idAuth + "chatgpt_user_id":                   kept,
	idAuth + "completed_platform_onboarding":     replaced,
	idAuth + "groups":                            replaced,
	idAuth + "is_org_owner":                      replaced,
	idAuth + "localhost":                         replaced,
	idAuth + "organization_id":                   replaced,
	idAuth + "organizations":                     replaced,
	idAuth + "project_id":                        replaced,
	idAuth + "user_id":                           kept,
	id + "iat":                                   replaced,
	id + "iss":                                   replaced,
	id + "jti":                                   replaced,
	id + "rat":                                   replaced,
	id + "sid":                                   replaced,
	id + "sub":                                   replaced,
}

// futureFields classifies what chatgpt-future-fields.json adds to the
// current shape: fields nobody has invented yet, at every depth.
var futureFields = map[string]class{
	"agent_identity":  nulled, // another login kind's credential
	"future_flag":     replaced,
	"future_list":     replaced,
	"future_null":     nulled,
	"keyring_hint":    replaced,
	"session_context": replaced,

	"tokens / expires_in":    replaced,
	"tokens / future_list":   replaced,
	"tokens / future_object": replaced,
	"tokens / session_token": replaced,
	"tokens / token_type":    replaced,

	at + "custom_session":                replaced,
	at + "future_list":                   replaced,
	at + "future_nested":                 replaced,
	at + "https://api.openai.com/future": replaced,
	atAuth + "nested":                    replaced,
	atAuth + "session_context":           replaced,
	atProfile + "phone_number":           replaced,
	id + "opaque":                        replaced,
	idAuth + "refresh_hint":              replaced,
}

// decodeNumbers decodes b with numbers as json.Number.
func decodeNumbers(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// classify checks that each field of host became in dummy what table
// says, and records the paths it saw.
func classify(t *testing.T, table map[string]class, seen map[string]bool, path string, host, dummy map[string]any) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(host)) {
		p := k
		if path != "" {
			p = path + " / " + k
		}
		c, ok := table[p]
		if !ok {
			t.Errorf("unclassified field %q: classify it in the table (and keep it only if the allow-list says why)", p)
			continue
		}
		seen[p] = true
		hv := host[k]
		dv, present := dummy[k]
		if !present {
			t.Errorf("%s (%s): missing from the stand-in", p, c)
			continue
		}
		switch c {
		case kept:
			if !reflect.DeepEqual(hv, dv) {
				t.Errorf("%s (kept) = %v, want the host's %v", p, dv, hv)
			}
		case replaced:
			if dv != placeholder {
				t.Errorf("%s (placeholder) = %v", p, dv)
			}
		case nulled:
			if dv != nil {
				t.Errorf("%s (null) = %v", p, dv)
			}
		case hostExpires:
			if dv != json.Number(fmtInt(fxExpires)) {
				t.Errorf("%s (host exp) = %v, want %d", p, dv, fxExpires)
			}
		case walked:
			hm, ok1 := hv.(map[string]any)
			dm, ok2 := dv.(map[string]any)
			if !ok1 || !ok2 {
				t.Errorf("%s (walked): host %T, stand-in %T, want objects", p, hv, dv)
				continue
			}
			if extra := keysNotIn(dm, hm); len(extra) > 0 {
				t.Errorf("%s: the stand-in adds %q", p, extra)
			}
			classify(t, table, seen, p, hm, dm)
		case standInJWT:
			ds, ok := dv.(string)
			if !ok {
				t.Errorf("%s (stand-in) = %T", p, dv)
				continue
			}
			header, claims, sig := standInParts(t, ds)
			if header["alg"] != "none" || sig != standInSignature {
				t.Errorf("%s: header %v, signature %q: not the unsigned stand-in", p, header, sig)
			}
			_, hostClaims, _ := standInParts(t, hv.(string))
			if extra := keysNotIn(claims, hostClaims); len(extra) > 0 {
				t.Errorf("%s: the stand-in adds claims %q", p, extra)
			}
			classify(t, table, seen, p+" / (claims)", hostClaims, claims)
		}
	}
}

func keysNotIn(m, of map[string]any) []string {
	var out []string
	for k := range m {
		if _, ok := of[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }

// assertClassified runs classify over a fixture and fails on table
// entries the fixture does not have, so the table cannot rot either.
func assertClassified(t *testing.T, fixture string, table map[string]class) {
	t.Helper()
	path := fixturePath(t, fixture)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Read(path, testNow)
	if err != nil {
		t.Fatal(err)
	}
	d, err := h.Dummy()
	if err != nil {
		t.Fatal(err)
	}
	host, dummy := decodeNumbers(t, raw), decodeNumbers(t, d)
	if extra := keysNotIn(dummy, host); len(extra) > 0 {
		t.Errorf("the stand-in adds %q", extra)
	}
	seen := map[string]bool{}
	classify(t, table, seen, "", host, dummy)
	for p := range table {
		if !seen[p] {
			t.Errorf("table entry %q is not in %s: remove it, or put the field back in the fixture", p, fixture)
		}
	}
}

func TestStandInClassifiesEveryField(t *testing.T) {
	assertClassified(t, "chatgpt-current.json", currentFields)
}

// TestStandInRedactsUnknownFields is the leak of a field Codex adds
// tomorrow: every value nobody has put on the allow-list, at any depth,
// is replaced, and nothing marked secret in the fixture survives in any
// form.
func TestStandInRedactsUnknownFields(t *testing.T) {
	table := maps.Clone(currentFields)
	maps.Copy(table, futureFields)
	assertClassified(t, "chatgpt-future-fields.json", table)

	h, err := Read(fixturePath(t, "chatgpt-future-fields.json"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := h.Dummy()
	for _, hs := range haystacks(t, d) {
		if bytes.Contains(hs, []byte(futureMark)) {
			t.Fatalf("an unknown field's value reached the stand-in: %.200q", hs)
		}
	}
}

// TestStandInHoldsNoHostTokenBytes is the leak of a token, or a slice of
// one, into the agent's auth.json: no 16-byte slice of any host token or
// of a token's signature, and no token's decoded payload, appears in the
// stand-in's bytes, its decoded strings, or its tokens' decoded segments.
func TestStandInHoldsNoHostTokenBytes(t *testing.T) {
	cases := map[string]func(t *testing.T) string{}
	for _, name := range []string{"chatgpt-current.json", "chatgpt-older.json", "chatgpt-future-fields.json"} {
		cases[name] = func(t *testing.T) string { return fixturePath(t, name) }
	}
	cases["no ID token"] = func(t *testing.T) string {
		doc := fxCurrent(t, "noid", fxExpires)
		delete(doc["tokens"].(map[string]any), "id_token")
		return writeDoc(t, doc)
	}
	cases["opaque ID token"] = func(t *testing.T) string {
		doc := fxCurrent(t, "opaqueid", fxExpires)
		doc["tokens"].(map[string]any)["id_token"] = "idt_" + fxText("opaque-id", 48)
		return writeDoc(t, doc)
	}
	cases["unsigned host tokens"] = func(t *testing.T) string {
		// As test setups write them: alg none, a short signature.
		doc := fxCurrent(t, "unsigned", fxExpires)
		tokens := doc["tokens"].(map[string]any)
		for _, k := range []string{"access_token", "id_token"} {
			parts := strings.Split(tokens[k].(string), ".")
			tokens[k] = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + ".c2ln"
		}
		return writeDoc(t, doc)
	}
	for name, file := range cases {
		t.Run(name, func(t *testing.T) {
			path := file(t)
			h, err := Read(path, testNow)
			if err != nil {
				t.Fatal(err)
			}
			d, err := h.Dummy()
			if err != nil {
				t.Fatal(err)
			}
			assertNoTokenBytes(t, readDoc(t, path), d)
		})
	}
}

// TestStandInTokensAreUnsignedAndCarryTheHostExpiry: both stand-ins are
// alg "none" with the fixed signature, and expire when the host access
// token does, the ID token included (its own exp was an hour after
// issue).
func TestStandInTokensAreUnsignedAndCarryTheHostExpiry(t *testing.T) {
	for _, name := range []string{"chatgpt-current.json", "chatgpt-older.json"} {
		t.Run(name, func(t *testing.T) {
			h, err := Read(fixturePath(t, name), testNow)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := h.Dummy()
			tokens := decodeNumbers(t, d)["tokens"].(map[string]any)
			for _, k := range []string{"access_token", "id_token"} {
				header, claims, sig := standInParts(t, tokens[k].(string))
				if header["alg"] != "none" || header["typ"] != "JWT" || len(header) != 2 {
					t.Errorf("%s header = %v, want alg none, typ JWT", k, header)
				}
				if sig == "" || sig != standInSignature {
					t.Errorf("%s signature = %q, want the fixed stand-in one", k, sig)
				}
				if claims["exp"] != json.Number(fmtInt(fxExpires)) {
					t.Errorf("%s exp = %v, want the host access token's %d", k, claims["exp"], fxExpires)
				}
			}
		})
	}
}

// TestStandInLoadsAsAChatGPTLogin reads each stand-in the way Codex does:
// ChatGPT mode, the same workspace, plan and user, and an access token
// that is not stale, so Codex neither logs out nor tries to refresh.
func TestStandInLoadsAsAChatGPTLogin(t *testing.T) {
	tests := []struct {
		fixture   string
		accountID *string
		plan      string
	}{
		{"chatgpt-current.json", ptr(fxAccountID), "plus"},
		{"chatgpt-older.json", nil, "pro"},
		{"chatgpt-future-fields.json", ptr(fxAccountID), "plus"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			h, err := Read(fixturePath(t, tt.fixture), testNow)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := h.Dummy()
			login, err := codexLoad(d, testNow)
			if err != nil {
				t.Fatalf("Codex would not load the stand-in: %v", err)
			}
			if login.Mode != "chatgpt" {
				t.Errorf("mode = %q, want chatgpt", login.Mode)
			}
			if !reflect.DeepEqual(login.AccountID, tt.accountID) {
				t.Errorf("account_id = %v, want %v", deref(login.AccountID), deref(tt.accountID))
			}
			if deref(login.PlanType) != tt.plan || deref(login.UserID) != fxUserID {
				t.Errorf("plan %q, user %q; want %q, %q", deref(login.PlanType), deref(login.UserID), tt.plan, fxUserID)
			}
			if !login.Expires.Equal(time.Unix(fxExpires, 0)) {
				t.Errorf("expires %v, want the host's", login.Expires)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

// TestStandInEdgesOfTheAllowList: missing and wrongly typed values get a
// stand-in Codex still loads.
func TestStandInEdgesOfTheAllowList(t *testing.T) {
	tests := []struct {
		name   string
		change func(doc, tokens, access, id map[string]any)
		check  func(t *testing.T, dummy, tokens, access, id map[string]any)
	}{
		{"no auth_mode: written as chatgpt", func(doc, _, _, _ map[string]any) { delete(doc, "auth_mode") },
			func(t *testing.T, dummy, _, _, _ map[string]any) { want(t, dummy["auth_mode"], "chatgpt") }},
		{"no OPENAI_API_KEY: written as null", func(doc, _, _, _ map[string]any) { delete(doc, "OPENAI_API_KEY") },
			func(t *testing.T, dummy, _, _, _ map[string]any) { wantKey(t, dummy, "OPENAI_API_KEY", nil) }},
		{"no last_refresh: the time of Read", func(doc, _, _, _ map[string]any) { delete(doc, "last_refresh") },
			func(t *testing.T, dummy, _, _, _ map[string]any) {
				want(t, dummy["last_refresh"], "2026-06-01T12:00:00Z")
			}},
		{"last_refresh not a time: the time of Read", func(doc, _, _, _ map[string]any) { doc["last_refresh"] = "yesterday" },
			func(t *testing.T, dummy, _, _, _ map[string]any) {
				want(t, dummy["last_refresh"], "2026-06-01T12:00:00Z")
			}},
		{"last_refresh with an offset: in UTC", func(doc, _, _, _ map[string]any) { doc["last_refresh"] = "2026-05-31T14:00:03.5+02:00" },
			func(t *testing.T, dummy, _, _, _ map[string]any) {
				want(t, dummy["last_refresh"], "2026-05-31T12:00:03.5Z")
			}},
		{"no refresh token: the placeholder", func(_, tokens, _, _ map[string]any) { delete(tokens, "refresh_token") },
			func(t *testing.T, _, tokens, _, _ map[string]any) { want(t, tokens["refresh_token"], placeholder) }},
		{"null refresh token: the placeholder", func(_, tokens, _, _ map[string]any) { tokens["refresh_token"] = nil },
			func(t *testing.T, _, tokens, _, _ map[string]any) { want(t, tokens["refresh_token"], placeholder) }},
		{"null account_id: null", func(_, tokens, _, _ map[string]any) { tokens["account_id"] = nil },
			func(t *testing.T, _, tokens, _, _ map[string]any) { wantKey(t, tokens, "account_id", nil) }},
		{"account_id not a string: left out", func(_, tokens, _, _ map[string]any) { tokens["account_id"] = 42 },
			func(t *testing.T, _, tokens, _, _ map[string]any) { wantNoKey(t, tokens, "account_id") }},
		{"no ID token: built from the access token", func(_, tokens, _, _ map[string]any) { delete(tokens, "id_token") },
			func(t *testing.T, _, _, _, id map[string]any) {
				want(t, id["https://api.openai.com/auth"].(map[string]any)["chatgpt_account_id"], fxAccountID)
			}},
		{"auth claim not an object: left out", func(_, _, access, _ map[string]any) { access["https://api.openai.com/auth"] = "x" },
			func(t *testing.T, _, _, access, _ map[string]any) {
				wantNoKey(t, access, "https://api.openai.com/auth")
			}},
		{"profile claim not an object: left out", func(_, _, _, id map[string]any) { id["https://api.openai.com/profile"] = []any{fxEmail} },
			func(t *testing.T, _, _, _, id map[string]any) { wantNoKey(t, id, "https://api.openai.com/profile") }},
		{"FedRAMP true: kept", func(_, _, _, id map[string]any) {
			id["https://api.openai.com/auth"].(map[string]any)["chatgpt_account_is_fedramp"] = true
		}, func(t *testing.T, _, _, _, id map[string]any) {
			want(t, id["https://api.openai.com/auth"].(map[string]any)["chatgpt_account_is_fedramp"], true)
		}},
		{"FedRAMP not a boolean: left out", func(_, _, _, id map[string]any) {
			id["https://api.openai.com/auth"].(map[string]any)["chatgpt_account_is_fedramp"] = "yes"
		}, func(t *testing.T, _, _, _, id map[string]any) {
			wantNoKey(t, id["https://api.openai.com/auth"].(map[string]any), "chatgpt_account_is_fedramp")
		}},
		{"FedRAMP null: left out, since Codex wants a boolean", func(_, _, _, id map[string]any) {
			id["https://api.openai.com/auth"].(map[string]any)["chatgpt_account_is_fedramp"] = nil
		}, func(t *testing.T, _, _, _, id map[string]any) {
			wantNoKey(t, id["https://api.openai.com/auth"].(map[string]any), "chatgpt_account_is_fedramp")
		}},
		{"plan not a string: left out", func(_, _, access, _ map[string]any) {
			access["https://api.openai.com/auth"].(map[string]any)["chatgpt_plan_type"] = 3
		}, func(t *testing.T, _, _, access, _ map[string]any) {
			wantNoKey(t, access["https://api.openai.com/auth"].(map[string]any), "chatgpt_plan_type")
		}},
		{"unknown null: null", func(doc, _, _, _ map[string]any) { doc["future"] = nil },
			func(t *testing.T, dummy, _, _, _ map[string]any) { wantKey(t, dummy, "future", nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			access, id := fxAccessClaims("edge", fxExpires), fxIDClaims("edge")
			doc := fxCurrent(t, "edge", fxExpires)
			tokens := doc["tokens"].(map[string]any)
			tt.change(doc, tokens, access, id)
			if _, ok := tokens["access_token"]; ok {
				tokens["access_token"] = fxJWT(t, "edge/access", access)
			}
			if _, ok := tokens["id_token"]; ok {
				tokens["id_token"] = fxJWT(t, "edge/id", id)
			}
			h, err := Read(writeDoc(t, doc), testNow)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := h.Dummy()
			if _, err := codexLoad(d, testNow); err != nil {
				t.Errorf("Codex would not load the stand-in: %v", err)
			}
			dummy := decodeNumbers(t, d)
			dt := dummy["tokens"].(map[string]any)
			_, da, _ := standInParts(t, dt["access_token"].(string))
			_, di, _ := standInParts(t, dt["id_token"].(string))
			tt.check(t, dummy, dt, da, di)
		})
	}
}

func want(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func wantKey(t *testing.T, m map[string]any, k string, v any) {
	t.Helper()
	got, ok := m[k]
	if !ok {
		t.Errorf("%s is missing", k)
		return
	}
	want(t, got, v)
}

func wantNoKey(t *testing.T, m map[string]any, k string) {
	t.Helper()
	if v, ok := m[k]; ok {
		t.Errorf("%s = %#v, want it left out", k, v)
	}
}

// haystacks are every form in which the stand-in could carry a secret:
// its bytes, every key and string in it decoded, and for every string
// that looks like a JWT, each segment base64-decoded and the strings of
// its payload decoded.
func haystacks(t testing.TB, out []byte) [][]byte {
	t.Helper()
	hs := [][]byte{out}
	var doc any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("stand-in is not JSON: %v", err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			hs = append(hs, []byte(v))
			parts := strings.Split(v, ".")
			if len(parts) != 3 {
				return
			}
			for i, p := range parts {
				b, err := base64.RawURLEncoding.DecodeString(p)
				if err != nil {
					continue
				}
				hs = append(hs, b)
				var claims any
				if i == 1 && json.Unmarshal(b, &claims) == nil {
					walk(claims)
				}
			}
		case map[string]any:
			for k, e := range v {
				hs = append(hs, []byte(k))
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return hs
}

// assertNoTokenBytes fails if the stand-in out carries any 16-byte slice
// of a host secret of doc (and so any longer one), in any form.
func assertNoTokenBytes(t testing.TB, doc map[string]any, out []byte) {
	t.Helper()
	secrets, whole := hostSecrets(doc)
	nd := newNeedles(secrets, 16, 8, whole...)
	if len(nd.slice) == 0 && len(nd.whole) == 0 {
		t.Fatal("no secrets to look for: the test would prove nothing")
	}
	for _, h := range haystacks(t, out) {
		if n, ok := nd.in(h); ok {
			t.Fatalf("stand-in holds host token bytes %q", n)
		}
	}
}

// standInParts decodes a stand-in JWT: its header, its claims (numbers as
// json.Number) and its raw signature segment.
func standInParts(t testing.TB, tok string) (map[string]any, map[string]any, string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("stand-in %q is not three parts", tok)
	}
	obj := func(seg string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			t.Fatalf("stand-in segment is not base64url: %v", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("stand-in segment is not a JSON object: %v", err)
		}
		return m
	}
	return obj(parts[0]), obj(parts[1]), parts[2]
}
