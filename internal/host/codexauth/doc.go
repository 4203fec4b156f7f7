// Package codexauth reads the host's Codex ChatGPT login and splits it in
// two: the access token, which only egress gets, and a stand-in auth.json,
// which is all the agent gets.
//
// # The threat
//
// The agent runs whatever its prompt, its repository and the web tell it
// to, so anything it holds may be read out, printed or sent somewhere. A
// Codex login is a bearer credential: whoever holds the access token, or
// the refresh token that mints new ones, can spend the operator's ChatGPT
// plan and read what the account can read. So the agent must hold nothing
// that works. Egress holds the access token and sets
// "Authorization: Bearer <token>" on the agent's requests to
// api.openai.com and chatgpt.com, replacing whatever the agent sent.
//
// Codex inside the bottle still needs an auth.json, or it shows its login
// screen. [Host.Dummy] builds one by allow-list: every value the list does
// not name is replaced, so a field Codex adds tomorrow is redacted until
// someone decides it may be kept. The stand-in selects the ChatGPT login,
// names the same workspace and user (Codex sends the workspace as the
// ChatGPT-Account-Id header and checks the user against what the backend
// returns), and carries the plan Codex gates features on. Its tokens are
// unsigned JWTs (alg "none"): OpenAI's servers verify RS256 signatures,
// so a stand-in is refused anywhere egress does not replace it. Each
// carries the host access token's expiry, because Codex refreshes its
// login once the access token's exp has passed; a refresh cannot work in
// the bottle (the refresh token is a placeholder, and auth.openai.com is
// not routed), so a shorter expiry would log Codex out while egress still
// holds a good token.
//
// The stand-in's signature segment is a fixed non-empty string, not the
// empty one RFC 7519 gives unsecured JWTs: Codex refuses a token unless
// all three segments are non-empty (decode_jwt_payload in
// codex-rs/login/src/token_data.rs), and would then fail to load the
// whole auth.json.
//
// # What is refused
//
// [Read] refuses, saying what is wrong, where, and that
// "codex login --device-auth" on the host fixes it: a missing or
// unreadable file, anything but a regular file of at most [MaxSize]
// bytes, malformed JSON, an API-key login (bot-bottle forwards ChatGPT
// logins only), a login without tokens, an access token that is not a JWT
// or has no expiry, and one that has expired or expires within [Skew].
// No refusal holds a byte of a token.
//
// [Read] keeps nothing of the file but the access token, its expiry and
// the stand-in it builds at once; the refresh token is dropped as soon as
// the file is parsed. A [Host] prints and logs as its path and expiry
// only.
//
// The package reads CODEX_HOME and HOME, through the getenv given to
// [Path].
package codexauth
