// Package bottle is a bottle's identity and what bot-bottle remembers of
// it on the host: the slug `up` mints, and metadata.json in the bottle's
// directory (<home>/state/<slug>/), which list, resume and down read. The
// metadata never holds a secret or an env value.
package bottle

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// suffixLen is how many random characters follow the agent's name in a
// slug: 36^5 ≈ 60 million, so two bottles of one agent never collide in
// practice (and MintSlug checks).
const suffixLen = 5

const suffixAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// MaxAgentLen is the longest agent name a slug can be minted from.
const MaxAgentLen = contract.MaxSlugLen - 1 - suffixLen

// NewSlug returns "<agent>-<5 random [a-z0-9]>". The agent's name must be
// a valid slug of at most MaxAgentLen characters.
func NewSlug(agent string) (string, error) {
	if err := contract.ValidSlug(agent); err != nil {
		return "", fmt.Errorf("agent %q cannot name a bottle: %w", agent, err)
	}
	if len(agent) > MaxAgentLen {
		return "", fmt.Errorf("agent name %q is %d characters; a bottle's slug adds 6, so keep it to %d", agent, len(agent), MaxAgentLen)
	}
	buf := make([]byte, 0, suffixLen)
	var b [1]byte
	for len(buf) < suffixLen {
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		// Take only bytes below 252 = 7*36, so every character is as likely.
		if int(b[0]) < 252 {
			buf = append(buf, suffixAlphabet[int(b[0])%len(suffixAlphabet)])
		}
	}
	return agent + "-" + string(buf), nil
}

// State is where a bottle is in its life, as bot-bottle last recorded it.
// Whether its containers run is asked of Docker; this is what up, down
// and resume did.
type State string

const (
	// StateStarting: up has created the directory and is starting it.
	StateStarting State = "starting"
	// StateRunning: up or resume finished starting it.
	StateRunning State = "running"
	// StateStopped: down --keep-state (or an agent exit that kept it)
	// stopped it; resume starts it again.
	StateStopped State = "stopped"
	// StateFailed: starting failed; down removes what is left.
	StateFailed State = "failed"
)

// MetadataVersion is the version of metadata.json this build writes.
const MetadataVersion = 1

// Metadata is metadata.json.
type Metadata struct {
	Version int    `json:"version"`
	Slug    string `json:"slug"`
	// Agent and Bottle name the manifests; AgentFile is the agent's file.
	Agent     string `json:"agent"`
	AgentFile string `json:"agent_file,omitempty"`
	Bottle    string `json:"bottle"`
	// Provider is the agent provider's template (claude, codex, custom).
	Provider string `json:"provider"`
	// Image is the agent image.
	Image string `json:"image"`
	// Cwd is the host directory copied in as the workspace; "" for none.
	Cwd string `json:"cwd,omitempty"`
	// AgentUser is who the agent runs as in its container, and Workspace
	// its workspace there.
	AgentUser User   `json:"agent_user"`
	Workspace string `json:"workspace"`
	// Copied is the workspace's git state when it was copied in, so that
	// what came from the host is never counted as work the bottle would
	// lose; nil when the workspace was not a git repository.
	Copied *GitState `json:"copied,omitempty"`
	// ComposeProject is the compose project's name.
	ComposeProject string    `json:"compose_project"`
	StartedAt      time.Time `json:"started_at"`
	// Rebuilt is when an approved capability last rebuilt the agent image
	// (zero: never); an attached session that sees it change knows its
	// agent container was recreated under it.
	Rebuilt time.Time `json:"rebuilt,omitzero"`
	// BotBottleVersion is the version of bot-bottle that started it.
	BotBottleVersion string `json:"bot_bottle_version"`
	State            State  `json:"state"`
}

// GitState is a git workspace's branch and tag tips and the tree of its
// working files (tracked and untracked, as `git add -A` would stage them).
type GitState struct {
	Tips []string `json:"tips"`
	Tree string   `json:"tree"`
}

// User is the agent's user in its container.
type User struct {
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	Name string `json:"name,omitempty"`
	Home string `json:"home"`
}

// Validate checks what list, resume and down rely on.
func (m *Metadata) Validate() error {
	var errs []error
	if m.Version != MetadataVersion {
		errs = append(errs, fmt.Errorf("version %d is not %d; this bot-bottle cannot read it", m.Version, MetadataVersion))
	}
	if err := contract.ValidSlug(m.Slug); err != nil {
		errs = append(errs, fmt.Errorf("slug: %w", err))
	}
	if m.Agent == "" || m.ComposeProject == "" {
		errs = append(errs, errors.New("agent and compose_project are required"))
	}
	if !slices.Contains([]State{StateStarting, StateRunning, StateStopped, StateFailed}, m.State) {
		errs = append(errs, fmt.Errorf("state %q is not one of starting, running, stopped, failed", m.State))
	}
	return errors.Join(errs...)
}

// maxMetadata bounds metadata.json; it is a few hundred bytes.
const maxMetadata = 64 << 10

// Read reads the metadata of the bottle in d.
func Read(d contract.BottleDir) (*Metadata, error) {
	path := d.Path(contract.BottleMetadataFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var m Metadata
	dec := json.NewDecoder(&limitedReader{f, maxMetadata})
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// Write replaces the metadata of the bottle in d atomically (0600).
func Write(d contract.BottleDir, m *Metadata) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("bottle metadata: %w", err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	path := d.Path(contract.BottleMetadataFile)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".metadata-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// SetState records s in the metadata of the bottle in d.
func SetState(d contract.BottleDir, s State) error {
	m, err := Read(d)
	if err != nil {
		return err
	}
	m.State = s
	return Write(d, m)
}

// Known is a bottle bot-bottle has a directory for.
type Known struct {
	Dir      contract.BottleDir
	Metadata *Metadata
	// Err says why the metadata could not be read; nil when it was.
	Err error
}

// All returns every bottle under home, sorted by start time then slug
// (those whose metadata cannot be read last, by slug).
func All(home string) ([]Known, error) {
	entries, err := os.ReadDir(contract.StateBottlesDir(home))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list bottles: %w", err)
	}
	var out []Known
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		d, err := contract.StateBottleDir(home, e.Name())
		if err != nil {
			continue
		}
		m, err := Read(d)
		out = append(out, Known{Dir: d, Metadata: m, Err: err})
	}
	slices.SortFunc(out, func(a, b Known) int {
		switch {
		case a.Metadata == nil && b.Metadata == nil:
			return strings.Compare(string(a.Dir), string(b.Dir))
		case a.Metadata == nil:
			return 1
		case b.Metadata == nil:
			return -1
		}
		if c := a.Metadata.StartedAt.Compare(b.Metadata.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Metadata.Slug, b.Metadata.Slug)
	})
	return out, nil
}

// ErrUnknown means there is no bottle of that slug (no directory with
// metadata under the home).
var ErrUnknown = errors.New("no such bottle")

// Find returns the bottle slug under home. An unknown slug is an error
// (ErrUnknown) that lists the known ones.
func Find(home, slug string) (contract.BottleDir, *Metadata, error) {
	d, err := contract.StateBottleDir(home, slug)
	if err == nil {
		var m *Metadata
		if m, err = Read(d); err == nil {
			return d, m, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return d, nil, fmt.Errorf("bottle %s: %w", slug, err)
		}
	}
	all, lerr := All(home)
	if lerr != nil {
		return "", nil, lerr
	}
	var known []string
	for _, k := range all {
		if k.Metadata != nil {
			known = append(known, k.Metadata.Slug)
		}
	}
	if len(known) == 0 {
		return "", nil, fmt.Errorf("%w %q: there are none; start one with 'bot-bottle up AGENT'", ErrUnknown, slug)
	}
	return "", nil, fmt.Errorf("%w %q; known bottles: %s ('bot-bottle list --all' shows them)", ErrUnknown, slug, strings.Join(known, ", "))
}

type limitedReader struct {
	f    *os.File
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, fmt.Errorf("larger than %d bytes", maxMetadata)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.f.Read(p)
	l.left -= int64(n)
	return n, err
}
