package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

const secretsHelp = `usage: probe secrets [--value V]... [--values-file FILE] [--pem] [--root /] [--proc /proc]

Searches for secret values where they must never be in the agent container:
  - this process's own environment,
  - every /proc/<pid>/environ and /proc/<pid>/cmdline it can read (its own
    process is left out: its command line holds the --value arguments),
  - every regular file under --root, except under <root>/proc, <root>/sys and
    <root>/dev, and except files over 64 MiB (counted as skipped).
Files and processes it may not read are skipped and counted.

Each finding is one line naming where it was — a file path, a pid and
field, an environment variable's name — and which value ("value #2"),
never the value itself. The last line is the summary:
  searched N files, M processes: K findings

Values come from --value (repeatable) and from --values-file, one per line
("-" reads standard input). Prefer the file or standard input: a value on a
command line is visible in /proc to every process that runs meanwhile, and
a parent shell's command line counts as a finding. A value must be at
least 4 bytes long. The values file itself is not searched.

--pem also looks for PEM private keys: a "-----BEGIN ... PRIVATE KEY-----"
line followed by key data. ELF executables and libraries are not searched
for keys (values still are): TLS libraries carry the marker as a constant,
and libgnutls embeds its FIPS self-test keys, public test vectors.

exit codes:
  0  nothing found
  1  at least one finding
  2  usage error (no value and no --pem, a value under 4 bytes, a bad file)

examples:
  printf '%s\n' "$TOKEN" | probe secrets --values-file - --pem
  probe secrets --pem --root /home/agent
`

// maxFileSize: larger files are skipped (and counted).
const maxFileSize = 64 << 20

// minValueLen: shorter values would match nearly every file.
const minValueLen = 4

type secretsOpts struct {
	values     multiFlag
	valuesFile string
	pem        bool
	root       string
	proc       string
}

func runSecrets(ctx context.Context, e *env, args []string) int {
	var o secretsOpts
	fs := newFlags(e, "secrets", secretsHelp)
	fs.Var(&o.values, "value", "a secret value to look for (repeatable)")
	fs.StringVar(&o.valuesFile, "values-file", "", `file of values, one per line ("-" for standard input)`)
	fs.BoolVar(&o.pem, "pem", false, "also look for PEM private keys")
	fs.StringVar(&o.root, "root", "/", "directory tree to search")
	fs.StringVar(&o.proc, "proc", "/proc", `where processes are listed ("" to skip processes)`)
	pos, code, ok := parseArgs(e, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		// Not echoed: a stray argument may well be a secret.
		return usageError(e, fs, "takes no arguments, got %d (values go in --value or --values-file)", len(pos))
	}
	values := append([]string(nil), o.values...)
	var skipFile os.FileInfo
	if o.valuesFile != "" {
		vs, info, err := readValues(o.valuesFile, e.stdin)
		if err != nil {
			return usageError(e, fs, "--values-file: %v", err)
		}
		values, skipFile = append(values, vs...), info
	}
	for i, v := range values {
		if len(v) < minValueLen {
			return usageError(e, fs, "value #%d is %d bytes; values under %d bytes would match almost anything", i+1, len(v), minValueLen)
		}
	}
	if len(values) == 0 && !o.pem {
		return usageError(e, fs, "nothing to look for: give --value, --values-file or --pem")
	}
	if info, err := os.Stat(o.root); err != nil || !info.IsDir() {
		return usageError(e, fs, "--root %s: not a directory", o.root)
	}
	s := &searcher{m: newMatcher(values, o.pem), out: e.stdout, skipFile: skipFile}
	s.environ(e.environ)
	if o.proc != "" {
		s.processes(o.proc)
	}
	s.files(ctx, o.root)
	fmt.Fprintf(e.stdout, "skipped %d unreadable files, %d files over 64 MiB, %d unreadable processes\n",
		s.unreadable, s.tooLarge, s.procUnreadable)
	fmt.Fprintf(e.stdout, "searched %d files, %d processes: %d findings\n", s.nFiles, s.nProcs, s.findings)
	if ctx.Err() != nil {
		fmt.Fprintf(e.stderr, "probe secrets: interrupted: %v\n", ctx.Err())
		return ExitFail
	}
	if s.findings > 0 {
		return ExitFail
	}
	return ExitOK
}

// readValues reads one value per line from path ("-": stdin). It returns
// the file's info so the search can leave it out.
func readValues(path string, stdin io.Reader) ([]string, os.FileInfo, error) {
	var r io.Reader = stdin
	var info os.FileInfo
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		if info, err = f.Stat(); err != nil {
			return nil, nil, err
		}
		r = f
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, err
	}
	return parseValues(data), info, nil
}

// parseValues splits data into lines, dropping a trailing "\r" and empty
// lines.
func parseValues(data []byte) []string {
	var vs []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSuffix(line, "\r"); line != "" {
			vs = append(vs, line)
		}
	}
	return vs
}

// pemKeyRE matches the start of a PEM private key block: the BEGIN line,
// optional RFC 1421 headers, then key data. It is built at run time so the
// marker never appears as one string in the binary (an image scan looks
// for it). Every part is bounded, so a match is at most pemOverlap bytes.
var pemKeyRE = func() *regexp.Regexp {
	dashes := strings.Repeat("-", 5)
	return regexp.MustCompile(dashes + `BEGIN (?:[A-Z0-9]{1,16} ){0,4}PRIVATE KEY` + dashes +
		`\r?\n(?:[A-Za-z-]{1,32}:[^\r\n]{0,128}\r?\n){0,4}(?:\r?\n)?[A-Za-z0-9+/=]{16}`)
}()

const pemOverlap = 1024

// matcher finds values (and PEM keys) in data.
type matcher struct {
	values  [][]byte
	pem     bool
	overlap int // bytes kept between chunks so no match is split
}

func newMatcher(values []string, pem bool) *matcher {
	m := &matcher{pem: pem}
	for _, v := range values {
		m.values = append(m.values, []byte(v))
		m.overlap = max(m.overlap, len(v)-1)
	}
	if pem {
		m.overlap = max(m.overlap, pemOverlap)
	}
	return m
}

// labels: value i is "value #i+1"; the PEM check is the last label.
func (m *matcher) label(i int) string {
	if i == len(m.values) {
		return "a PEM private key"
	}
	return fmt.Sprintf("value #%d", i+1)
}

// match marks in found (len(values)+1 long) what data holds; pem says
// whether to look for PEM keys.
func (m *matcher) match(data []byte, found []bool, pem bool) {
	for i, v := range m.values {
		if !found[i] && bytes.Contains(data, v) {
			found[i] = true
		}
	}
	if pem && m.pem && !found[len(m.values)] && pemKeyRE.Match(data) {
		found[len(m.values)] = true
	}
}

// matches returns the labels of what data holds.
func (m *matcher) matches(data []byte) []string {
	found := make([]bool, len(m.values)+1)
	m.match(data, found, true)
	return m.labels(found)
}

func (m *matcher) labels(found []bool) []string {
	var ls []string
	for i, f := range found {
		if f {
			ls = append(ls, m.label(i))
		}
	}
	return ls
}

// elfMagic starts every ELF executable and shared library.
var elfMagic = []byte("\x7fELF")

// scan reads a file's contents from r in chunks, keeping an overlap so a
// match across a chunk boundary is found, and returns the labels of what
// it holds. ELF files are not searched for PEM keys: TLS libraries embed
// self-test keys (libgnutls carries its FIPS test vectors as PEM), while a
// leaked key is a file of its own; values are still searched for in them.
func (m *matcher) scan(r io.Reader) ([]string, error) {
	const chunk = 256 << 10
	buf := make([]byte, 0, chunk+m.overlap)
	found := make([]bool, len(m.values)+1)
	first, pem := true, true
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if first {
			first, pem = false, !bytes.HasPrefix(buf, elfMagic)
		}
		m.match(buf, found, pem)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return m.labels(found), nil
		}
		if err != nil {
			return m.labels(found), err
		}
		keep := min(m.overlap, len(buf))
		copy(buf, buf[len(buf)-keep:])
		buf = buf[:keep]
	}
}

// searcher holds one search's counters; it prints findings as it goes.
type searcher struct {
	m        *matcher
	out      io.Writer
	skipFile os.FileInfo // the values file, not searched

	findings       int
	nFiles         int
	unreadable     int
	tooLarge       int
	nProcs         int
	procUnreadable int
}

func (s *searcher) report(what, where string) {
	s.findings++
	fmt.Fprintf(s.out, "found %s in %s\n", what, where)
}

// environ searches this process's environment, entry by entry, so a
// finding can name the variable.
func (s *searcher) environ(environ []string) {
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		for _, l := range s.m.matches([]byte(kv)) {
			s.report(l, "own environment variable "+name)
		}
	}
}

// processes searches every readable /proc/<pid>/environ and cmdline but
// this process's own.
func (s *searcher) processes(proc string) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		s.procUnreadable++
		return
	}
	self := os.Getpid()
	var pids []int
	for _, ent := range entries {
		if pid, err := strconv.Atoi(ent.Name()); err == nil && pid > 0 && pid != self {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	for _, pid := range pids {
		dir := filepath.Join(proc, strconv.Itoa(pid))
		comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
		who := fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(string(comm)))
		read := false
		if data, err := os.ReadFile(filepath.Join(dir, "environ")); err == nil {
			read = true
			for _, kv := range bytes.Split(data, []byte{0}) {
				name, _, _ := bytes.Cut(kv, []byte("="))
				for _, l := range s.m.matches(kv) {
					s.report(l, fmt.Sprintf("%s environ %s", who, name))
				}
			}
		}
		if data, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
			read = true
			for i, arg := range bytes.Split(bytes.TrimSuffix(data, []byte{0}), []byte{0}) {
				for _, l := range s.m.matches(arg) {
					s.report(l, fmt.Sprintf("%s cmdline argument %d", who, i))
				}
			}
		}
		if read {
			s.nProcs++
		} else {
			s.procUnreadable++
		}
	}
}

// files searches every regular file under root.
func (s *searcher) files(ctx context.Context, root string) {
	skipDirs := map[string]bool{}
	for _, d := range []string{"proc", "sys", "dev"} {
		skipDirs[filepath.Join(root, d)] = true
	}
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			s.unreadable++ // an unreadable directory (or entry): skip it
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if skipDirs[path] {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			s.unreadable++
			return nil
		}
		if info.Size() > maxFileSize {
			s.tooLarge++
			return nil
		}
		if s.skipFile != nil && os.SameFile(info, s.skipFile) {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			s.unreadable++
			return nil
		}
		labels, err := s.m.scan(f)
		f.Close()
		if err != nil {
			s.unreadable++
		} else {
			s.nFiles++
		}
		for _, l := range labels {
			s.report(l, "file "+path)
		}
		return nil
	})
}
