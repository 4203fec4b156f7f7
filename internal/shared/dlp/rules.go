package dlp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
)

// DefaultRuleIDs is the curated rule set egress runs on every request:
// gitleaks rules for tokens whose shape (a fixed prefix or an unmistakable
// structure) makes a match near-certain. Left out on purpose: generic-api-key
// (matches any "key = value"), jwt (every session cookie), curl-* (command
// lines) — too many false positives on ordinary traffic, and slow.
var DefaultRuleIDs = []string{
	"anthropic-admin-api-key", "anthropic-api-key",
	"aws-access-token", "aws-amazon-bedrock-api-key-long-lived", "aws-amazon-bedrock-api-key-short-lived",
	"gcp-api-key",
	"github-app-token", "github-fine-grained-pat", "github-oauth", "github-pat", "github-refresh-token",
	"gitlab-cicd-job-token", "gitlab-deploy-token", "gitlab-feature-flag-client-token", "gitlab-feed-token",
	"gitlab-incoming-mail-token", "gitlab-kubernetes-agent-token", "gitlab-oauth-app-secret", "gitlab-pat",
	"gitlab-pat-routable", "gitlab-ptt", "gitlab-rrt", "gitlab-runner-authentication-token",
	"gitlab-runner-authentication-token-routable", "gitlab-scim-token", "gitlab-session-cookie",
	"npm-access-token",
	"openai-api-key",
	"private-key",
	"slack-app-token", "slack-bot-token", "slack-config-access-token", "slack-config-refresh-token",
	"slack-legacy-bot-token", "slack-legacy-token", "slack-legacy-workspace-token", "slack-user-token",
	"slack-webhook-url",
	"stripe-access-token",
}

// gitleaksDefault parses gitleaks' built-in configuration. It is not
// cached: the full config (222 rules with compiled regexes) costs about
// 14 MiB, and a scanner keeps only the rules it selected. It uses its own
// viper instance: the global one is not safe to share.
func gitleaksDefault() (config.Config, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return config.Config{}, fmt.Errorf("read gitleaks default config: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return config.Config{}, fmt.Errorf("decode gitleaks default config: %w", err)
	}
	return vc.Translate()
}

// selectRules returns the named rules of gitleaks' default config; every
// name must exist (a typo must not silently disable a rule).
func selectRules(ids []string) ([]config.Rule, []*config.Allowlist, error) {
	cfg, err := gitleaksDefault()
	if err != nil {
		return nil, nil, err
	}
	out := make([]config.Rule, 0, len(ids))
	for _, id := range ids {
		r, ok := cfg.Rules[id]
		if !ok {
			return nil, nil, fmt.Errorf("dlp: unknown gitleaks rule %q", id)
		}
		if len(r.Keywords) == 0 {
			return nil, nil, fmt.Errorf("dlp: rule %q has no keywords, so it would run on every byte; leave it out", id)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b config.Rule) int { return strings.Compare(a.RuleID, b.RuleID) })
	return out, cfg.Allowlists, nil
}

// AllRuleIDs returns every rule id of gitleaks' default config that has
// keywords, sorted: the full set, for scans where speed matters less
// (pushes through the git gate).
func AllRuleIDs() ([]string, error) {
	cfg, err := gitleaksDefault()
	if err != nil {
		return nil, err
	}
	var ids []string
	for id, r := range cfg.Rules {
		if len(r.Keywords) > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
