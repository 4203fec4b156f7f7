// Package gitsshd is a small git-over-SSH server for tests and benchmarks:
// github.com/gliderlabs/ssh in front of the git binary's upload-pack and
// receive-pack, on the bare repositories under one directory, for one
// client key. It stands in for an upstream such as sshd + git-shell on
// machines without openssh-server.
package gitsshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gliderssh "github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Server serves git over SSH.
type Server struct {
	// Root holds the bare repositories; a client's path is taken relative
	// to it.
	Root string
	// Addr is the listening address, host:port.
	Addr string
	// ClientKeyPEM is the private key (OpenSSH PEM) the server accepts.
	ClientKeyPEM []byte
	// Env is the environment of the git processes; nil means PATH only.
	Env []string
	// Sessions counts the sessions (logins) served so far.
	Sessions atomic.Int64

	hostKey  gossh.Signer
	srv      *gliderssh.Server
	sessions sync.WaitGroup
}

// Start listens on 127.0.0.1 with fresh Ed25519 host and client keys.
func Start(root string) (*Server, error) {
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	hostKey, err := gossh.NewSignerFromKey(hostPriv)
	if err != nil {
		return nil, err
	}
	clientPub, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := gossh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		return nil, err
	}
	allowed, err := gossh.NewPublicKey(clientPub)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := Serve(ln, root, hostKey, allowed)
	s.ClientKeyPEM = pem.EncodeToMemory(block)
	return s, nil
}

// Serve serves the bare repositories under root on ln with hostKey,
// accepting only the client key allowed. Close stops it.
func Serve(ln net.Listener, root string, hostKey gossh.Signer, allowed gossh.PublicKey) *Server {
	s := &Server{Root: root, Addr: ln.Addr().String(), hostKey: hostKey}
	s.srv = &gliderssh.Server{
		Handler: s.handle,
		PublicKeyHandler: func(_ gliderssh.Context, key gliderssh.PublicKey) bool {
			return gliderssh.KeysEqual(key, allowed)
		},
	}
	s.srv.AddHostKey(hostKey)
	go func() { _ = s.srv.Serve(ln) }()
	return s
}

// Close stops the server and waits for its sessions.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.sessions.Wait()
	return err
}

// HostKeyLine is the server's host key as an authorized_keys line
// ("ssh-ed25519 AAAA...").
func (s *Server) HostKeyLine() string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.hostKey.PublicKey())))
}

// URL is the ssh:// URL of the repository name.git under Root.
func (s *Server) URL(name string) string {
	return "ssh://git@" + s.Addr + "/" + name + ".git"
}

func (s *Server) handle(sess gliderssh.Session) {
	s.sessions.Add(1)
	defer s.sessions.Done()
	s.Sessions.Add(1)
	args := sess.Command()
	if len(args) != 2 || (args[0] != "git-upload-pack" && args[0] != "git-receive-pack") {
		fmt.Fprintf(sess.Stderr(), "gitsshd: unsupported command %q\n", sess.RawCommand())
		_ = sess.Exit(1)
		return
	}
	dir := filepath.Join(s.Root, filepath.Clean("/"+args[1]))
	cmd := exec.Command("git", strings.TrimPrefix(args[0], "git-"), dir)
	cmd.Env = s.Env
	if cmd.Env == nil {
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = sess, sess, sess.Stderr()
	cmd.WaitDelay = 5 * time.Second
	code := 0
	if err := cmd.Run(); err != nil {
		code = 1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
	}
	_ = sess.Exit(code)
}
