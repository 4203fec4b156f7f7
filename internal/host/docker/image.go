package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ImageUser is who an image's processes run as, and their home.
type ImageUser struct {
	UID, GID int
	// Name is the user's name in the image's /etc/passwd; "" when the
	// image has no entry for it.
	Name string
	// Home is $HOME as the image sets it, else the passwd entry's home.
	Home string
}

// imageConfig is the part of `docker image inspect` we read.
type imageConfig struct {
	User string   `json:"User"`
	Env  []string `json:"Env"`
}

// ImageUser reads who image runs as, without running it: its USER and
// ENV from the image's config, and /etc/passwd copied out of a container
// that is created, never started, and removed.
func (r Runner) ImageUser(ctx context.Context, image string) (ImageUser, error) {
	out, err := r.Output(ctx, "image", "inspect", "--format", "{{json .Config}}", "--", image)
	if err != nil {
		return ImageUser{}, fmt.Errorf("inspect the agent image %s: %w", image, err)
	}
	var cfg imageConfig
	if err := json.Unmarshal(out, &cfg); err != nil {
		return ImageUser{}, fmt.Errorf("inspect the agent image %s: %w", image, err)
	}
	// The entrypoint is never run; naming one lets an image without a
	// command be created too.
	id, err := r.Output(ctx, "create", "--network", "none", "--entrypoint", "/bot-bottle-never-runs", "--", image)
	if err != nil {
		return ImageUser{}, fmt.Errorf("read the agent image's users: %w", err)
	}
	cid := strings.TrimSpace(string(id))
	defer func() { _, _ = r.Output(context.WithoutCancel(ctx), "rm", "--force", cid) }()
	passwd, err := r.Output(ctx, "cp", cid+":/etc/passwd", "-")
	var entries []passwdEntry
	if err == nil {
		entries = readPasswdTar(passwd)
	}
	return resolveUser(cfg, entries)
}

type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

// readPasswdTar reads the passwd file out of the tar `docker cp` writes.
func readPasswdTar(data []byte) []passwdEntry {
	tr := tar.NewReader(bytes.NewReader(data))
	if _, err := tr.Next(); err != nil {
		return nil
	}
	return parsePasswd(io.LimitReader(tr, 1<<20))
}

func parsePasswd(r io.Reader) []passwdEntry {
	var out []passwdEntry
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 7 || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5]})
	}
	return out
}

// resolveUser turns an image's USER ("", "name", "uid", "name:group",
// "uid:gid") into ids and a home, the way Docker starts the image.
func resolveUser(cfg imageConfig, entries []passwdEntry) (ImageUser, error) {
	spec := cfg.User
	user, group, hasGroup := strings.Cut(spec, ":")
	if user == "" {
		user = "0"
	}
	var u ImageUser
	var entry *passwdEntry
	if n, err := strconv.Atoi(user); err == nil {
		u.UID, u.GID = n, 0
		for i := range entries {
			if entries[i].uid == n {
				entry = &entries[i]
				break
			}
		}
	} else {
		for i := range entries {
			if entries[i].name == user {
				entry = &entries[i]
				break
			}
		}
		if entry == nil {
			return ImageUser{}, fmt.Errorf("the image runs as user %q, which its /etc/passwd does not list", user)
		}
		u.UID = entry.uid
	}
	if entry != nil {
		u.GID, u.Name, u.Home = entry.gid, entry.name, entry.home
	}
	if hasGroup {
		n, err := strconv.Atoi(group)
		if err != nil {
			return ImageUser{}, fmt.Errorf("the image's USER %q names group %q by name; give its number (USER uid:gid)", spec, group)
		}
		u.GID = n
	}
	for _, kv := range cfg.Env {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok && v != "" {
			u.Home = v
		}
	}
	if u.Home == "" {
		u.Home = "/"
	}
	if u.UID == 0 {
		return u, errors.New("the agent image runs as root; bot-bottle runs agents as an unprivileged user: add `USER <uid>:<gid>` (or a named user) to its Dockerfile")
	}
	return u, nil
}
