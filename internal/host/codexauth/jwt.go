package codexauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// A JWT here is a compact JWS: three base64url segments (header, claims,
// signature) joined by dots. Nothing in this package verifies a signature:
// the host's own Codex wrote the token and egress only forwards it; the
// shape is checked so that a token which cannot be a login is refused at
// launch, not by the API an hour later.

// jwt is a decoded host token: its claims and its raw signature.
type jwt struct {
	claims map[string]any
	sig    []byte
}

// The reasons a token is not a usable JWT. They are fixed text: a reason
// never quotes the token.
var (
	errJWTShape     = errors.New("it is not three non-empty parts joined by dots")
	errJWTEncoding  = errors.New("it is not made of base64url parts")
	errJWTHeader    = errors.New("its header is not a JSON object")
	errJWTClaims    = errors.New("its payload is not a JSON object")
	errJWTStandIn   = errors.New("it is bot-bottle's unsigned stand-in, not a login (was this auth.json copied out of a bottle?)")
	errJWTNoExpiry  = errors.New("it has no exp claim, so its expiry is unknown")
	errJWTBadExpiry = errors.New("its exp claim is not a time in seconds")
)

// parseJWT decodes s. Codex itself requires the three segments to be
// non-empty and unpadded base64url, so this does too; and since egress
// puts the access token in a header, no other byte is allowed (the
// base64 decoder alone would skip a CR or LF).
func parseJWT(s string) (jwt, error) {
	if strings.IndexFunc(s, notJWTByte) >= 0 {
		return jwt{}, errJWTEncoding
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return jwt{}, errJWTShape
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return jwt{}, errJWTEncoding
		}
		raw[i] = b
	}
	if _, ok := decodeObject(raw[0]); !ok {
		return jwt{}, errJWTHeader
	}
	claims, ok := decodeObject(raw[1])
	if !ok {
		return jwt{}, errJWTClaims
	}
	if parts[0] == standInHeader && parts[2] == standInSignature {
		return jwt{}, errJWTStandIn
	}
	return jwt{claims: claims, sig: raw[2]}, nil
}

// notJWTByte reports whether r is outside base64url and the dot.
func notJWTByte(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
}

// decodeObject decodes b as exactly one JSON object, numbers kept as
// json.Number so that exp is read exactly.
func decodeObject(b []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false // more after the object
	}
	return m, true
}

// maxExp is the last second of the year 9999: an exp beyond it is not a
// time anyone meant.
const maxExp = 253402300799

// expiry is the token's exp claim, in whole seconds since the epoch.
func (t jwt) expiry() (int64, error) {
	v, ok := t.claims["exp"]
	if !ok || v == nil {
		return 0, errJWTNoExpiry
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, errJWTBadExpiry
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < -maxExp || f > maxExp {
		return 0, errJWTBadExpiry
	}
	return int64(math.Floor(f)), nil
}

// The stand-in's fixed header and signature. The header says the token is
// unsigned; the signature segment is non-empty only because Codex needs it
// so (see the package doc), and decodes to words, not to a signature. The
// header is spaced like the payload (see encodeStandIn), so that it cannot
// encode to the characters of a host token's compact {"alg":"none",...}.
var (
	standInHeader    = base64.RawURLEncoding.EncodeToString([]byte(`{"typ": "JWT", "alg": "none"}`))
	standInSignature = base64.RawURLEncoding.EncodeToString([]byte("bot-bottle: unsigned stand-in"))
)

// encodeStandIn is an unsigned JWT carrying claims.
//
// The payload is JSON written so that no run of 12 bytes in it is also in
// a compact host payload: every character of a string from the host is a
// \u escape, and every separator is followed by a space. This matters
// because the stand-in keeps some of the host token's claims, and base64
// encodes the same 12 bytes at the same offset (mod 3) as the same 16
// characters: a plainly written stand-in would repeat slices of the host
// token, and the leak check in [Read] would rightly refuse it. Codex
// decodes the escapes as any JSON reader does.
func encodeStandIn(claims map[string]any) (string, error) {
	var b bytes.Buffer
	if err := writeEscaped(&b, claims); err != nil {
		return "", err
	}
	return standInHeader + "." + base64.RawURLEncoding.EncodeToString(b.Bytes()) + "." + standInSignature, nil
}

// writeEscaped writes the claims v as JSON with every character of a
// host string escaped and a space after each separator, keys sorted. The
// allow-list leaves only these types in claims.
func writeEscaped(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case string:
		if v == placeholder {
			// Not from the host: written plainly, to keep the token short.
			b.WriteString(`"` + placeholder + `"`)
			break
		}
		b.WriteByte('"')
		for _, u := range utf16.Encode([]rune(v)) {
			fmt.Fprintf(b, `\u%04x`, u)
		}
		b.WriteByte('"')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeEscaped(b, k); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := writeEscaped(b, v[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("a claim of type %T cannot be written", v)
	}
	return nil
}

// unixTime is sec as a time, for messages.
func unixTime(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
