package provision

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Agent is the agent container's user and what its image offers, as
// Identify found them.
type Agent struct {
	// UID and GID are the agent user's numeric ids; UID is never 0.
	UID, GID int
	// Name is the user's login name; "" when the image's passwd has none.
	Name string
	// Home is the user's home directory: an absolute, clean path other
	// than "/".
	Home string
	// Tools maps each program Identify looked for and found (of
	// update-ca-certificates, tar, curl, wget, git, python3, node, openssl,
	// probe) to where `command -v` found it: an absolute path, or a bare
	// name for a shell builtin or busybox applet. Missing ones are absent.
	Tools map[string]string
}

// User is the agent as a Target user: "UID:GID".
func (a Agent) User() string { return strconv.Itoa(a.UID) + ":" + strconv.Itoa(a.GID) }

// Workspace is where the agent's workspace goes: <home>/workspace.
func (a Agent) Workspace() string { return path.Join(a.Home, WorkspaceDirName) }

// Has reports whether the image has tool.
func (a Agent) Has(tool string) bool { _, ok := a.Tools[tool]; return ok }

// homePath is rel (slash-separated, relative) inside the agent's home.
func (a Agent) homePath(rel string) string { return path.Join(a.Home, rel) }

// WorkspaceDirName is the workspace directory's name in the agent's home.
const WorkspaceDirName = "workspace"

// Root is the Target user for commands run as root.
const Root = "0:0"

// toolNames are the programs Identify looks for: update-ca-certificates for
// the CA step, tar for the skills, and the TLS clients the self-test can
// use (probe is the test image's).
var toolNames = []string{"update-ca-certificates", "tar", "curl", "wget", "git", "python3", "node", "openssl", "probe"}

// identifyScript prints what Identify needs, one key=value per line. PATH
// puts the system directories first, then the user's own: a tool only the
// agent's PATH has still counts for the self-test (which runs as the
// agent), while root resolves programs in SystemPath alone.
const identifyScript = `u=$(id -u)
printf 'uid=%s\n' "$u"
printf 'gid=%s\n' "$(id -g)"
printf 'user=%s\n' "$(id -un 2>/dev/null || true)"
printf 'home=%s\n' "${HOME:-}"
pw=$( (getent passwd "$u" 2>/dev/null || grep "^[^:]*:[^:]*:$u:" /etc/passwd 2>/dev/null || true) | head -n 1)
printf 'passwd=%s\n' "$pw"
PATH=$PATH:$USER_PATH
for t in "$@"; do
	if p=$(command -v "$t" 2>/dev/null); then printf 'tool.%s=%s\n' "$t" "$p"; fi
done
`

// Identify learns, from inside the container, who the agent is: the
// container's own user (the image's USER), its ids, name and home ($HOME,
// else its passwd entry), and which of the programs provisioning can use
// the image has (Agent.Tools). An agent
// running as root, without a home, or in an image without /bin/sh is an
// error.
func Identify(ctx context.Context, t Target) (Agent, error) {
	// The user's PATH comes in through the environment docker exec gives
	// the command; script() replaces PATH, so keep it first.
	argv := append([]string{shell, "-c", "USER_PATH=${PATH:-}\nset -eu\nPATH=" + SystemPath + "\nexport PATH\n" + identifyScript, "identify"}, toolNames...)
	out, err := t.Exec(ctx, "", nil, argv...)
	if err != nil {
		return Agent{}, fmt.Errorf("identify the agent user: %w", err)
	}
	return parseIdentity(out)
}

// parseIdentity reads identifyScript's output strictly: it came from the
// agent's container.
func parseIdentity(out []byte) (Agent, error) {
	fields := map[string]string{}
	a := Agent{Tools: map[string]string{}}
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSuffix(line, "\n")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return Agent{}, fmt.Errorf("identify: unexpected line %q", line)
		}
		if _, dup := fields[k]; dup {
			return Agent{}, fmt.Errorf("identify: %s printed twice", k)
		}
		fields[k] = v
		if tool, ok := strings.CutPrefix(k, "tool."); ok {
			if !slices.Contains(toolNames, tool) {
				return Agent{}, fmt.Errorf("identify: unexpected tool %q", tool)
			}
			if err := validToolPath(v); err != nil {
				return Agent{}, fmt.Errorf("identify: %s: %v", tool, err)
			}
			a.Tools[tool] = v
		}
	}
	var err error
	if a.UID, err = parseID(fields["uid"]); err != nil {
		return Agent{}, fmt.Errorf("identify: uid: %v", err)
	}
	if a.GID, err = parseID(fields["gid"]); err != nil {
		return Agent{}, fmt.Errorf("identify: gid: %v", err)
	}
	if a.UID == 0 {
		return Agent{}, fmt.Errorf("the agent image runs as root (uid 0); bot-bottle runs agents as an unprivileged user: give the image a USER other than root")
	}
	if name := fields["user"]; name != fields["uid"] && validName(name) {
		a.Name = name // id -un prints the number when passwd has no name
	}
	home := fields["home"]
	if home == "" || home == "/" {
		home = passwdHome(fields["passwd"], a.UID)
	}
	if err := validHome(home); err != nil {
		return Agent{}, fmt.Errorf("identify: the agent user's home: %v", err)
	}
	a.Home = home
	return a, nil
}

func parseID(s string) (int, error) {
	if s == "" || len(s) > 10 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return int(n), nil
}

// passwdHome is the home field of a passwd line for uid; "" when the line
// is not one.
func passwdHome(line string, uid int) string {
	f := strings.Split(line, ":")
	if len(f) != 7 || f[2] != strconv.Itoa(uid) {
		return ""
	}
	return f[5]
}

// validHome accepts an absolute, clean path other than "/" with only
// printable characters.
func validHome(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("neither $HOME nor the passwd entry gives one")
	case !utf8.ValidString(p) || strings.IndexFunc(p, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("%q contains a character that is not printable", p)
	case !path.IsAbs(p) || path.Clean(p) != p:
		return fmt.Errorf("%q is not an absolute, clean path", p)
	case p == "/":
		return fmt.Errorf("it is /")
	}
	return nil
}

// validName accepts a login name: letters, digits, '.', '_', '-', at most
// 64 bytes.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// validToolPath accepts what `command -v` prints for a program: an
// absolute clean path, or a bare name for a builtin or busybox applet.
func validToolPath(p string) error {
	if p == "" || len(p) > 4096 || strings.IndexFunc(p, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) >= 0 {
		return fmt.Errorf("%q is not a program path", p)
	}
	if strings.Contains(p, "/") && (!path.IsAbs(p) || path.Clean(p) != p) {
		return fmt.Errorf("%q is not an absolute, clean path", p)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
