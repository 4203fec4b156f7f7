package gitgate

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// errHostKey is the category of a host key the gate does not accept.
var errHostKey = errors.New("upstream host key rejected")

// hostKeys checks an upstream's SSH host key strictly: a key the gate file
// does not pin is refused, never trusted on first use.
type hostKeys struct {
	// callback checks the key the upstream offers.
	callback ssh.HostKeyCallback
	// algorithms lists the host key algorithms to offer for hostWithPort,
	// so the upstream presents a key of a pinned type.
	algorithms func(hostWithPort string) []string
}

// parseHostKeyLine parses one known_hosts-style line: an optional host
// pattern field, the key type, the base64 key and an optional comment.
// Markers (@cert-authority, @revoked) are refused.
func parseHostKeyLine(line string) (ssh.PublicKey, error) {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return nil, errors.New("host key line is empty")
	}
	if strings.HasPrefix(fields[0], "@") {
		return nil, fmt.Errorf("host key line has the marker %q; give a plain key", fields[0])
	}
	start := 0
	if !isHostKeyType(fields[0]) {
		start = 1 // a host pattern comes first
	}
	if start >= len(fields) || !isHostKeyType(fields[start]) {
		return nil, errors.New("host key line has no key type (such as ssh-ed25519) before the key")
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.Join(fields[start:], " ")))
	if err != nil {
		return nil, fmt.Errorf("host key line: %w", err)
	}
	if key.Type() != fields[start] {
		return nil, fmt.Errorf("host key line says %s but holds a %s key", fields[start], key.Type())
	}
	return key, nil
}

func isHostKeyType(s string) bool {
	switch s {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoRSA, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoSKED25519, ssh.KeyAlgoSKECDSA256:
		return true
	}
	return false
}

// pinnedHostKey accepts exactly want.
func pinnedHostKey(want ssh.PublicKey) hostKeys {
	algos := []string{want.Type()}
	if want.Type() == ssh.KeyAlgoRSA {
		algos = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return hostKeys{
		callback: func(host string, _ net.Addr, got ssh.PublicKey) error {
			if bytes.Equal(got.Marshal(), want.Marshal()) {
				return nil
			}
			return fmt.Errorf("%w: %s offered %s key %s, but the gate file pins %s %s",
				errHostKey, host, got.Type(), ssh.FingerprintSHA256(got), want.Type(), ssh.FingerprintSHA256(want))
		},
		algorithms: func(string) []string { return algos },
	}
}

// knownHostsFile accepts the keys a known_hosts file lists for the host.
func knownHostsFile(path string) (hostKeys, error) {
	db, err := knownhosts.NewDB(path)
	if err != nil {
		return hostKeys{}, fmt.Errorf("read known_hosts: %w", err)
	}
	check := db.HostKeyCallback()
	return hostKeys{
		callback: func(host string, remote net.Addr, got ssh.PublicKey) error {
			err := check(host, remote, got)
			switch {
			case err == nil:
				return nil
			case knownhosts.IsHostUnknown(err):
				return fmt.Errorf("%w: the known_hosts secret lists no key for %s", errHostKey, host)
			case knownhosts.IsHostKeyChanged(err):
				return fmt.Errorf("%w: %s offered %s key %s, which the known_hosts secret does not list for it",
					errHostKey, host, got.Type(), ssh.FingerprintSHA256(got))
			default:
				return fmt.Errorf("%w: %v", errHostKey, err)
			}
		},
		algorithms: db.HostKeyAlgorithms,
	}, nil
}
