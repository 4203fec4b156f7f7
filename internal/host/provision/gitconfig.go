package provision

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// GitConfigFileName is the git configuration's name in the agent's home.
const GitConfigFileName = ".gitconfig"

// GitIdentity is the commit identity written to ~/.gitconfig.
type GitIdentity struct {
	// Name is user.name; "" leaves it unset.
	Name string
	// Email is user.email; "" leaves it unset.
	Email string
}

// GateRepo is one git-gate repository and its upstream.
type GateRepo struct {
	// Name is the repository's name at the gate (contract.ValidRepoName).
	Name string
	// URL is the upstream as the manifest declares it,
	// ssh://user@host[:port]/path (contract.ParseSSHURL).
	URL string
}

// GateURL is where the agent reaches repo name at the gate:
// http://git-gate:9420/<name>.git.
func GateURL(name string) string {
	return "http://" + contract.GitGateHost + ":" + strconv.Itoa(contract.GitHTTPPort) + "/" + name + ".git"
}

// Spelling is one way of writing an upstream's URL that ~/.gitconfig
// rewrites to the gate.
type Spelling struct {
	// URL is the spelling: an insteadOf prefix.
	URL string
	// Rank orders spellings by how surely they name the upstream: 0 for
	// the ssh:// URL as declared (with and without the default port), 1
	// for the scp-style and https:// spellings of its path, 2 for any of
	// these with ".git" added or removed. Where two repositories' upstreams
	// share a spelling, the lower rank keeps it.
	Rank int
}

// Spellings returns the ways of writing upstream (an ssh:// URL, as
// contract.ParseSSHURL accepts) that git should send to the gate:
//
//   - ssh://user@host/path and ssh://user@host:22/path (or
//     ssh://user@host:port/path for another port);
//   - user@host:/path and user@host:path, the scp-style forms (port 22
//     only: they cannot say another);
//   - https://host/path, as hosting services serve the same repository;
//   - each of these with a trailing ".git" removed, or added when the
//     declared path has none.
//
// IPv6 hosts are in brackets. git matches insteadOf prefixes and prefers
// the longest, so "…/demo" also catches "…/demo.git/" while "…/demo.git"
// still wins for "…/demo.git".
func Spellings(upstream string) ([]Spelling, error) {
	u, err := contract.ParseSSHURL(upstream)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	forms := func(p string) []string {
		var ssh, alias []string
		if u.Port == 22 || u.Port == 0 {
			ssh = append(ssh, "ssh://"+u.User+"@"+host+p, "ssh://"+u.User+"@"+host+":22"+p)
			alias = append(alias, u.User+"@"+host+":"+p)
			if rel := p[1:]; rel != "" {
				alias = append(alias, u.User+"@"+host+":"+rel)
			}
		} else {
			ssh = append(ssh, "ssh://"+u.User+"@"+host+":"+strconv.Itoa(u.Port)+p)
		}
		alias = append(alias, "https://"+host+p)
		return append(ssh, alias...)
	}
	var out []Spelling
	add := func(url string, rank int) {
		if !slices.ContainsFunc(out, func(s Spelling) bool { return s.URL == url }) {
			out = append(out, Spelling{URL: url, Rank: rank})
		}
	}
	declared := forms(u.Path)
	for i, url := range declared {
		add(url, rankOf(i, u.Port))
	}
	toggled := u.Path + ".git"
	if stem, ok := strings.CutSuffix(u.Path, ".git"); ok {
		toggled = stem
	}
	if toggled != "/" && toggled != "" {
		for _, url := range forms(toggled) {
			add(url, 2)
		}
	}
	return out, nil
}

// rankOf is the rank of forms' i-th spelling of the declared path: the
// ssh:// ones come first (two for port 22, one otherwise).
func rankOf(i, port int) int {
	nssh := 1
	if port == 22 || port == 0 {
		nssh = 2
	}
	if i < nssh {
		return 0
	}
	return 1
}

// GitConfig returns the text of the agent's ~/.gitconfig: id as user.name
// and user.email, and for each repo a url."<gate URL>".insteadOf per
// spelling of its upstream (see Spellings), so that git sends the real
// URL, as the agent or a copied workspace's origin writes it, to the
// gate. Repos are written in name order. Where two repos' upstreams share
// a spelling, the lower rank keeps it; at equal rank neither does: it is
// rewritten to itself (so that no shorter spelling of another repo turns
// it into a wrong gate URL) and returned in ambiguous. Two repos with the
// same upstream are an error. Names and emails are quoted for git; one holding
// a line break or another control character is refused.
func GitConfig(id GitIdentity, repos []GateRepo) (text string, ambiguous []string, err error) {
	var b strings.Builder
	b.WriteString("# Written by bot-bottle when the bottle started; it is rewritten at every start.\n")
	if id.Name != "" || id.Email != "" {
		b.WriteString("[user]\n")
		for _, kv := range [][2]string{{"name", id.Name}, {"email", id.Email}} {
			if kv[1] == "" {
				continue
			}
			q, err := quoteValue(kv[1])
			if err != nil {
				return "", nil, fmt.Errorf("git user.%s: %v", kv[0], err)
			}
			fmt.Fprintf(&b, "\t%s = %s\n", kv[0], q)
		}
	}

	repos = slices.Clone(repos)
	slices.SortFunc(repos, func(x, y GateRepo) int { return strings.Compare(x.Name, y.Name) })
	type claim struct {
		repo string
		rank int
	}
	spellings := make(map[string][]Spelling, len(repos))
	owner := map[string]claim{}
	tied := map[string]bool{}
	for i, r := range repos {
		if err := contract.ValidRepoName(r.Name); err != nil {
			return "", nil, fmt.Errorf("gate repo: %v", err)
		}
		if i > 0 && strings.EqualFold(repos[i-1].Name, r.Name) {
			return "", nil, fmt.Errorf("gate repo %q is given twice", r.Name)
		}
		sp, err := Spellings(r.URL)
		if err != nil {
			return "", nil, fmt.Errorf("gate repo %q: %v", r.Name, err)
		}
		spellings[r.Name] = sp
		for _, s := range sp {
			c, taken := owner[s.URL]
			switch {
			case !taken || s.Rank < c.rank:
				owner[s.URL] = claim{r.Name, s.Rank}
				delete(tied, s.URL)
			case s.Rank == c.rank && s.Rank == 0:
				return "", nil, fmt.Errorf("gate repos %q and %q have the same upstream %s", c.repo, r.Name, s.URL)
			case s.Rank == c.rank:
				tied[s.URL] = true
			}
		}
	}
	for _, r := range repos {
		base, err := quoteSubsection(GateURL(r.Name))
		if err != nil {
			return "", nil, err
		}
		fmt.Fprintf(&b, "[url %s]\n", base)
		for _, s := range spellings[r.Name] {
			if owner[s.URL].repo != r.Name || tied[s.URL] {
				continue
			}
			q, err := quoteValue(s.URL)
			if err != nil {
				return "", nil, fmt.Errorf("gate repo %q: %v", r.Name, err)
			}
			fmt.Fprintf(&b, "\tinsteadOf = %s\n", q)
		}
	}
	for url := range tied {
		ambiguous = append(ambiguous, url)
	}
	slices.Sort(ambiguous)
	if len(ambiguous) > 0 {
		// Rewriting a spelling to itself keeps git from applying a shorter
		// spelling of another repo to it, which would make a wrong gate URL.
		b.WriteString("# Spellings the upstreams of two gate repos share: left as they are.\n")
		for _, url := range ambiguous {
			q, err := quoteValue(url)
			if err != nil {
				return "", nil, err
			}
			fmt.Fprintf(&b, "[url %s]\n\tinsteadOf = %s\n", q, q)
		}
	}
	return b.String(), ambiguous, nil
}

// quoteValue returns s as a git config value in double quotes, with '\'
// and '"' escaped, so that '#', ';' and surrounding spaces are kept.
// Line breaks and other control characters are refused: git could carry a
// newline (\n), but nothing written here should hold one.
func quoteValue(s string) (string, error) {
	if err := configText(s); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '"' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String(), nil
}

// quoteSubsection returns s as a quoted subsection name ([url "s"]).
func quoteSubsection(s string) (string, error) {
	return quoteValue(s) // the same escapes: '\' and '"'
}

// configText refuses what a config value or subsection must not hold:
// control characters (line breaks and NUL among them) and invalid UTF-8.
func configText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	for i, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			what := "a control character"
			switch r {
			case '\n', '\r':
				what = "a line break"
			case 0:
				what = "a NUL byte"
			}
			return fmt.Errorf("%q contains %s at byte %d", s, what, i)
		}
	}
	return nil
}

// writeGitConfig writes ~/.gitconfig as the agent.
func writeGitConfig(ctx context.Context, t Target, a Agent, id GitIdentity, repos []GateRepo) (string, error) {
	text, ambiguous, err := GitConfig(id, repos)
	if err != nil {
		return "", err
	}
	dst, err := WriteAgentFile(ctx, t, a, GitConfigFileName, 0o644, []byte(text))
	if err != nil {
		return "", err
	}
	var what []string
	if id.Name != "" || id.Email != "" {
		what = append(what, "commit identity")
	}
	if len(repos) > 0 {
		names := make([]string, 0, len(repos))
		for _, r := range repos {
			names = append(names, r.Name)
		}
		slices.Sort(names)
		what = append(what, fmt.Sprintf("upstream URLs of %s rewritten to the gate", strings.Join(names, ", ")))
	}
	if len(what) == 0 {
		what = append(what, "no identity, no gate repos")
	}
	line := fmt.Sprintf("%s written (%s)", dst, strings.Join(what, "; "))
	if len(ambiguous) > 0 {
		line += fmt.Sprintf("; not rewritten, shared by two upstreams: %s", strings.Join(ambiguous, " "))
	}
	return line, nil
}
