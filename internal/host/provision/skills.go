package provision

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/fileinfo"
)

// Skill is one skill to copy into the agent: a directory on the host.
type Skill struct {
	// Name is the skill's name, which becomes its directory's name in the
	// agent: letters, digits, '.', '_', '-' (see ValidSkillName).
	Name string
	// Dir is the skill's directory on the host.
	Dir string
}

// Skill limits.
const (
	// DefaultSkillsDir is where the generic provider puts skills,
	// relative to the agent's home.
	DefaultSkillsDir = ".bot-bottle/skills"
	// DefaultMaxSkillBytes caps the total size of the skills' files.
	DefaultMaxSkillBytes = 64 << 20
	// MaxSkillEntries caps the number of files, directories and symlinks
	// in all the skills together.
	MaxSkillEntries = 10000
)

// ValidSkillName accepts a skill name: letters, digits, '.', '_', '-', not
// "." or "..", at most 128 bytes (the manifest's rule).
func ValidSkillName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 128 {
		return fmt.Errorf("%q is not a skill name", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%q is not a skill name (letters, digits, '.', '_', '-'; no paths)", name)
		}
	}
	return nil
}

// SkillDirs are the host directories a skill named name is looked for in,
// in order: <bot-bottle home>/skills/<name> and then
// <user home>/.claude/skills/<name>.
func SkillDirs(botBottleHome, userHome, name string) []string {
	return []string{
		filepath.Join(botBottleHome, "skills", name),
		filepath.Join(userHome, ".claude", "skills", name),
	}
}

// ResolveSkills finds each named skill's directory on the host (see
// SkillDirs). A skill found nowhere is an error naming every place looked;
// every missing skill is reported at once.
func ResolveSkills(names []string, botBottleHome, userHome string) ([]Skill, error) {
	var out []Skill
	var errs []error
	seen := map[string]bool{}
	for _, name := range names {
		if err := ValidSkillName(name); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		dirs := SkillDirs(botBottleHome, userHome, name)
		found := ""
		for _, d := range dirs {
			fi, err := os.Stat(d)
			if err == nil && fi.IsDir() {
				found = d
				break
			}
			if err == nil {
				errs = append(errs, fmt.Errorf("skill %q: %s is not a directory", name, d))
				found = "-"
				break
			}
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("skill %q: %v", name, err))
				found = "-"
				break
			}
		}
		switch found {
		case "":
			errs = append(errs, fmt.Errorf("skill %q not found: looked in %s", name, strings.Join(dirs, " and ")))
		case "-":
		default:
			out = append(out, Skill{Name: name, Dir: found})
		}
	}
	return out, errors.Join(errs...)
}

// SkillsTar writes a tar of skills to w: each skill's directory as
// <name>/..., with directories, regular files (mode 0644, or 0755 when
// the host file is executable by anyone) and symlinks whose targets are
// relative and stay inside the skill, every entry owned by uid:gid. It
// refuses, before writing anything, a symlink that leads outside its skill
// (or is absolute), anything else that is not a file or directory (a
// pipe, a socket, a device), more than MaxSkillEntries entries and more
// than maxBytes of file content. A skill's Dir may itself be a symlink.
func SkillsTar(w io.Writer, skills []Skill, uid, gid int, maxBytes int64) error {
	type entry struct {
		hdr  *tar.Header
		file string // host path of a regular file's content
	}
	var entries []entry
	var total int64
	seen := map[string]bool{}
	for _, s := range skills {
		if err := ValidSkillName(s.Name); err != nil {
			return err
		}
		if seen[s.Name] {
			return fmt.Errorf("skill %q is given twice", s.Name)
		}
		seen[s.Name] = true
		root, err := filepath.EvalSymlinks(s.Dir)
		if err != nil {
			return fmt.Errorf("skill %q: %w", s.Name, err)
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			name := s.Name
			if rel != "." {
				name += "/" + rel
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if len(entries) >= MaxSkillEntries {
				return fmt.Errorf("the skills have more than %d entries", MaxSkillEntries)
			}
			h := &tar.Header{Name: name, Uid: uid, Gid: gid, ModTime: fi.ModTime().Truncate(time.Second)}
			switch {
			case fi.Mode().IsDir():
				h.Typeflag, h.Name, h.Mode = tar.TypeDir, name+"/", 0o755
			case fi.Mode().IsRegular():
				h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, fi.Size()
				if fi.Mode().Perm()&0o111 != 0 {
					h.Mode = 0o755
				}
				total += fi.Size()
				if total > maxBytes {
					return fmt.Errorf("the skills are over the %d-byte limit", maxBytes)
				}
			case fi.Mode()&fs.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return err
				}
				if err := insideSkill(rel, target); err != nil {
					return fmt.Errorf("%s: %v", p, err)
				}
				h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, target, 0o777
			default:
				return fmt.Errorf("%s is %s; a skill holds only files, directories and symlinks inside it", p, fileinfo.Kind(fi.Mode()))
			}
			entries = append(entries, entry{hdr: h, file: p})
			return nil
		})
		if err != nil {
			return fmt.Errorf("skill %q: %w", s.Name, err)
		}
	}

	tw := tar.NewWriter(w)
	for _, e := range entries {
		if err := tw.WriteHeader(e.hdr); err != nil {
			return err
		}
		if e.hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := copyFile(tw, e.file, e.hdr.Size); err != nil {
			return err
		}
	}
	return tw.Close()
}

// copyFile copies exactly size bytes of file to w: a file that changed
// size since it was listed is an error, not a corrupt archive.
func copyFile(w io.Writer, file string, size int64) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if n, err := io.Copy(w, io.LimitReader(f, size)); err != nil {
		return err
	} else if n != size {
		return fmt.Errorf("%s shrank while it was copied", file)
	}
	if n, _ := f.Read(make([]byte, 1)); n != 0 {
		return fmt.Errorf("%s grew while it was copied", file)
	}
	return nil
}

// insideSkill checks a symlink at rel (slash path inside its skill) with
// target: relative, and resolving inside the skill.
func insideSkill(rel, target string) error {
	if target == "" {
		return errors.New("symlink with an empty target")
	}
	if path.IsAbs(target) || filepath.IsAbs(target) {
		return fmt.Errorf("symlink to the absolute path %q; a skill's symlinks must be relative and stay inside it", target)
	}
	resolved := path.Join(path.Dir(rel), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("symlink to %q leads outside the skill", target)
	}
	return nil
}

// extractSkillsScript replaces each skill named in $2... under $1 with
// the one in the tar on standard input: it unpacks into a new directory
// beside them and moves each skill into place, so a skill is either the
// old one or the new one, and skills not named are left alone. The
// directories it makes above the skills are 0700, like WriteAgentFile's.
const extractSkillsScript = `base=$1
shift
(umask 077 && mkdir -p -- "$base")
umask 022
tmp=$(mktemp -d "$base/.bot-bottle-tmp.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
tar -x -f - -C "$tmp"
for name in "$@"; do
	if [ ! -d "$tmp/$name" ] || [ -L "$tmp/$name" ]; then echo "skill $name is not in the archive" >&2; exit 1; fi
	rm -rf -- "$base/$name"
	mv -- "$tmp/$name" "$base/$name"
done
`

// copySkills copies the skills into dir (relative to the agent's home),
// as the agent.
func copySkills(ctx context.Context, t Target, a Agent, skills []Skill, dir string, maxBytes int64) (string, error) {
	if len(skills) == 0 {
		return "no skills to copy", nil
	}
	if err := validRel(dir); err != nil {
		return "", fmt.Errorf("skills directory: %v", err)
	}
	if !a.Has("tar") {
		return "", errors.New("the image has no tar")
	}
	var buf bytes.Buffer
	if err := SkillsTar(&buf, skills, a.UID, a.GID, maxBytes); err != nil {
		return "", err
	}
	base := a.homePath(dir)
	names := make([]string, 0, len(skills))
	from := make([]string, 0, len(skills))
	for _, s := range skills {
		names = append(names, s.Name)
		from = append(from, s.Name+" (from "+s.Dir+")")
	}
	if _, err := script(ctx, t, a.User(), &buf, "extract-skills", extractSkillsScript, append([]string{base}, names...)...); err != nil {
		return "", fmt.Errorf("unpack into %s: %w", base, err)
	}
	return fmt.Sprintf("skills copied to %s: %s", base, strings.Join(from, ", ")), nil
}
