package provision

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// CABundlePath is the agent's system CA bundle once provisioning has run:
// the image's roots plus the bottle CA. update-ca-certificates (Debian,
// Ubuntu, Alpine) writes it there; on an image without that tool the CA
// step appends the bottle CA to it, creating it if absent. CAEnv points
// the usual TLS variables at it.
const CABundlePath = "/etc/ssl/certs/ca-certificates.crt"

// caMarker is the line the CA step writes before the bottle CA when it
// appends it to the bundle itself, so that a later run finds and replaces
// its own block and nothing else.
const caMarker = "# bot-bottle: the bottle CA (" + contract.AgentCACertPath + "), added at provisioning"

// CAEnv returns the variables that make TLS clients in the agent trust
// the bottle CA, for the compose generator to put in the agent's
// environment: OpenSSL and Go (SSL_CERT_FILE), Python requests
// (REQUESTS_CA_BUNDLE), curl (CURL_CA_BUNDLE) and git (GIT_SSL_CAINFO) read
// the whole bundle, which holds the image's roots too; Node adds
// NODE_EXTRA_CA_CERTS, the bottle CA alone, to its own roots. A fresh map
// each call.
func CAEnv() map[string]string {
	return maps.Clone(caEnv)
}

var caEnv = map[string]string{
	"SSL_CERT_FILE":       CABundlePath,
	"REQUESTS_CA_BUNDLE":  CABundlePath,
	"CURL_CA_BUNDLE":      CABundlePath,
	"GIT_SSL_CAINFO":      CABundlePath,
	"NODE_EXTRA_CA_CERTS": contract.AgentCACertPath,
}

// readCAScript prints the bottle CA certificate ($1), a NUL, and the
// bundle ($2) if there is one.
const readCAScript = `cat -- "$1"
printf '\000'
if [ -e "$2" ]; then cat -- "$2"; fi
`

// writeRootFileScript replaces $1 (following a symlink to the file it
// names) with standard input, mode $2, atomically.
const writeRootFileScript = `dst=$1
if [ -L "$dst" ]; then dst=$(readlink -f -- "$dst"); fi
mkdir -p -- "$(dirname -- "$dst")"
tmp=$dst.bot-bottle-tmp
cat > "$tmp"
chmod "$2" "$tmp"
mv -f -- "$tmp" "$dst"
`

// trustCA puts the bottle CA, mounted at contract.AgentCACertPath, into
// CABundlePath, as root: with update-ca-certificates when the image has
// it in a system directory (root runs nothing else), and by appending it
// when the image has not or the tool left it out.
func trustCA(ctx context.Context, t Target, a Agent) (string, error) {
	how := ""
	if inSystemPath(a.Tools["update-ca-certificates"]) {
		if _, err := script(ctx, t, Root, nil, "update-ca-certificates", `update-ca-certificates >/dev/null`); err != nil {
			return "", err
		}
		how = "update-ca-certificates"
	}
	out, err := script(ctx, t, Root, nil, "read-ca", readCAScript, contract.AgentCACertPath, CABundlePath)
	if err != nil {
		return "", fmt.Errorf("read the bottle CA and the bundle: %w", err)
	}
	cert, bundle, ok := bytes.Cut(out, []byte{0})
	if !ok {
		return "", errors.New("read the bottle CA and the bundle: unexpected output")
	}
	updated, changed, err := AddCA(bundle, cert)
	if err != nil {
		return "", fmt.Errorf("the bottle CA at %s: %w", contract.AgentCACertPath, err)
	}
	if changed {
		if _, err := script(ctx, t, Root, bytes.NewReader(updated), "write-bundle", writeRootFileScript, CABundlePath, "0644"); err != nil {
			return "", fmt.Errorf("write %s: %w", CABundlePath, err)
		}
	}
	switch {
	case how != "" && changed:
		return fmt.Sprintf("CA trusted in %s (update-ca-certificates left it out; appended)", CABundlePath), nil
	case how != "":
		return fmt.Sprintf("CA trusted in %s (update-ca-certificates)", CABundlePath), nil
	case changed:
		return fmt.Sprintf("CA trusted in %s (appended; no update-ca-certificates to run)", CABundlePath), nil
	}
	return fmt.Sprintf("CA trusted in %s (already there; no update-ca-certificates to run)", CABundlePath), nil
}

// AddCA returns bundle (a PEM bundle, possibly empty) with certPEM's
// certificate in it exactly once and changed reporting whether that
// differs from bundle. A block AddCA added before (after caMarker) is
// removed first, so a new bottle CA replaces an old one; if the
// certificate is then already in the bundle (update-ca-certificates put it
// there), nothing is added. Everything else in bundle is kept byte for
// byte. AddCA(AddCA(b)) = AddCA(b).
func AddCA(bundle, certPEM []byte) (out []byte, changed bool, err error) {
	der, err := certDER(certPEM)
	if err != nil {
		return nil, false, err
	}
	kept := stripMarked(bundle)
	if !hasCert(kept, der) {
		if len(kept) > 0 && kept[len(kept)-1] != '\n' {
			kept = append(kept, '\n')
		}
		kept = append(kept, caMarker+"\n"...)
		kept = append(kept, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return kept, !bytes.Equal(kept, bundle), nil
}

// certDER is the one certificate in certPEM.
func certDER(certPEM []byte) ([]byte, error) {
	block, rest := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate in it")
	}
	if b, _ := pem.Decode(rest); b != nil {
		return nil, errors.New("more than one PEM block in it")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse the certificate: %w", err)
	}
	if !c.IsCA {
		return nil, errors.New("the certificate is not a CA")
	}
	return block.Bytes, nil
}

// stripMarked returns bundle without each caMarker line and the PEM block
// that follows it (BEGIN through END). Only a well-formed block is
// removed: a marker followed by anything else is removed alone, and a
// block cut short ends at the first line that cannot belong to it, which
// is kept.
func stripMarked(bundle []byte) []byte {
	const (
		normal = iota
		afterMarker
		inBlock
	)
	out := make([]byte, 0, len(bundle))
	state := normal
	for line := range bytes.Lines(bundle) {
		text := strings.TrimRight(string(line), "\r\n")
		switch state {
		case afterMarker:
			if text == caMarker {
				continue
			}
			if strings.HasPrefix(text, "-----BEGIN ") {
				state = inBlock
				continue
			}
			state = normal
		case inBlock:
			if strings.HasPrefix(text, "-----END ") {
				state = normal
				continue
			}
			if isBase64Line(text) {
				continue
			}
			state = normal
		}
		if text == caMarker {
			state = afterMarker
			continue
		}
		out = append(out, line...)
	}
	return out
}

// isBase64Line reports whether s could be a line of a PEM body.
func isBase64Line(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '+' && c != '/' && c != '=' {
			return false
		}
	}
	return true
}

// hasCert reports whether bundle holds a CERTIFICATE block whose bytes are
// der.
func hasCert(bundle, der []byte) bool {
	for rest := bundle; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return false
		}
		if b.Type == "CERTIFICATE" && bytes.Equal(b.Bytes, der) {
			return true
		}
	}
}

// inSystemPath reports whether program (as Identify found it) is in one
// of SystemPath's directories.
func inSystemPath(program string) bool {
	dir, _ := path.Split(program)
	return dir != "" && slices.Contains(strings.Split(SystemPath, ":"), path.Clean(dir))
}
