package codexauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// codexLoad loads a stand-in the way Codex does (codex-rs/login:
// AuthDotJson, TokenData, IdClaims, resolved_mode, get_token_data,
// is_stale_for_proactive_refresh), with Go types as strict as Codex's
// serde ones, and returns what Codex would make of it.
type codexLogin struct {
	Mode      string
	AccountID *string // tokens.account_id
	PlanType  *string // from the ID token
	UserID    *string // from the ID token
	Expires   time.Time
}

func codexLoad(b []byte, now time.Time) (codexLogin, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return codexLogin{}, fmt.Errorf("auth.json: %w", err)
	}
	var f struct {
		AuthMode     *string `json:"auth_mode"`
		OpenAIAPIKey *string `json:"OPENAI_API_KEY"`
		Tokens       *struct {
			IDToken      *string `json:"id_token"`
			AccessToken  *string `json:"access_token"`
			RefreshToken *string `json:"refresh_token"`
			AccountID    *string `json:"account_id"`
		} `json:"tokens"`
		LastRefresh *string `json:"last_refresh"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return codexLogin{}, fmt.Errorf("AuthDotJson: %w", err)
	}
	var login codexLogin
	switch {
	case f.AuthMode != nil:
		switch *f.AuthMode {
		case "apikey", "chatgpt", "chatgptAuthTokens", "headers", "agentIdentity", "personalAccessToken", "bedrockApiKey", "bedrockAccessKeys":
			login.Mode = *f.AuthMode
		default:
			return codexLogin{}, fmt.Errorf("auth_mode %q is no AuthMode", *f.AuthMode)
		}
	case f.OpenAIAPIKey != nil:
		login.Mode = "apikey"
	default:
		login.Mode = "chatgpt"
	}
	t := f.Tokens
	if t == nil || t.IDToken == nil || t.AccessToken == nil || t.RefreshToken == nil {
		return codexLogin{}, errors.New("TokenData: id_token, access_token and refresh_token are required")
	}
	if f.LastRefresh == nil {
		return codexLogin{}, errors.New("get_token_data: no last_refresh")
	}
	if _, err := time.Parse(time.RFC3339Nano, *f.LastRefresh); err != nil {
		return codexLogin{}, fmt.Errorf("last_refresh: %w", err)
	}
	login.AccountID = t.AccountID
	var id struct {
		Email   *string `json:"email"`
		Profile *struct {
			Email *string `json:"email"`
		} `json:"https://api.openai.com/profile"`
		Auth *struct {
			PlanType  *string `json:"chatgpt_plan_type"`
			ChatGPTID *string `json:"chatgpt_user_id"`
			UserID    *string `json:"user_id"`
			AccountID *string `json:"chatgpt_account_id"`
			FedRAMP   bool    `json:"chatgpt_account_is_fedramp"`
		} `json:"https://api.openai.com/auth"`
	}
	if err := codexJWTPayload(*t.IDToken, &id); err != nil {
		return codexLogin{}, fmt.Errorf("id_token: %w", err)
	}
	if id.Auth != nil {
		login.PlanType = id.Auth.PlanType
		login.UserID = id.Auth.ChatGPTID
		if login.UserID == nil {
			login.UserID = id.Auth.UserID
		}
	}
	var std struct {
		Exp *int64 `json:"exp"`
	}
	if err := codexJWTPayload(*t.AccessToken, &std); err != nil || std.Exp == nil {
		return codexLogin{}, fmt.Errorf("access_token has no expiry Codex can read (%v): Codex would fall back to last_refresh", err)
	}
	login.Expires = time.Unix(*std.Exp, 0).UTC()
	if !login.Expires.After(now) {
		return codexLogin{}, errors.New("Codex would find the access token stale and try to refresh it")
	}
	return login, nil
}

// codexJWTPayload is Codex's decode_jwt_payload: three non-empty segments,
// the payload unpadded base64url JSON.
func codexJWTPayload(jwt string, v any) error {
	parts := strings.SplitN(jwt, ".", 4)
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return errors.New("invalid JWT format")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
