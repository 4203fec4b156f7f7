package dlp

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"
)

// fake builds a deterministic pseudo-random token body from alphabet.
func fake(seed uint64, alphabet string, n int) string {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b32   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	lnum  = "abcdefghijklmnopqrstuvwxyz0123456789"
)

func privateKeyPEM(t testing.TB) string {
	t.Helper()
	priv := ed25519.NewKeyFromSeed([]byte(fake(99, alnum, ed25519.SeedSize)))
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// plantedSecrets are one token per curated family, shaped as gitleaks'
// rules expect.
func plantedSecrets(t testing.TB) map[string]string {
	return map[string]string{
		"github-pat":              "ghp_" + fake(1, alnum, 36),
		"github-fine-grained-pat": "github_pat_" + fake(2, alnum, 82),
		"gitlab-pat":              "glpat-" + fake(3, alnum, 20),
		"slack-bot-token":         "xoxb-" + fake(4, "0123456789", 12) + "-" + fake(5, "0123456789", 12) + "-" + fake(6, alnum, 24),
		"aws-access-token":        "AKIA" + fake(7, b32, 16),
		"openai-api-key":          "sk-proj-" + fake(8, alnum, 74) + "T3BlbkFJ" + fake(9, alnum, 74),
		"anthropic-api-key":       "sk-ant-api03-" + fake(10, alnum, 93) + "AA",
		"stripe-access-token":     "sk_live_" + fake(11, alnum, 24),
		"npm-access-token":        "npm_" + fake(12, lnum, 36),
		"gcp-api-key":             "AIza" + fake(13, alnum, 35),
		"slack-webhook-url":       "https://hooks.slack.com/services/" + fake(14, alnum, 44),
		"private-key":             privateKeyPEM(t),
	}
}

func newScanner(t testing.TB, secrets map[string][]byte) *Scanner {
	t.Helper()
	s, err := New(Options{Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPlantedSecretsAreFound(t *testing.T) {
	s := newScanner(t, nil)
	for rule, secret := range plantedSecrets(t) {
		for _, shape := range []struct{ name, before, after string }{
			{"json", `{"note": "deploy", "token": "`, `", "n": 1}`},
			{"header", "Authorization: Bearer ", "\r\n"},
			{"deep in prose", strings.Repeat("lorem ipsum dolor sit amet ", 2000) + "\n", "\n" + strings.Repeat("consectetur ", 500)},
		} {
			t.Run(rule+"/"+shape.name, func(t *testing.T) {
				data := []byte(shape.before + secret + shape.after)
				f, err := s.Scan(t.Context(), data, nil)
				if err != nil {
					t.Fatal(err)
				}
				if f == nil || f.RuleID != rule {
					t.Fatalf("finding = %+v, want rule %s", f, rule)
				}
				if f.Offset < 0 || f.Offset > len(shape.before) {
					t.Errorf("offset %d outside the window before the secret (%d)", f.Offset, len(shape.before))
				}
			})
		}
	}
}

func TestCleanTrafficHasNoFindings(t *testing.T) {
	s := newScanner(t, nil)
	for name, body := range realisticBodies() {
		t.Run(name, func(t *testing.T) {
			f, err := s.Scan(t.Context(), body, nil)
			if err != nil || f != nil {
				t.Fatalf("Scan = %+v, %v; want no finding", f, err)
			}
		})
	}
	// gitleaks' allowlists still apply: AWS's documented example key.
	if f, _ := s.Scan(t.Context(), []byte(`aws_access_key_id = AKIAIOSFODNN7EXAMPLE`), nil); f != nil {
		t.Errorf("AWS example key flagged: %+v", f)
	}
}

func TestGitleaksAllowCommentDoesNotHideASecret(t *testing.T) {
	s := newScanner(t, nil)
	data := []byte("token = " + plantedSecrets(t)["github-pat"] + " # gitleaks:allow\n")
	if f, err := s.Scan(t.Context(), data, nil); err != nil || f == nil {
		t.Fatalf("Scan = %+v, %v; a gitleaks:allow comment must not exempt agent traffic", f, err)
	}
}

func TestExemptRulesAreSkippedOnlyForThatRule(t *testing.T) {
	s := newScanner(t, nil)
	p := plantedSecrets(t)
	data := []byte("a=" + p["github-pat"] + "\nb=" + p["npm-access-token"] + "\n")
	f, err := s.Scan(t.Context(), data, []string{"github-pat"})
	if err != nil || f == nil || f.RuleID != "npm-access-token" {
		t.Fatalf("with github-pat exempt: %+v, %v; want the npm token", f, err)
	}
	if f, _ := s.Scan(t.Context(), data, []string{"github-pat", "npm-access-token"}); f != nil {
		t.Fatalf("both exempt: %+v", f)
	}
}

func TestHeldSecretsInEveryEncoding(t *testing.T) {
	token := "plain-looking-token-value-42"
	s := newScanner(t, map[string][]byte{"api_token": []byte(token)})
	for name, form := range map[string]string{
		"raw":        token,
		"query":      url.QueryEscape(token + "/+"),
		"base64":     base64.StdEncoding.EncodeToString([]byte(token)),
		"base64url":  base64.RawURLEncoding.EncodeToString([]byte(token)),
		"in a query": "/search?q=" + url.QueryEscape(token),
	} {
		t.Run(name, func(t *testing.T) {
			f, err := s.Scan(t.Context(), []byte("x "+form+" y"), []string{"held-secret:api_token"})
			if err != nil || f == nil || f.RuleID != "held-secret:api_token" {
				t.Fatalf("Scan = %+v, %v; want the held secret (exemption must not apply)", f, err)
			}
		})
	}
}

func TestFindingNeverHoldsTheSecret(t *testing.T) {
	s := newScanner(t, nil)
	secret := plantedSecrets(t)["github-pat"]
	f, _ := s.Scan(t.Context(), []byte(secret), nil)
	if f == nil {
		t.Fatal("no finding")
	}
	if strings.Contains(f.RuleID, secret[4:]) {
		t.Fatal("finding holds the secret")
	}
}

func TestBudgetOverrunFailsClosed(t *testing.T) {
	s := newScanner(t, nil)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := s.Scan(ctx, adversarialTokens(1<<20), nil)
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("Scan with an expired budget = %v, want ErrBudget", err)
	}
}

func TestUnknownRuleIsAnError(t *testing.T) {
	if _, err := New(Options{RuleIDs: []string{"github-pta"}}); err == nil || !strings.Contains(err.Error(), "github-pta") {
		t.Fatalf("New(unknown rule) = %v", err)
	}
	if _, err := New(Options{Secrets: map[string][]byte{"x": nil}}); err == nil {
		t.Fatal("New accepted an empty secret")
	}
}

func TestAllRuleIDsIsASuperset(t *testing.T) {
	all, err := AllRuleIDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range DefaultRuleIDs {
		found := false
		for _, a := range all {
			found = found || a == id
		}
		if !found {
			t.Errorf("curated rule %s is not in the full set", id)
		}
	}
	if len(all) < 3*len(DefaultRuleIDs) {
		t.Errorf("full set has only %d rules", len(all))
	}
}
