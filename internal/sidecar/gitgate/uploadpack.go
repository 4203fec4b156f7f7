package gitgate

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
)

// Smart-HTTP service names.
const (
	serviceUploadPack  = "git-upload-pack"
	serviceReceivePack = "git-receive-pack"
)

// infoRefs serves GET /<name>.git/info/refs?service=...: it refreshes the
// mirror from the upstream (failing closed), then advertises.
func (s *Server) infoRefs(w http.ResponseWriter, r *http.Request, rp *repo, lg *requestLog) error {
	service := r.URL.Query().Get("service")
	if service != serviceUploadPack && service != serviceReceivePack {
		return fmt.Errorf("%w: the gate speaks smart HTTP only; use a git client that sends ?service=", errNotFound)
	}
	lg.service = service
	res, err := rp.refreshIfStale(r.Context(), time.Now(), s.cfg.RefreshInterval)
	if err != nil {
		return &refreshError{repo: rp.name, err: err}
	}
	if res.fetched || res.updated > 0 {
		s.log.Info("mirror refreshed", "repo", rp.name, "fetched", res.fetched, "refs_changed", res.updated, "pruned", res.pruned)
	}
	w.Header().Set("Content-Type", "application/x-"+service+"-advertisement")
	w.Header().Set("Cache-Control", "no-cache, max-age=0, must-revalidate")
	if service == serviceReceivePack {
		refs, err := rp.refs()
		if err != nil {
			return err
		}
		return writeReceivePackAdvert(w, refs, s.agent)
	}
	proto := gitProtocol(r)
	if !strings.Contains(proto, "version=2") {
		e := pktline.NewEncoder(w)
		if err := e.EncodeString("# service=git-upload-pack\n"); err != nil {
			return err
		}
		if err := e.Flush(); err != nil {
			return err
		}
	}
	return s.runUploadPack(w, r, rp, nil, "--advertise-refs")
}

// uploadPack serves POST /<name>.git/git-upload-pack.
func (s *Server) uploadPack(w http.ResponseWriter, r *http.Request, rp *repo, lg *requestLog) error {
	lg.service = serviceUploadPack
	body, err := requestBody(r)
	if err != nil {
		return err
	}
	// The negotiation is read whole before git starts: git streams its
	// answer as it reads, so a cap found half-way would come after a 200.
	limit := min(s.cfg.MaxPack, maxUploadRequest)
	req, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return fmt.Errorf("%w: read the request: %v", errBadRequest, err)
	}
	if int64(len(req)) > limit {
		return fmt.Errorf("%w: the request is larger than %s", errTooLarge, humanBytes(limit))
	}
	w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
	w.Header().Set("Cache-Control", "no-cache, max-age=0, must-revalidate")
	return s.runUploadPack(w, r, rp, bytes.NewReader(req))
}

// maxUploadRequest bounds a fetch's negotiation (wants, haves, shallow
// lines), which is held in memory. Real clients send haves in rounds of
// at most a few hundred lines, far below it.
const maxUploadRequest = 16 << 20

// runUploadPack runs git upload-pack --stateless-rpc on the repository,
// streaming its output to w.
func (s *Server) runUploadPack(w http.ResponseWriter, r *http.Request, rp *repo, stdin io.Reader, args ...string) error {
	var env []string
	if p := gitProtocol(r); p != "" {
		env = append(env, "GIT_PROTOCOL="+p)
	}
	args = append([]string{"upload-pack", "--stateless-rpc", "--strict"}, args...)
	cmd := gitCommand(r.Context(), rp.dir, env, append(args, ".")...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	stderr := &capBuffer{max: maxStderr}
	cmd.Stdout = &flushWriter{w: w, rc: http.NewResponseController(w)}
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return gitError(args, err, stderr)
	}
	return nil
}

// gitProtocol returns the request's Git-Protocol header if it is made of
// the characters git uses there ("version=2", "version=2:object-format=sha1").
func gitProtocol(r *http.Request) string {
	p := r.Header.Get("Git-Protocol")
	if len(p) > 256 {
		return ""
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("=:._-", c) >= 0) {
			return ""
		}
	}
	return p
}

// requestBody is r's body, gunzipped if the client compressed it.
func requestBody(r *http.Request) (io.Reader, error) {
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
		return r.Body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip body: %v", errBadRequest, err)
		}
		return zr, nil
	default:
		return nil, fmt.Errorf("%w: unsupported Content-Encoding %q", errBadRequest, enc)
	}
}

// flushWriter flushes each write to the client, so progress and pack data
// stream.
type flushWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

// refreshError is a refresh that failed: the fetch fails with it.
type refreshError struct {
	repo string
	err  error
}

func (e *refreshError) Error() string {
	return fmt.Sprintf("cannot refresh %s from its upstream, so the gate refuses to serve a stale copy: %v", e.repo, e.err)
}
func (e *refreshError) Unwrap() error { return e.err }
