package gitgate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
)

// Limits on a receive-pack request's command section.
const (
	maxCommands   = 10000
	maxRefNameLen = 1024
	// maxShallow bounds "shallow" lines, which the gate counts and drops.
	maxShallow = 10000
	// maxCommandSection bounds the bytes before the pack (after gzip
	// decoding): enough for maxCommands of the longest names.
	maxCommandSection = 16 << 20
)

// command is one ref update a client asks for.
type command struct {
	Old, New plumbing.Hash
	Name     plumbing.ReferenceName
}

func (c command) isDelete() bool { return c.New.IsZero() }

// pushRequest is the part of a receive-pack request before the pack.
type pushRequest struct {
	// Commands are the ref updates, in the client's order; none means the
	// request was git's "0000" probe.
	Commands []command
	// Caps are the capabilities the client asked for, from the first
	// command line.
	Caps map[string]string
	// Shallow counts the client's shallow boundary commits (a shallow
	// clone sends them); the gate does not need them.
	Shallow int
}

func (p *pushRequest) has(capability string) bool {
	_, ok := p.Caps[capability]
	return ok
}

// readPushRequest reads the command section of a receive-pack request:
// optional "shallow <id>" lines, then "<old> <new> <ref>" lines (the first
// followed by NUL and the capabilities), then a flush. It reads nothing
// past the flush, so the pack follows in r. A request that is only a flush
// is git's probe and yields no commands.
//
// The section is bounded (maxCommandSection bytes, maxShallow shallow
// lines, maxCommands commands): gzip makes a small request of millions of
// lines.
func readPushRequest(r io.Reader) (*pushRequest, error) {
	req := &pushRequest{Caps: map[string]string{}}
	lr := &io.LimitedReader{R: r, N: maxCommandSection}
	s := pktline.NewScanner(lr)
	seen := map[plumbing.ReferenceName]bool{}
	for {
		if !s.Scan() {
			if lr.N == 0 {
				return nil, fmt.Errorf("%w: the commands are longer than %s", errBadRequest, humanBytes(maxCommandSection))
			}
			if err := s.Err(); err != nil {
				return nil, fmt.Errorf("%w: read commands: %v", errBadRequest, err)
			}
			return nil, fmt.Errorf("%w: commands end without a flush", errBadRequest)
		}
		line := s.Bytes()
		if len(line) == 0 {
			return req, nil
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		if rest, ok := bytes.CutPrefix(line, []byte("shallow ")); ok {
			if len(req.Commands) > 0 {
				return nil, fmt.Errorf("%w: shallow line after commands", errBadRequest)
			}
			if _, err := parseHash(rest); err != nil {
				return nil, fmt.Errorf("%w: shallow line: %v", errBadRequest, err)
			}
			if req.Shallow == maxShallow {
				return nil, fmt.Errorf("%w: more than %d shallow lines", errBadRequest, maxShallow)
			}
			req.Shallow++
			continue
		}
		if len(req.Commands) == 0 {
			cmd, caps, _ := bytes.Cut(line, []byte{0})
			line = cmd
			for _, c := range strings.Fields(string(caps)) {
				k, v, _ := strings.Cut(c, "=")
				req.Caps[k] = v
			}
		}
		c, err := parseCommand(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadRequest, err)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("%w: %s appears twice in one push", errBadRequest, c.Name)
		}
		seen[c.Name] = true
		if len(req.Commands) == maxCommands {
			return nil, fmt.Errorf("%w: more than %d ref updates in one push", errBadRequest, maxCommands)
		}
		req.Commands = append(req.Commands, c)
	}
}

func parseCommand(line []byte) (command, error) {
	var c command
	f := bytes.SplitN(line, []byte(" "), 3)
	if len(f) != 3 {
		return c, fmt.Errorf("malformed command %q", clip(line))
	}
	var err error
	if c.Old, err = parseHash(f[0]); err != nil {
		return c, fmt.Errorf("command old value: %v", err)
	}
	if c.New, err = parseHash(f[1]); err != nil {
		return c, fmt.Errorf("command new value: %v", err)
	}
	c.Name = plumbing.ReferenceName(f[2])
	if err := validPushRef(c.Name); err != nil {
		return c, err
	}
	if c.Old.IsZero() && c.New.IsZero() {
		return c, fmt.Errorf("command for %s neither creates, updates nor deletes", c.Name)
	}
	return c, nil
}

// validPushRef reports whether name is a ref a push may change: a valid ref
// name under refs/.
func validPushRef(name plumbing.ReferenceName) error {
	s := string(name)
	switch {
	case len(s) > maxRefNameLen:
		return fmt.Errorf("ref name is longer than %d bytes", maxRefNameLen)
	case !strings.HasPrefix(s, "refs/"):
		return fmt.Errorf("ref %q is not under refs/", clip([]byte(s)))
	case name.Validate() != nil || strings.ContainsAny(s, "\x00\x7f") || strings.HasSuffix(s, "/"):
		return fmt.Errorf("%q is not a valid ref name", clip([]byte(s)))
	}
	return nil
}

var errBadHash = errors.New("not a 40-digit lower-case hex object id")

func parseHash(b []byte) (plumbing.Hash, error) {
	if len(b) != 40 {
		return plumbing.ZeroHash, errBadHash
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return plumbing.ZeroHash, errBadHash
		}
	}
	return plumbing.NewHash(string(b)), nil
}

// clip shortens b for an error message and quotes nothing itself.
func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// receivePackCaps are the capabilities the gate advertises for pushes. No
// "no-thin": index-pack --fix-thin completes thin packs. No push-options,
// push certificates or report-status-v2.
const receivePackCaps = "report-status delete-refs side-band-64k quiet atomic ofs-delta object-format=sha1"

// writeReceivePackAdvert writes the smart-HTTP advertisement for
// git-receive-pack: the service line, then every ref, the first carrying
// the capabilities.
func writeReceivePackAdvert(w io.Writer, refs map[plumbing.ReferenceName]plumbing.Hash, agent string) error {
	e := pktline.NewEncoder(w)
	if err := e.EncodeString("# service=git-receive-pack\n"); err != nil {
		return err
	}
	if err := e.Flush(); err != nil {
		return err
	}
	caps := receivePackCaps + " agent=" + agent
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n.String())
	}
	sort.Strings(names)
	if len(names) == 0 {
		if err := e.Encodef("%s capabilities^{}\x00%s\n", plumbing.ZeroHash, caps); err != nil {
			return err
		}
	}
	for i, n := range names {
		var err error
		if i == 0 {
			err = e.Encodef("%s %s\x00%s\n", refs[plumbing.ReferenceName(n)], n, caps)
		} else {
			err = e.Encodef("%s %s\n", refs[plumbing.ReferenceName(n)], n)
		}
		if err != nil {
			return err
		}
	}
	return e.Flush()
}
