package codexauth

// The allow-list: what the agent's stand-in auth.json keeps of the host's.
//
// It is written against Codex's own reader (codex-rs/login, AuthDotJson
// in src/auth/storage.rs, TokenData and the claims it parses in
// src/token_data.rs, the auth manager in src/auth/manager.rs): a value is
// kept only if Codex reads it and it is an identifier or a setting, never
// a credential. Everything else, at every depth, including keys nobody has
// invented yet, becomes [placeholder] (or stays null: null carries nothing
// and is what Codex's optional fields expect when a value is absent). The
// value of a key not listed is replaced whole, so an unknown object's
// inner keys are not kept either. A listed key whose value has another
// type than the list says is left out (see standIn.apply).

// placeholder replaces every value the allow-list does not keep.
const placeholder = "bot-bottle-placeholder"

// rule is what the stand-in does with one host value.
type rule int

const (
	// redact replaces the value by the placeholder (null stays null). It
	// is the zero rule, so it is what a key the list does not name gets.
	redact rule = iota
	// keepString keeps a string, or null.
	keepString
	// keepBool keeps a boolean (not null: Codex wants a boolean there).
	keepBool
	// null writes null whatever the host has.
	null
	// placeholderString writes the placeholder whatever the host has,
	// null and nothing included, for a key Codex needs to be a string.
	placeholderString
	// chatgptMode writes "chatgpt"; [Read] has refused every other mode.
	chatgptMode
	// timestamp keeps an RFC 3339 time, rewritten in UTC; anything else,
	// or no value, becomes the time of [Read].
	timestamp
	// hostExpiry writes the host access token's exp.
	hostExpiry
	// standInID and standInAccess write an unsigned stand-in JWT built
	// from the host ID or access token's claims by [claimsList].
	standInID
	standInAccess
	// object walks an object with its own list; null stays null.
	object
)

// entry is the allow-list's word on one key.
type entry struct {
	rule rule
	// list is the allow-list one level down, for rule object.
	list map[string]entry
	// required keys are written even when the host file lacks them,
	// because Codex cannot load an auth.json without them.
	required bool
}

// authFileList is the top level of auth.json (Codex's AuthDotJson).
var authFileList = map[string]entry{
	// The login kind. Written as "chatgpt" even when the host leaves it
	// out (older files do): Codex then infers the mode from which fields
	// are set, and saying it outright keeps a future inference from
	// picking another.
	"auth_mode": {rule: chatgptMode, required: true},
	// An API key would work on its own, so it is never kept; null is
	// what Codex writes for a ChatGPT login.
	"OPENAI_API_KEY": {rule: null, required: true},
	// The credentials of the other login kinds Codex knows. [Read]
	// refuses a file that selects one of them; in a ChatGPT file they are
	// leftovers, and null is the type-safe "none" for each (a
	// placeholder string would not parse where Codex expects an object).
	"agent_identity":        {rule: null},
	"personal_access_token": {rule: null},
	"bedrock_api_key":       {rule: null},
	"bedrock_access_keys":   {rule: null},
	// The ChatGPT tokens, walked below.
	"tokens": {rule: object, list: tokensList, required: true},
	// When the host last refreshed: a time, not a secret. Codex will not
	// hand out its tokens without one (get_token_data), so it is required.
	"last_refresh": {rule: timestamp, required: true},
}

// tokensList is auth.json's "tokens" (Codex's TokenData).
var tokensList = map[string]entry{
	// Both are parsed by Codex as JWTs, so they are replaced by unsigned
	// stand-ins that keep what Codex reads from them (claimsList). The ID
	// token is required: Codex fails to load a file without one.
	"id_token":     {rule: standInID, required: true},
	"access_token": {rule: standInAccess, required: true},
	// The credential that mints new tokens: always the placeholder. It is
	// listed, not left to the default, because Codex needs the key to be
	// there (a string) to load the file.
	"refresh_token": {rule: placeholderString, required: true},
	// The selected ChatGPT workspace (absent in older files). Codex sends
	// it as the ChatGPT-Account-Id header and reloads only a login for
	// the same account; an identifier, not a credential.
	"account_id": {rule: keepString},
}

// claimsList is the payload of the stand-in tokens: the claims of the
// host's token, kept where Codex reads them (IdClaims and
// StandardJwtClaims in token_data.rs).
var claimsList = map[string]entry{
	// The expiry of the host access token, in both stand-ins. Codex
	// refreshes once the access token's exp has passed, and a refresh
	// cannot succeed in the bottle, so a stand-in must not expire before
	// the token egress holds. It is required so that Codex never falls
	// back to guessing staleness from last_refresh.
	"exp": {rule: hostExpiry, required: true},
	// OpenAI's namespaced claim with the ChatGPT account, walked below.
	"https://api.openai.com/auth": {rule: object, list: authClaimList},
	// The profile claim is walked with an empty list, so everything in it
	// (the e-mail address) is redacted; it stays an object because Codex
	// parses it as one, and a placeholder string there would make it
	// refuse the token and with it the file.
	"https://api.openai.com/profile": {rule: object, list: map[string]entry{}},
	// Everything else is redacted: the subject, the top-level e-mail
	// address, session and token ids, audiences, scopes and times. Codex
	// only displays the e-mail address, and the agent has no need of it.
}

// authClaimList is the "https://api.openai.com/auth" claim.
var authClaimList = map[string]entry{
	// The workspace the login acts for; Codex reads it from the ID token
	// for workspace restrictions and its requests.
	"chatgpt_account_id": {rule: keepString},
	// The plan (free, plus, pro, team, ...). Codex gates features and
	// what it shows on it; not a secret.
	"chatgpt_plan_type": {rule: keepString},
	// The user, with user_id the older name Codex falls back to. Codex
	// checks it against the user the backend reports before showing
	// rate-limit and account details; an identifier, not a credential.
	"chatgpt_user_id": {rule: keepString},
	"user_id":         {rule: keepString},
	// Whether the workspace is FedRAMP; Codex routes such accounts
	// differently, so a wrong value would send requests astray.
	"chatgpt_account_is_fedramp": {rule: keepBool},
}
