// Package demoupstream is the "internet" of the offline demo and the Docker
// end-to-end tests: an HTTPS API that wants a bearer token, and an SSH git
// server holding bare repositories. Both run in the bot-bottle/demo-upstream
// image on a bottle's egress network, where only the sidecars can reach them.
package demoupstream

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/gitsshd"
)

const usage = `demo-upstream serves the demo's pretend internet.

Usage:
  demo-upstream api --listen :443 --cert FILE --key FILE --token-file FILE
      HTTPS API. GET /v1/whoami answers 200 only with "Authorization: Bearer
      <token>" (the token in --token-file) and 401 otherwise, without ever
      echoing what it got. POST /v1/notes accepts a body and reports its
      size. GET /healthz answers 200.
  demo-upstream git --listen :2222 --root DIR --host-key FILE --authorized-key FILE [--init NAME]...
      git over SSH (upload-pack and receive-pack of the git binary) for
      the bare repositories under --root, for the one client key in
      --authorized-key. --init creates NAME.git with one commit if missing.
`

// Run runs the subcommand in args until ctx ends.
func Run(ctx context.Context, args []string, stderr io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("name a subcommand: api or git")
	}
	switch args[0] {
	case "api":
		return runAPI(ctx, args[1:], log)
	case "git":
		return runGit(ctx, args[1:], log)
	case "-h", "--help", "help":
		fmt.Fprint(stderr, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown subcommand %q: use api or git", args[0])
}

func runAPI(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	listen := fs.String("listen", ":443", "address to listen on")
	cert := fs.String("cert", "", "TLS certificate (PEM)")
	key := fs.String("key", "", "TLS key (PEM)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token the API accepts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raw, err := os.ReadFile(*tokenFile)
	if err != nil {
		return fmt.Errorf("read --token-file: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return fmt.Errorf("--token-file %s is empty", *tokenFile)
	}
	srv := &http.Server{Addr: *listen, Handler: APIHandler(token, log), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("api listening", "addr", *listen)
	if err := srv.ListenAndServeTLS(*cert, *key); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// APIHandler is the demo API for token.
func APIHandler(token string, log *slog.Logger) http.Handler {
	want := []byte("Bearer " + token)
	reply := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { reply(w, 200, map[string]bool{"ok": true}) })
	mux.HandleFunc("GET /v1/whoami", func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		ok := subtle.ConstantTimeCompare(got, want) == 1
		log.Info("whoami", "token_ok", ok)
		if !ok {
			reply(w, http.StatusUnauthorized, map[string]any{"ok": false, "message": "missing or wrong token"})
			return
		}
		reply(w, http.StatusOK, map[string]any{"ok": true, "message": "token accepted: hello, demo agent"})
	})
	mux.HandleFunc("POST /v1/notes", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, io.LimitReader(r.Body, 16<<20))
		if err != nil {
			reply(w, http.StatusBadRequest, map[string]any{"ok": false, "message": err.Error()})
			return
		}
		log.Info("note", "bytes", n)
		reply(w, http.StatusCreated, map[string]any{"ok": true, "bytes": n})
	})
	return mux
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func runGit(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("git", flag.ContinueOnError)
	listen := fs.String("listen", ":2222", "address to listen on")
	root := fs.String("root", "/srv/git", "directory of bare repositories")
	hostKeyFile := fs.String("host-key", "", "SSH host private key (OpenSSH PEM)")
	authFile := fs.String("authorized-key", "", "the one client public key accepted (authorized_keys line)")
	var inits multiFlag
	fs.Var(&inits, "init", "create NAME.git with one commit if missing (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	hostPEM, err := os.ReadFile(*hostKeyFile)
	if err != nil {
		return fmt.Errorf("read --host-key: %w", err)
	}
	hostKey, err := gossh.ParsePrivateKey(hostPEM)
	if err != nil {
		return fmt.Errorf("parse --host-key %s: %w", *hostKeyFile, err)
	}
	authLine, err := os.ReadFile(*authFile)
	if err != nil {
		return fmt.Errorf("read --authorized-key: %w", err)
	}
	allowed, _, _, _, err := gossh.ParseAuthorizedKey(authLine)
	if err != nil {
		return fmt.Errorf("parse --authorized-key %s: %w", *authFile, err)
	}
	for _, name := range inits {
		if err := InitRepo(ctx, *root, name); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := gitsshd.Serve(ln, *root, hostKey, allowed)
	srv.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + os.TempDir()}
	log.Info("git listening", "addr", srv.Addr, "root", *root)
	<-ctx.Done()
	return srv.Close()
}

// InitRepo creates root/name.git holding one commit on main, unless it
// exists.
func InitRepo(ctx context.Context, root, name string) error {
	bare := filepath.Join(root, name+".git")
	if _, err := os.Stat(bare); err == nil {
		return nil
	}
	work, err := os.MkdirTemp("", "demo-init-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	readme := "# " + name + "\n\nThe demo upstream repository.\n"
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte(readme), 0o644); err != nil {
		return err
	}
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + work, "GIT_AUTHOR_NAME=demo", "GIT_AUTHOR_EMAIL=demo@demo.test",
		"GIT_COMMITTER_NAME=demo", "GIT_COMMITTER_EMAIL=demo@demo.test"}
	// The commit is made straight into the bare repository with a separate
	// work tree: a clone or push over a local path would run git's
	// transport helpers through /bin/sh, which the image does not have.
	tree := []string{"--git-dir", bare, "--work-tree", work}
	for _, args := range [][]string{
		{"init", "-q", "--bare", "-b", "main", bare},
		append(tree, "add", "README.md"),
		append(tree, "commit", "-q", "-m", "initial commit"),
	} {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return os.Remove(filepath.Join(bare, "index"))
}
