package gitgate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// maxSecretFile bounds an identity or known_hosts file.
const maxSecretFile = 1 << 20

// upstream is one repository's SSH upstream: where it is, the key the gate
// authenticates with and the host keys it accepts.
type upstream struct {
	url    contract.SSHURL
	signer ssh.Signer // the identity; never logged or printed
	keys   hostKeys
}

// LogValue shows where the upstream is, never the identity.
func (u *upstream) LogValue() slog.Value { return slog.StringValue(u.url.String()) }

// loadUpstream reads r's identity and host keys from secretsDir.
func loadUpstream(r contract.Repo, secretsDir string) (*upstream, error) {
	u := &upstream{}
	var err error
	if u.url, err = contract.ParseSSHURL(r.URL); err != nil {
		return nil, err
	}
	pem, err := readSecret(secretsDir, r.Identity)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if u.signer, err = ssh.ParsePrivateKey(pem); err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("identity %q is protected by a passphrase; the gate needs an unencrypted key", r.Identity)
		}
		// The parser's message never quotes the key.
		return nil, fmt.Errorf("identity %q is not an SSH private key: %w", r.Identity, err)
	}
	clear(pem)
	if r.HostKeyIsSecret() {
		if _, err := readSecret(secretsDir, r.HostKey); err != nil {
			return nil, fmt.Errorf("host_key: %w", err)
		}
		if u.keys, err = knownHostsFile(filepath.Join(secretsDir, r.HostKey)); err != nil {
			return nil, fmt.Errorf("host_key %q: %w", r.HostKey, err)
		}
	} else {
		key, err := parseHostKeyLine(r.HostKey)
		if err != nil {
			return nil, fmt.Errorf("host_key: %w", err)
		}
		u.keys = pinnedHostKey(key)
	}
	return u, nil
}

func readSecret(dir, name string) ([]byte, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", name, errors.Unwrap(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("read secret %q: %w", name, err)
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("secret %q is larger than %d bytes", name, maxSecretFile)
	}
	return b, nil
}

func (u *upstream) hostWithPort() string {
	return net.JoinHostPort(u.url.Host, strconv.Itoa(u.url.Port))
}

// publicKeyAuth is the go-git SSH auth method built from the upstream.
type publicKeyAuth struct{ u *upstream }

var _ gitssh.AuthMethod = publicKeyAuth{}

func (publicKeyAuth) Name() string     { return "gitgate-publickey" }
func (a publicKeyAuth) String() string { return "user " + a.u.url.User + ", key redacted" }

func (a publicKeyAuth) ClientConfig() (*ssh.ClientConfig, error) {
	return &ssh.ClientConfig{
		User:              a.u.url.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(a.u.signer)},
		HostKeyCallback:   a.u.keys.callback,
		HostKeyAlgorithms: a.u.keys.algorithms(a.u.hostWithPort()),
		Timeout:           connectTimeout,
	}, nil
}

// sshTransport is go-git's SSH transport; ClientConfig supplies all
// settings.
var sshTransport = gitssh.NewClient(nil)

// session is an open upload-pack or receive-pack session on the upstream.
type session struct {
	transport.Session
	attempt *dialAttempt
}

// Close ends the session and its connection.
func (s *session) Close() error {
	err := s.Session.Close()
	s.attempt.release()
	return err
}

// open starts service (transport.UploadPackServiceName or
// ReceivePackServiceName) on the upstream.
func (u *upstream) open(ctx context.Context, service string) (*session, error) {
	a := newDialAttempt(ctx)
	ep := &transport.Endpoint{
		Protocol: "ssh",
		User:     u.url.User,
		Host:     u.url.Host,
		Port:     u.url.Port,
		Path:     u.url.Path,
		Proxy:    transport.ProxyOptions{URL: a.proxyURL()},
	}
	var s transport.Session
	var err error
	if service == transport.ReceivePackServiceName {
		s, err = sshTransport.NewReceivePackSession(ep, publicKeyAuth{u})
	} else {
		s, err = sshTransport.NewUploadPackSession(ep, publicKeyAuth{u})
	}
	if err != nil {
		timedOut := a.handshakeTimedOut()
		a.release()
		return nil, u.connectError(ctx, err, timedOut)
	}
	a.connected()
	return &session{Session: s, attempt: a}, nil
}

// upstreamError is a failure talking to the upstream. Its message is for
// the git client as much as for the log: it names the upstream and says
// what went wrong, and never holds a secret.
type upstreamError struct {
	msg string
	err error
}

func (e *upstreamError) Error() string { return e.msg }
func (e *upstreamError) Unwrap() error { return e.err }
func (e *upstreamError) Is(target error) bool {
	return target == errUpstream
}

func (u *upstream) connectError(ctx context.Context, err error, handshakeTimedOut bool) error {
	where := u.url.String()
	var reason string
	switch {
	case ctx.Err() != nil:
		reason = "the request ended before the upstream answered"
	case errors.Is(err, errHostKey):
		reason = "its SSH host key does not match host_key in the gate file (" + trimPrefix(err, "ssh: handshake failed: ") + "); the gate never trusts an unknown key"
	case handshakeTimedOut:
		reason = fmt.Sprintf("the SSH handshake did not finish within %s", handshakeTimeout)
	case strings.Contains(err.Error(), "unable to authenticate"):
		reason = "the upstream refused the gate's identity key"
	case strings.HasPrefix(err.Error(), "connect to "):
		reason = err.Error()
	default:
		reason = err.Error()
	}
	return &upstreamError{msg: "cannot reach upstream " + where + ": " + reason, err: err}
}

func trimPrefix(err error, prefix string) string {
	return strings.TrimPrefix(err.Error(), prefix)
}
