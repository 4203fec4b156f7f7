package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// maxFileSize bounds a manifest file; a larger one is a mistake, not a manifest.
const maxFileSize = 1 << 20

// Options says where to load manifests from.
type Options struct {
	// Home is the bot-bottle home holding bottles/ and agents/ (see
	// ResolveHome). Required.
	Home string
	// CWD is the working directory whose .bot-bottle/agents/ may add
	// agents; empty: none. Such an agent may use only a bottle that sets
	// repo_agents: true.
	CWD string
	// RepoOverrides lets a working-directory agent replace the home agent
	// of the same name. False, the default: the home agent is used and
	// the repository's is ignored, with a warning naming both files.
	RepoOverrides bool
}

// Manifest is everything loaded: bottles after extends, and agents.
type Manifest struct {
	// Home is the bot-bottle home it was loaded from.
	Home string
	// CWDAgentsDir is the working-directory agents folder that was read;
	// empty when none was.
	CWDAgentsDir string
	// Bottles maps a bottle name to the resolved bottle.
	Bottles map[string]*Bottle
	// Agents maps an agent name to its file; a working-directory agent
	// replaces the home agent of the same name only with
	// Options.RepoOverrides.
	Agents map[string]*Agent
	// Refused maps the name of a working-directory agent that is not
	// used to why (its bottle is not open to repository agents); the
	// same problem is among Warnings. Effective refuses these names, even
	// when a home agent has one (only with Options.RepoOverrides: else the
	// home agent wins before the bottle is looked at).
	Refused map[string]Problem
	// Warnings are non-fatal findings (skipped files, deprecated keys).
	Warnings []Problem
}

// ResolveHome picks the bot-bottle home: the flag value if set, else
// $BOT_BOTTLE_HOME, else ~/.bot-bottle. A relative path is taken relative
// to cwd.
func ResolveHome(flag string, getenv func(string) string, cwd string) (string, error) {
	home := flag
	if home == "" {
		home = getenv(contract.HomeEnv)
	}
	if home == "" {
		userHome := getenv("HOME")
		if userHome == "" {
			var err error
			if userHome, err = os.UserHomeDir(); err != nil {
				return "", fmt.Errorf("find the bot-bottle home: %w; pass --home DIR or set %s", err, contract.HomeEnv)
			}
		}
		home = filepath.Join(userHome, contract.HomeDirName)
	}
	if !filepath.IsAbs(home) {
		home = filepath.Join(cwd, home)
	}
	return filepath.Clean(home), nil
}

// Load reads every manifest. It returns Problems (as the error) listing
// everything wrong; the Manifest is returned either way, holding what
// loaded cleanly, so callers can show warnings.
func Load(opts Options) (*Manifest, error) {
	m := &Manifest{Home: opts.Home, Bottles: map[string]*Bottle{}, Agents: map[string]*Agent{}, Refused: map[string]Problem{}}
	var problems []Problem

	bottlesDir := filepath.Join(opts.Home, contract.BottlesDirName)
	agentsDir := filepath.Join(opts.Home, contract.AgentsDirName)
	if p, stale := staleLegacyJSON(opts.Home, bottlesDir, agentsDir); stale {
		problems = append(problems, p)
	}

	decls := map[string]*bottleDecl{}
	for _, f := range m.listDir(bottlesDir, &problems) {
		r := &reader{file: f.path, problems: &problems, warnings: &m.Warnings}
		top, _, ok := r.read(f.path)
		if !ok {
			decls[f.name] = &bottleDecl{name: f.name, file: f.path, ok: false}
			continue
		}
		decls[f.name] = r.bottle(f.name, top)
	}
	m.Bottles = resolveBottles(decls, &problems)

	homeAgents := m.loadAgents(agentsDir, SourceHome, decls, &problems)
	for name, a := range homeAgents {
		m.Agents[name] = a
	}
	if opts.CWD != "" {
		cwdBase := filepath.Join(opts.CWD, contract.HomeDirName)
		if !sameDir(cwdBase, opts.Home) {
			cwdAgents := filepath.Join(cwdBase, contract.AgentsDirName)
			if isDir(cwdAgents) {
				m.CWDAgentsDir = cwdAgents
			}
			for name, a := range m.loadAgents(cwdAgents, SourceCWD, decls, &problems) {
				m.admitRepoAgent(a, homeAgents[name], opts.RepoOverrides, bottlesDir)
			}
			if cwdBottles := filepath.Join(cwdBase, contract.BottlesDirName); isDir(cwdBottles) {
				m.Warnings = append(m.Warnings, Problem{File: cwdBottles,
					Msg:  "ignored: bottles are loaded only from the bot-bottle home, never from the working directory",
					Hint: "a bottle grants capabilities, so only the operator's " + bottlesDir + " may define one"})
			}
		}
	}

	sortProblems(problems)
	sortProblems(m.Warnings)
	if len(problems) > 0 {
		return m, Problems(problems)
	}
	return m, nil
}

// admitRepoAgent decides whether the working-directory agent a is used.
// A cloned repository wrote it, so it must never pick the operator's
// capabilities unseen: it may not silently replace the home agent home of
// the same name (nil: none), and it may name only a bottle the operator
// opened to repository agents. A refusal is a warning, not a problem:
// every other agent still loads, and asking for a refused one says why
// (Effective).
func (m *Manifest) admitRepoAgent(a, home *Agent, overrides bool, bottlesDir string) {
	if home != nil && !overrides {
		m.Warnings = append(m.Warnings, Problem{File: a.File,
			Msg:  fmt.Sprintf("not used: agent %q from the repository has the name of your agent %s, which wins", a.Name, home.File),
			Hint: "rename one of them, or pass --repo-overrides to run the repository's agent instead (its bottle must still set repo_agents: true)"})
		return
	}
	if b, ok := m.Bottles[a.Bottle]; ok && !b.RepoAgents {
		p := Problem{File: a.File, Line: a.BottleLine, Field: "bottle",
			Msg: fmt.Sprintf("refused: agent %q from the repository names bottle %q, which is not open to repository agents", a.Name, a.Bottle),
			Hint: fmt.Sprintf("a repository may not choose your capabilities; to allow it, add `repo_agents: true` to %s, or copy the agent into %s",
				b.File, filepath.Join(filepath.Dir(bottlesDir), contract.AgentsDirName))}
		m.Warnings = append(m.Warnings, p)
		// Refused even when a home agent has the name: with
		// --repo-overrides the operator asked for the repository's, and
		// quietly running the home agent instead would be a surprise too.
		m.Refused[a.Name] = p
		return
	}
	if home != nil {
		a.Shadows = home.File
		m.Warnings = append(m.Warnings, Problem{File: a.File,
			Msg: fmt.Sprintf("agent %q from the repository replaces your agent %s (--repo-overrides)", a.Name, home.File)})
	}
	m.Agents[a.Name] = a
}

func (m *Manifest) loadAgents(dir string, src Source, decls map[string]*bottleDecl, problems *[]Problem) map[string]*Agent {
	out := map[string]*Agent{}
	for _, f := range m.listDir(dir, problems) {
		r := &reader{file: f.path, problems: problems, warnings: &m.Warnings, plainText: src == SourceCWD}
		top, body, ok := r.read(f.path)
		if !ok {
			continue
		}
		a, ok := r.agent(f.name, top, body)
		a.Source = src
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value == "bottle" {
				a.BottleLine = top.Content[i+1].Line + r.lineBase
			}
		}
		if _, defined := decls[a.Bottle]; !defined && a.Bottle != "" {
			*problems = append(*problems, Problem{File: f.path, Line: a.BottleLine, Field: "bottle",
				Msg: fmt.Sprintf("bottle %q is not defined", a.Bottle), Hint: missingBottleHint(a.Bottle, decls)})
			continue
		}
		if ok {
			out[f.name] = a
		}
	}
	return out
}

// read loads one file and parses its frontmatter.
func (r *reader) read(path string) (top *yaml.Node, body []byte, ok bool) {
	data, err := readFile(path)
	if err != nil {
		*r.problems = append(*r.problems, Problem{File: path, Msg: err.Error()})
		return nil, nil, false
	}
	if !r.plainText {
		return r.parse(data)
	}
	// Every problem is reported: the characters in the file, then what
	// its quoted values decode to.
	clean := r.checkText(data)
	top, body, ok = r.parse(data)
	if ok {
		found := 0
		r.checkNodes(top, &found)
		clean = clean && found == 0
	}
	return top, body, ok && clean
}

// parse splits a file's content and parses its frontmatter.
func (r *reader) parse(data []byte) (top *yaml.Node, body []byte, ok bool) {
	text, first, body, err := splitFrontmatter(data)
	if err != nil {
		*r.problems = append(*r.problems, Problem{File: r.file, Line: 1, Msg: err.Error()})
		return nil, nil, false
	}
	r.lineBase = first - 1
	top, ok = r.parseYAML(text)
	return top, body, ok
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", unwrapPath(err))
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d KiB; a manifest is a short Markdown file", maxFileSize>>10)
	}
	return data, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type manifestFile struct{ name, path string }

// listDir returns the *.md files of dir whose names follow the convention,
// sorted; others get a warning. A missing dir is empty.
func (m *Manifest) listDir(dir string, problems *[]Problem) []manifestFile {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		*problems = append(*problems, Problem{File: dir, Msg: "cannot list: " + unwrapPath(err).Error()})
		return nil
	}
	var out []manifestFile
	for _, e := range entries {
		fname := e.Name()
		if !strings.HasSuffix(fname, ".md") || strings.HasPrefix(fname, ".") {
			continue
		}
		path := filepath.Join(dir, fname)
		if info, err := os.Stat(path); err != nil || info.IsDir() {
			continue
		}
		stem := strings.TrimSuffix(fname, ".md")
		if !fileNameRE.MatchString(stem) {
			m.Warnings = append(m.Warnings, Problem{File: path, Msg: "skipped: manifest file names must match [a-z][a-z0-9-]*.md",
				Hint: fmt.Sprintf("rename it to %q", suggestFileName(stem))})
			continue
		}
		out = append(out, manifestFile{name: stem, path: path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// suggestFileName turns a stem such as "My_Agent" into "my-agent.md".
func suggestFileName(stem string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(stem) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	for s != "" && (s[0] < 'a' || s[0] > 'z') {
		s = s[1:]
	}
	if s == "" {
		s = "agent"
	}
	return s + ".md"
}

// staleLegacyJSON flags a bot-bottle.json of the old format sitting in a
// home that has no Markdown manifests: its content would be silently unused.
func staleLegacyJSON(home, bottlesDir, agentsDir string) (Problem, bool) {
	legacy := filepath.Join(home, "bot-bottle.json")
	if info, err := os.Stat(legacy); err != nil || !info.Mode().IsRegular() || isDir(bottlesDir) || isDir(agentsDir) {
		return Problem{}, false
	}
	return Problem{File: legacy, Msg: "this manifest format is no longer read",
		Hint: "rewrite it as Markdown files under " + bottlesDir + "/ and " + agentsDir + "/ (see examples/ and the README)"}, true
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

func sameDir(a, b string) bool {
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(ia, ib)
	}
	return filepath.Clean(a) == filepath.Clean(b)
}
