package contract

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// GateFile is the gate file: the upstream repositories gitgate fronts. The
// CLI writes it (GateFile.Marshal) and gitgate reads it (ParseGate).
type GateFile struct {
	// Version is the contract version; it must be Version. Zero means the
	// file did not say, which is an error.
	Version int `yaml:"version" json:"version"`
	// Repos are the repositories, each name at most once. Nil or empty means
	// the gate serves nothing.
	Repos []Repo `yaml:"repos" json:"repos"`
}

// Repo is one upstream repository. The agent reaches it as
// http://git-gate:9420/<Name>.git.
type Repo struct {
	// Name is the repository's name at the gate (see ValidRepoName); it is
	// required.
	Name string `yaml:"name" json:"name"`
	// URL is the upstream, ssh://user@host[:port]/path (see ParseSSHURL);
	// it is required.
	URL string `yaml:"url" json:"url"`
	// Identity is the secret name of the SSH private key gitgate
	// authenticates with; it is required.
	Identity string `yaml:"identity" json:"identity"`
	// HostKey pins the upstream's SSH host key: either one known_hosts-style
	// line ("ssh-ed25519 AAAA...", optionally after a host-pattern field and
	// before a comment) or the secret name of a known_hosts file. It is
	// required: gitgate never trusts a host key on first use.
	HostKey string `yaml:"host_key" json:"host_key"`
	// DLPExceptions are findings of the gate's secret scan that the
	// operator lets through on pushes to this repository, each named by its
	// whole fingerprint (at most MaxDLPExceptions, no duplicates). Nil or
	// empty means none. There is no exception for a whole rule, file or
	// repository. gitgate rereads them from the gate file at every push
	// that has findings, so an approved exception applies without a
	// restart.
	DLPExceptions []Fingerprint `yaml:"dlp_exceptions,omitempty" json:"dlp_exceptions,omitempty"`
	// PushRefs are ref namespaces the agent may push to besides
	// refs/heads/ and refs/tags/, each a prefix under refs/ ending in "/"
	// ("refs/notes/"), at most MaxPushRefs, no duplicates. Nil or empty
	// means branches and tags only. gitgate reads it at start.
	PushRefs []string `yaml:"push_refs,omitempty" json:"push_refs,omitempty"`
	// AllowBranchDelete lets the agent delete branches (refs/heads/*) on
	// this repository. False, the default, refuses branch deletions; tags
	// and refs under PushRefs may always be deleted. gitgate reads it at
	// start.
	AllowBranchDelete bool `yaml:"allow_branch_delete,omitempty" json:"allow_branch_delete,omitempty"`
}

// MaxPushRefs is the most push_refs one repository may list.
const MaxPushRefs = 16

// DefaultPushRefs are the ref namespaces every repository takes pushes to.
var DefaultPushRefs = []string{"refs/heads/", "refs/tags/"}

// MayPush reports whether r takes pushes to the ref name: one under
// DefaultPushRefs or r's PushRefs.
func (r Repo) MayPush(name string) bool {
	for _, p := range DefaultPushRefs {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, p := range r.PushRefs {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// ValidPushRefPrefix checks one push_refs entry.
func ValidPushRefPrefix(p string) error {
	switch {
	case !strings.HasPrefix(p, "refs/") || !strings.HasSuffix(p, "/") || len(p) < len("refs/x/"):
		return fmt.Errorf("%q is not a ref namespace such as \"refs/notes/\"", p)
	case len(p) > 256:
		return fmt.Errorf("is longer than 256 bytes")
	case strings.Contains(p, "//") || strings.Contains(p, ".."):
		return fmt.Errorf("%q is not a valid ref namespace", p)
	}
	for _, c := range p {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("~^:?*[\\", c) {
			return fmt.Errorf("%q is not a valid ref namespace", p)
		}
	}
	for _, d := range DefaultPushRefs {
		if p == d {
			return fmt.Errorf("%q is always allowed; leave it out", p)
		}
	}
	return nil
}

// Excepts reports whether r's DLPExceptions hold f.
func (r Repo) Excepts(f Fingerprint) bool {
	for _, e := range r.DLPExceptions {
		if e == f {
			return true
		}
	}
	return false
}

// HostKeyIsSecret reports whether HostKey names a secret (holding a
// known_hosts file) rather than being a key line. A key line always
// contains a space or tab; a secret name never does.
func (r Repo) HostKeyIsSecret() bool {
	return !strings.ContainsAny(r.HostKey, " \t")
}

// SSHURL is a parsed ssh:// URL.
type SSHURL struct {
	// User is the login name; ParseSSHURL requires one.
	User string
	// Host is the host name or IP address, IPv6 without brackets.
	Host string
	// Port is the TCP port; ParseSSHURL fills in 22 when the URL has none,
	// and String treats 0 as 22.
	Port int
	// Path is the repository path on the host, starting with '/'.
	Path string
}

// sshURLShape is how errors show what an upstream URL looks like.
const sshURLShape = "expected ssh://git@host[:port]/path.git"

// ParseSSHURL parses an upstream URL strictly: scheme ssh, a user (no
// password), a host (IPv6 in brackets), an optional numeric port 1-65535
// (default 22) and a non-empty path; no query or fragment. Errors say what
// is wrong and show the expected shape. They never repeat the whole URL, in
// case it carries a password.
func ParseSSHURL(s string) (SSHURL, error) {
	bad := func(format string, args ...any) (SSHURL, error) {
		return SSHURL{}, fmt.Errorf(format+"; "+sshURLShape, args...)
	}
	if s == "" {
		return bad("URL is empty")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		if at := strings.IndexByte(s, '@'); at >= 0 && strings.Contains(s[at:], ":") {
			return bad("URL is in scp form (user@host:path); write it as an ssh:// URL")
		}
		return bad("URL has no scheme")
	}
	if scheme != "ssh" {
		return bad("URL scheme is %q; the gate reaches upstreams over SSH only", scheme)
	}
	for i, r := range rest {
		if r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) {
			return bad("URL contains %s", describeByte(rest, i))
		}
	}
	if strings.ContainsAny(rest, "?#") {
		return bad("URL has a query or fragment")
	}
	authority, path, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("URL has no path")
	}
	path = "/" + path
	userinfo, hostport, ok := strings.Cut(authority, "@")
	if !ok {
		return bad("URL has no user")
	}
	if strings.Contains(hostport, "@") {
		return bad("URL has more than one '@'")
	}
	var u SSHURL
	var err error
	if u.User, err = parseSSHUser(userinfo); err != nil {
		return bad("%v", err)
	}
	if u.Host, u.Port, err = parseSSHHostPort(hostport); err != nil {
		return bad("%v", err)
	}
	if err := validSSHPath(path); err != nil {
		return bad("%v", err)
	}
	u.Path = path
	return u, nil
}

func parseSSHUser(s string) (string, error) {
	switch {
	case s == "":
		return "", fmt.Errorf("user is empty")
	case strings.Contains(s, ":"):
		return "", fmt.Errorf("URL has a password; remove it (the gate authenticates with the identity key)")
	case s[0] == '-':
		return "", fmt.Errorf("user %q must not start with '-'", s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return "", fmt.Errorf("user %q contains %s; use letters, digits, '.', '_' and '-'", s, describeByte(s, i))
		}
	}
	return s, nil
}

func parseSSHHostPort(s string) (string, int, error) {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, fmt.Errorf("host has '[' without ']'")
		}
		host, port = s[1:end], s[end+1:]
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", 0, fmt.Errorf("%q in brackets is not an IPv6 address", host)
		}
		if port != "" && port[0] != ':' {
			return "", 0, fmt.Errorf("unexpected %q after the IPv6 address", port)
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i:]
		if strings.Contains(port[1:], ":") {
			return "", 0, fmt.Errorf("host has more than one ':'; write an IPv6 address in brackets, as in ssh://git@[2001:db8::1]/repo.git")
		}
	}
	if host == "" {
		return "", 0, fmt.Errorf("host is empty")
	}
	if strings.Contains(host, "*") {
		return "", 0, fmt.Errorf("host %q has a wildcard; name the one upstream host", host)
	}
	if err := ValidHost(host); err != nil {
		return "", 0, err
	}
	if port == "" {
		return host, 22, nil
	}
	port = port[1:]
	if port == "" {
		return "", 0, fmt.Errorf("port is empty; drop the ':' or give a port")
	}
	if !isDigits(port) {
		return "", 0, fmt.Errorf("port %q is not a number", port)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("port %s is out of range 1-65535", port)
	}
	return host, n, nil
}

// validSSHPath allows a conservative character set in upstream paths: git
// hands the path to a remote shell command, so quotes, '$', ';' and the like
// have no business there.
func validSSHPath(p string) error {
	if p == "/" {
		return fmt.Errorf("path is empty")
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !isAlnum(c) && !strings.ContainsRune("/._~+@:=,-", rune(c)) {
			return fmt.Errorf("path contains %s; use letters, digits and any of / . _ ~ + @ : = , -", describeByte(p, i))
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return fmt.Errorf("path has a \"..\" segment")
		}
	}
	return nil
}

// String returns u as an ssh:// URL, omitting the port when it is 22.
// ParseSSHURL(u.String()) gives u back.
func (u SSHURL) String() string {
	host := u.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if u.Port != 0 && u.Port != 22 {
		host += ":" + strconv.Itoa(u.Port)
	}
	return "ssh://" + u.User + "@" + host + u.Path
}

// ParseGate decodes and validates a gate file, like ParseRoutes: version
// first, strict keys, then Validate.
func ParseGate(data []byte) (*GateFile, error) {
	var f GateFile
	if err := parseYAML(data, "gate file", &f); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Marshal validates f and encodes it as YAML.
func (f *GateFile) Marshal() ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return marshalYAML(f)
}

// Lookup returns the repository called name, compared exactly (the agent's
// URL path is case-sensitive). The result points into f.Repos.
func (f *GateFile) Lookup(name string) (*Repo, bool) {
	for i := range f.Repos {
		if f.Repos[i].Name == name {
			return &f.Repos[i], true
		}
	}
	return nil, false
}

// Validate reports every problem with f as a *ValidationError of
// *FieldErrors, or nil if there are none. Names must also be unique
// case-insensitively, so two repositories never share a directory on a
// case-insensitive file system.
func (f *GateFile) Validate() error {
	var ps problems
	if err := checkVersion("gate file", f.Version); err != nil {
		ps.add("version", err)
	}
	seen := make(map[string]int, len(f.Repos))
	for i, r := range f.Repos {
		path := index("repos", i)
		if err := ValidRepoName(r.Name); err != nil {
			ps.add(join(path, "name"), err)
		} else if j, dup := seen[strings.ToLower(r.Name)]; dup {
			ps.addf(join(path, "name"), "%q is already used by repos[%d]", r.Name, j)
		} else {
			seen[strings.ToLower(r.Name)] = i
		}
		if _, err := ParseSSHURL(r.URL); err != nil {
			ps.add(join(path, "url"), err)
		}
		if err := ValidSecretName(r.Identity); err != nil {
			ps.add(join(path, "identity"), err)
		}
		if err := validHostKey(r.HostKey); err != nil {
			ps.add(join(path, "host_key"), err)
		}
		validDLPExceptions(&ps, join(path, "dlp_exceptions"), r.DLPExceptions)
		if len(r.PushRefs) > MaxPushRefs {
			ps.addf(join(path, "push_refs"), "has %d entries; the limit is %d", len(r.PushRefs), MaxPushRefs)
		}
		seenRef := map[string]int{}
		for j, p := range r.PushRefs {
			field := index(join(path, "push_refs"), j)
			if err := ValidPushRefPrefix(p); err != nil {
				ps.add(field, err)
			} else if k, dup := seenRef[p]; dup {
				ps.addf(field, "duplicates %s", index("push_refs", k))
			} else {
				seenRef[p] = j
			}
		}
	}
	return ps.err()
}

func validDLPExceptions(ps *problems, path string, list []Fingerprint) {
	if len(list) > MaxDLPExceptions {
		ps.addf(path, "has %d entries; the limit is %d", len(list), MaxDLPExceptions)
		return
	}
	seen := make(map[Fingerprint]int, len(list))
	for i, f := range list {
		field := index(path, i)
		n := len(*ps)
		f.validate(ps, field)
		if len(*ps) > n {
			continue
		}
		if j, dup := seen[f]; dup {
			ps.addf(field, "duplicates %s", index("dlp_exceptions", j))
		} else {
			seen[f] = i
		}
	}
}

// sshKeyTypes are the host key types a key line may carry.
var sshKeyTypes = []string{
	"ssh-ed25519",
	"ssh-rsa",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
}

func isKeyType(s string) bool {
	for _, t := range sshKeyTypes {
		if s == t {
			return true
		}
	}
	return false
}

// ed25519KeyLen is the size of an Ed25519 public key.
const ed25519KeyLen = 32

// sshStrings splits b into SSH wire-format strings (a uint32 length, then
// that many bytes), reporting false unless they use up b exactly.
func sshStrings(b []byte) ([][]byte, bool) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, false
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return nil, false
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out, true
}

// maxHostKeyLen bounds a host_key value; RSA 16384-bit keys stay well under.
const maxHostKeyLen = 8192

// ValidHostKeyLine reports whether s is one known_hosts-style key line
// ("ssh-ed25519 AAAA...", optionally after a host-pattern field and before
// a comment) whose key decodes and matches its type. Unlike a gate file's
// host_key, it does not accept a secret name: manifests hold the key itself.
func ValidHostKeyLine(s string) error {
	if strings.TrimSpace(s) != "" && !strings.ContainsAny(s, " \t") {
		return fmt.Errorf("%q is not a key line: it needs a key type and the base64 key, as in \"ssh-ed25519 AAAA...\"", s)
	}
	if err := validHostKey(s); err != nil {
		return fmt.Errorf("host key: %w", err)
	}
	return nil
}

func validHostKey(s string) error {
	if s == "" {
		return fmt.Errorf("is required: gitgate checks the upstream's host key strictly and never trusts it on first use; paste the line `ssh-keyscan -t ed25519 HOST` prints, or name a secret holding a known_hosts file")
	}
	if len(s) > maxHostKeyLen {
		return fmt.Errorf("is %d characters; the limit is %d", len(s), maxHostKeyLen)
	}
	if !strings.ContainsAny(s, " \t") {
		if err := ValidSecretName(s); err != nil {
			return fmt.Errorf("is neither a key line (\"ssh-ed25519 AAAA...\") nor a secret name: %w", err)
		}
		return nil
	}
	for i, r := range s {
		if r == utf8.RuneError || r != ' ' && r != '\t' && (unicode.IsSpace(r) || unicode.IsControl(r)) {
			return fmt.Errorf("key line contains %s; give exactly one line (for several keys, name a secret holding a known_hosts file)", describeByte(s, i))
		}
	}
	fields := strings.Fields(s)
	t := 0
	if !isKeyType(fields[0]) {
		if strings.HasPrefix(fields[0], "@") {
			return fmt.Errorf("key line starts with the marker %q; markers are not supported, give a plain host key", fields[0])
		}
		t = 1
	}
	if t >= len(fields) || !isKeyType(fields[t]) {
		return fmt.Errorf("key line has no key type; it needs one of %s followed by the base64 key", strings.Join(sshKeyTypes, ", "))
	}
	if t+1 >= len(fields) {
		return fmt.Errorf("key line has no key after %q", fields[t])
	}
	blob, err := base64.StdEncoding.Strict().DecodeString(fields[t+1])
	if err != nil {
		return fmt.Errorf("key line's key is not valid base64 (was it cut short?)")
	}
	// The blob is a sequence of SSH strings starting with the key type.
	// Checking that catches a key cut short in copying, or pasted next to
	// the wrong type name.
	parts, ok := sshStrings(blob)
	if !ok || len(parts) < 2 {
		return fmt.Errorf("key line's key is cut short or malformed")
	}
	if string(parts[0]) != fields[t] {
		return fmt.Errorf("key line's key is a %q key, not %q", parts[0], fields[t])
	}
	if strings.Contains(fields[t], "ed25519") && len(parts[1]) != ed25519KeyLen {
		return fmt.Errorf("key line's ed25519 key is %d bytes, not %d", len(parts[1]), ed25519KeyLen)
	}
	return nil
}
