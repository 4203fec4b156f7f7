package lifecycle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/shared/fileinfo"
)

// maxGitConfig bounds a git config file read for credentials; a larger
// one is refused rather than copied unread.
const maxGitConfig = 1 << 20

// urlWithUserinfo finds a URL with user info: scheme://USERINFO@. The
// user info is everything up to the first '@' before the host, with no
// '/', whitespace or quote in it.
var urlWithUserinfo = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s"'@]*@[^\s"']*`)

// CheckWorkspaceCredentials refuses a --cwd whose git configuration holds
// a credential: `up --cwd` copies the workspace into the agent, .git
// included, so a remote written https://user:TOKEN@host/repo.git (or
// https://TOKEN@host/..., as GitHub tokens are often written) would hand
// the token to the agent. It reads every config file of every .git
// directory under dir (submodules' too) and refuses a URL with a password,
// and an http(s) URL with any user info. The error names the file, line,
// section and the URL with its user info hidden, and says how to fix it;
// it never holds the credential.
func CheckWorkspaceCredentials(dir string) error {
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() != "config" || !d.Type().IsRegular() || !underGitDir(dir, p) {
			return nil
		}
		data, err := fileinfo.ReadRegular(p, maxGitConfig)
		if err != nil {
			return fmt.Errorf("check %s for credentials: %w", p, err)
		}
		found = append(found, configCredentials(p, data)...)
		return nil
	})
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return nil
	}
	return errors.New("the workspace's git configuration holds credentials, which --cwd would copy into the agent:\n  " +
		strings.Join(found, "\n  ") +
		"\nremove them (for a remote: git remote set-url NAME URL-WITHOUT-USER-INFO; keep the token in a credential helper " +
		"outside the workspace), or run without --cwd; the agent reaches your repositories through the git gate")
}

// underGitDir reports whether p lies in a .git directory below root.
func underGitDir(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return false
	}
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if part == ".git" {
			return true
		}
	}
	return false
}

// configCredentials returns one line per credential-bearing URL in the git
// config data: "FILE:LINE: [SECTION] URL", the user info shown as ***.
func configCredentials(file string, data []byte) []string {
	var out []string
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxGitConfig)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "[") {
			if end := strings.Index(text, "]"); end > 0 {
				section = text[:end+1]
			}
		}
		for _, raw := range urlWithUserinfo.FindAllString(text, -1) {
			if shown, secret := credentialURL(raw); secret {
				// A [url "..."] header may hold the credential itself.
				where := urlWithUserinfo.ReplaceAllStringFunc(section, func(u string) string {
					shown, _ := credentialURL(u)
					return shown
				})
				if where == "" {
					where = "(no section)"
				}
				out = append(out, fmt.Sprintf("%s:%d: %s %s", file, line, where, shown))
			}
		}
	}
	return out
}

// credentialURL reports whether raw carries a credential (a password, or
// any user info on http and https) and returns it with the user info
// replaced by ***.
func credentialURL(raw string) (shown string, secret bool) {
	scheme, rest, _ := strings.Cut(raw, "://")
	// The user info ends at the authority's last '@' (a password may hold
	// one unencoded), the authority at the first '/'.
	authority := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	userinfo, host := rest[:at], rest[at+1:]
	shown = scheme + "://***@" + host
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			return shown, true
		}
	} else if strings.Contains(userinfo, ":") {
		return shown, true
	}
	switch strings.ToLower(scheme) {
	case "http", "https":
		return shown, userinfo != ""
	}
	return shown, false
}
