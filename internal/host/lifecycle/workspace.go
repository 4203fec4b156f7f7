package lifecycle

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/host/docker"
)

// DefaultMaxWorkspace is the default cap on a --cwd copied into a bottle.
const DefaultMaxWorkspace = 2 << 30

// WorkspaceDir is the agent's workspace, under its home.
const WorkspaceDir = "workspace"

// workspaceSize walks dir and returns the bytes its regular files hold,
// stopping with an error as soon as they pass max: the operator is told
// the size instead of waiting for a copy that will be refused.
func workspaceSize(dir string, max int64) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		if total > max {
			return errTooLarge
		}
		return nil
	})
	if errors.Is(err, errTooLarge) {
		return total, fmt.Errorf("%s holds more than %s (and counting); the workspace copied into a bottle is capped at %s: "+
			"run from a smaller directory or raise --max-workspace", dir, humanBytes(total), humanBytes(max))
	}
	return total, err
}

var errTooLarge = errors.New("too large")

// writeWorkspaceTar writes dir as a tar stream whose one top entry is
// name/, every entry owned by uid:gid. Regular files, directories and
// symbolic links are copied (links as links: inside the bottle they point
// into the bottle's own filesystem); sockets, devices and pipes are
// skipped and counted.
func writeWorkspaceTar(w io.Writer, dir, name string, uid, gid int) (skipped int, err error) {
	tw := tar.NewWriter(w)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		entry := path.Join(name, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		switch {
		case info.Mode().IsRegular(), info.IsDir():
		case info.Mode()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			skipped++
			return nil
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = entry
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = uid, gid, "", ""
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, info.Size()); err != nil {
			return fmt.Errorf("copy %s: %w", p, err)
		}
		return nil
	})
	if err != nil {
		return skipped, err
	}
	return skipped, tw.Close()
}

// copyWorkspace copies dir into the running container as workspace (an
// absolute path, the workspace volume's mount point), owned by uid:gid.
// The tar's top entry is the workspace itself, copied into its parent, so
// Docker hands the volume's own root to the agent too.
func copyWorkspace(ctx context.Context, r docker.Runner, container, dir, workspace string, uid, gid int) (skipped int, err error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		n, err := writeWorkspaceTar(pw, dir, path.Base(workspace), uid, gid)
		skipped = n
		pw.CloseWithError(err)
		done <- err
	}()
	cmd := r.Command(ctx, "cp", "--archive", "-", container+":"+path.Dir(workspace))
	cmd.Stdin = pr
	out, runErr := cmd.CombinedOutput()
	pr.CloseWithError(errors.New("docker cp ended"))
	tarErr := <-done
	if runErr != nil {
		return skipped, fmt.Errorf("docker cp into the agent: %v: %s", runErr, strings.TrimSpace(string(out)))
	}
	if tarErr != nil {
		return skipped, fmt.Errorf("read %s: %w", dir, tarErr)
	}
	return skipped, nil
}

// humanBytes writes n in binary units: "2.0 GiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
