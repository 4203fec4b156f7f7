#!/usr/bin/env bash
# images/build.sh — build bot-bottle's offline images (what `make images`
# runs). No registry is needed: every image is FROM scratch, assembled from
# our static Go binaries plus, where an image needs them, this machine's
# git (with its shared libraries) and busybox-static. See images/README.md.
#
# usage: images/build.sh [--tag TAG] [--force] [--list] [IMAGE...]
set -euo pipefail

usage() {
	cat <<'EOF'
usage: images/build.sh [--tag TAG] [--force] [--list] [IMAGE...]

Builds bot-bottle/IMAGE:TAG for each IMAGE (default: all buildable ones):
  egress gitgate supervise   one sidecar each, under sidecar-init, uid 65532
  sidecars                   the all-in-one bundle (every daemon + git)
  netguard                   the agent-net namespace guard (root, NET_ADMIN)
  agent-test                 busybox + git + probe + stand-in claude/codex,
                             uid 1000 (the test agent)
  demo-upstream              the demo's pretend internet (HTTPS API, SSH git), git
agent-claude and agent-codex need a registry and are skipped here.

An image whose context (binaries, files, Dockerfile) is unchanged since it
was built is not rebuilt: its dev.bot-bottle.context-hash label says so.

flags:
  --tag TAG   image tag (env TAG; default local)
  --force     rebuild even when the context hash matches (env FORCE=1)
  --list      print the buildable image names and exit
  -h, --help  this help

environment:
  TAG        image tag (default local)
  FORCE      1 rebuilds every image
  GO         the go command (default go)
  VERSION    version stamped into the binaries (default: git describe)
  STAGE_DIR  where binaries and build contexts are assembled
             (default .cache/images in the repository; kept between runs)
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

TAG=${TAG:-local}
FORCE=${FORCE:-0}
GO=${GO:-go}
# The Go release the Makefile builds with: the images ship these binaries.
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
STAGE_DIR=${STAGE_DIR:-$repo/.cache/images}
VERSION=${VERSION:-$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo devel)}
LDFLAGS="-s -w -X github.com/bot-bottle/bot-bottle/internal/shared/version.Version=$VERSION"

BUILDABLE=(egress gitgate supervise sidecars netguard agent-test demo-upstream)
NEEDS_REGISTRY=(agent-claude agent-codex)
CMDS=(egress gitgate supervise sidecar-init netguard probe demo-upstream fake-agent)

# Users of the images. The sidecars run as bot (distroless' "nonroot" id);
# the test agent as agent, like a typical first user.
SIDECAR_UID=65532
AGENT_UID=1000
# The data directories pkg/contract names (ConfigDir, GitDataDir, QueueDir,
# AuditDir); images_test.go checks this list against the contract.
SIDECAR_DATA_DIRS=(etc/bot-bottle var/lib/bot-bottle/git var/lib/bot-bottle/queue var/log/bot-bottle)
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
HASH_LABEL=dev.bot-bottle.context-hash

log() { printf 'images: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

images=()
while [ $# -gt 0 ]; do
	case $1 in
	--tag) [ $# -ge 2 ] || die "--tag needs a value"; TAG=$2; shift 2 ;;
	--tag=*) TAG=${1#--tag=}; shift ;;
	--force) FORCE=1; shift ;;
	--list) printf '%s\n' "${BUILDABLE[@]}"; exit 0 ;;
	-h | --help) usage; exit 0 ;;
	-*) usage >&2; die "unknown flag $1" ;;
	*) images+=("$1"); shift ;;
	esac
done
[ ${#images[@]} -gt 0 ] || images=("${BUILDABLE[@]}" "${NEEDS_REGISTRY[@]}")

# ---- helpers ---------------------------------------------------------------

# copy_closure ROOT FILE...: copy each executable FILE into the rootfs ROOT
# at the same path, with every shared library `ldd` lists for it and the
# dynamic loader, each at the path ldd prints (symlinks resolved to their
# contents). A static FILE is copied alone.
copy_closure() {
	local root=$1 f lib
	shift
	for f in "$@"; do
		[ -x "$f" ] || die "$f is missing; install it (e.g. apt-get install -y git)"
		install -D -m 0755 "$f" "$root$f"
		# ldd exits 1 for a static binary ("not a dynamic executable").
		while read -r lib; do
			[ -e "$root$lib" ] && continue
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
			chmod 0755 "$root$lib"
		done < <(ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' || true)
	done
}

# etc_files ROOT USER UID HOME SHELL: /etc/passwd, /etc/group and
# /etc/nsswitch.conf with root and one unprivileged user.
etc_files() {
	local root=$1 user=$2 uid=$3 home=$4 shell=$5
	mkdir -p "$root/etc"
	printf 'root:x:0:0:root:/root:%s\n%s:x:%s:%s:%s:%s:%s\n' "$shell" "$user" "$uid" "$uid" "$user" "$home" "$shell" >"$root/etc/passwd"
	printf 'root:x:0:\n%s:x:%s:\n' "$user" "$uid" >"$root/etc/group"
	printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
	chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf"
}

ca_roots() {
	local root=$1
	[ -r "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE (apt-get install -y ca-certificates)"
	install -D -m 0644 "$CA_BUNDLE" "$root$CA_BUNDLE"
}

# add_git ROOT [http]: the git CLI, its templates and, with http, the
# smart-HTTP(S) remote helper.
add_git() {
	local root=$1
	copy_closure "$root" /usr/bin/git
	mkdir -p "$root/usr/lib/git-core" "$root/usr/share/git-core"
	# The exec path's git is a second 3.7 MB copy on Debian; a link will do.
	ln -sf ../../bin/git "$root/usr/lib/git-core/git"
	# The dashed builtins (git-upload-pack, git-receive-pack, ...): git runs
	# some by that name, e.g. a push or clone over a local path or SSH.
	local l
	while read -r l; do
		ln -sf git "$root/usr/lib/git-core/$l"
	done < <(find /usr/lib/git-core -maxdepth 1 -type l -lname git -printf '%f\n')
	for l in git-upload-pack git-receive-pack git-upload-archive; do
		ln -sf git "$root/usr/bin/$l"
	done
	cp -r /usr/share/git-core/templates "$root/usr/share/git-core/templates"
	if [ "${2:-}" = http ]; then
		copy_closure "$root" /usr/lib/git-core/git-remote-http
		ln -sf git-remote-http "$root/usr/lib/git-core/git-remote-https"
	fi
}

# tar_tree DIR OUT UID [MEMBER...]: a reproducible tar of DIR's MEMBERs
# (default: all), every entry owned by UID:UID. ADD unpacks it with these
# owners and modes, so ownership is set without root or chown here.
tar_tree() {
	local dir=$1 out=$2 uid=$3
	shift 3
	[ $# -gt 0 ] || set -- .
	tar --sort=name --mtime=@0 --owner="$uid" --group="$uid" --numeric-owner \
		--format=gnu -C "$dir" -cf "$out" "$@"
}

bin() { printf '%s/bin/%s' "$STAGE_DIR" "$1"; }

# ---- image contexts ----------------------------------------------------------
# Each assemble_* fills the context directory $1 with the image's tars; the
# Dockerfile is copied in afterwards.

# sidecar_rootfs ROOT USERFS DAEMON...: the common sidecar layout.
sidecar_rootfs() {
	local root=$1 userfs=$2 d
	shift 2
	etc_files "$root" bot "$SIDECAR_UID" /home/bot /sbin/nologin
	ca_roots "$root"
	install -D -m 0755 "$(bin sidecar-init)" "$root/usr/local/bin/sidecar-init"
	for d in "$@"; do
		install -D -m 0755 "$(bin "$d")" "$root/usr/local/bin/$d"
	done
	mkdir -p "$root/tmp"
	chmod 1777 "$root/tmp"
	for d in "${SIDECAR_DATA_DIRS[@]}" home/bot; do
		mkdir -p "$root/$(dirname "$d")" "$userfs/$d"
		chmod 0755 "$userfs/$d"
	done
}

assemble_sidecar() {
	local ctx=$1
	shift
	local root=$ctx/rootfs userfs=$ctx/userfs
	sidecar_rootfs "$root" "$userfs" "$@"
	case " $* " in *" gitgate "*) add_git "$root" ;; esac
	tar_tree "$root" "$ctx/rootfs.tar" 0
	tar_tree "$userfs" "$ctx/userfs.tar" "$SIDECAR_UID" "${SIDECAR_DATA_DIRS[@]}" home/bot
}

assemble_egress() { assemble_sidecar "$1" egress; }
assemble_gitgate() { assemble_sidecar "$1" gitgate; }
assemble_supervise() { assemble_sidecar "$1" supervise; }
assemble_sidecars() { assemble_sidecar "$1" egress gitgate supervise; }

assemble_netguard() {
	local ctx=$1
	install -D -m 0755 "$(bin netguard)" "$ctx/rootfs/usr/local/bin/netguard"
	tar_tree "$ctx/rootfs" "$ctx/rootfs.tar" 0
}

assemble_agent-test() {
	local ctx=$1 root=$1/rootfs home=$1/homefs
	if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
		log "installing busybox-static (agent-test needs a static busybox at /bin/busybox)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y busybox-static >/dev/null ||
			{ apt-get update >/dev/null && apt-get install -y busybox-static >/dev/null; } ||
			die "cannot install busybox-static"
	fi
	etc_files "$root" agent "$AGENT_UID" /home/agent /bin/sh
	ca_roots "$root"
	install -D -m 0755 /bin/busybox "$root/bin/busybox"
	mkdir -p "$root/usr/bin"
	ln -sf /bin/busybox "$root/usr/bin/env" # for #!/usr/bin/env scripts
	add_git "$root" http
	install -D -m 0755 "$(bin probe)" "$root/usr/local/bin/probe"
	# Stand-ins for Claude Code and Codex, which cannot be installed here.
	install -D -m 0755 "$(bin fake-agent)" "$root/usr/local/bin/claude"
	ln -sf claude "$root/usr/local/bin/codex"
	mkdir -p "$root/tmp" "$root/home" "$home/home/agent"
	chmod 1777 "$root/tmp"
	chmod 0755 "$home/home/agent"
	tar_tree "$root" "$ctx/rootfs.tar" 0
	tar_tree "$home" "$ctx/homefs.tar" "$AGENT_UID" home/agent
}

# The demo's pretend internet: demo-upstream and the git it execs for the
# SSH git server. Runs as root in its own container (the demo's files).
assemble_demo-upstream() {
	local ctx=$1 root=$1/rootfs
	etc_files "$root" bot "$SIDECAR_UID" /home/bot /sbin/nologin
	ca_roots "$root"
	install -D -m 0755 "$(bin demo-upstream)" "$root/usr/local/bin/demo-upstream"
	add_git "$root"
	mkdir -p "$root/tmp" "$root/srv/git"
	chmod 1777 "$root/tmp"
	tar_tree "$root" "$ctx/rootfs.tar" 0
}

# ---- build -------------------------------------------------------------------

# build_image NAME: assemble NAME's context, then build it unless the
# existing image carries the same context hash.
build_image() {
	local name=$1 ctx=$STAGE_DIR/ctx/$1 ref=bot-bottle/$1:$TAG hash old new out same
	rm -rf "$ctx"
	mkdir -p "$ctx"
	"assemble_$name" "$ctx"
	rm -rf "$ctx/rootfs" "$ctx/userfs" "$ctx/homefs" # only the tars are sent
	cp "$here/$name/Dockerfile" "$ctx/Dockerfile"
	hash=$(cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-32)
	old=$(docker image inspect -f '{{.Id}} {{index .Config.Labels "'$HASH_LABEL'"}}' "$ref" 2>/dev/null || true)
	if [ "$FORCE" != 1 ] && [ "${old#* }" = "$hash" ]; then
		log "$ref is up to date ($hash)"
		return
	fi
	# The same context built under another tag: tag that image.
	same=$(docker images -q --no-trunc --filter "label=$HASH_LABEL=$hash" "bot-bottle/$name" | head -1)
	if [ "$FORCE" != 1 ] && [ -n "$same" ]; then
		docker tag "$same" "$ref"
		log "tagged $ref (same context as ${same:7:12})"
	else
		if ! out=$(DOCKER_BUILDKIT=0 docker build -q --label "$HASH_LABEL=$hash" -t "$ref" "$ctx" 2>&1); then
			printf '%s\n' "$out" >&2
			die "docker build of $ref failed"
		fi
		log "built $ref ($hash, $(docker image inspect -f '{{.Size}}' "$ref" | awk '{printf "%.1f MB", $1/1e6}'))"
	fi
	new=$(docker image inspect -f '{{.Id}}' "$ref")
	# The image this replaced is now untagged; remove it unless something
	# else still uses it.
	if [ -n "$old" ] && [ "${old%% *}" != "$new" ]; then
		docker image rm "${old%% *}" >/dev/null 2>&1 || true
	fi
}

main() {
	local name want=() skip
	for name in "${images[@]}"; do
		skip=
		for n in "${NEEDS_REGISTRY[@]}"; do
			[ "$name" = "$n" ] && skip=1
		done
		if [ -n "$skip" ]; then
			log "skipping bot-bottle/$name: FROM node:22-slim plus apt and npm need a registry, and none is reachable here (build it where one is: docker build -t bot-bottle/$name:$TAG images/$name)"
			continue
		fi
		[ -f "$here/$name/Dockerfile" ] && declare -F "assemble_$name" >/dev/null ||
			die "unknown image $name (buildable: ${BUILDABLE[*]})"
		want+=("$name")
	done
	[ ${#want[@]} -gt 0 ] || return 0
	command -v docker >/dev/null || die "docker is not installed"
	docker info >/dev/null 2>&1 || die "the Docker engine is not reachable (docker info fails)"

	mkdir -p "$STAGE_DIR"
	# One build at a time per staging directory (make images and the image
	# test may overlap).
	exec 9>"$STAGE_DIR/.lock"
	command -v flock >/dev/null && flock 9

	log "building ${CMDS[*]} ($VERSION)"
	(cd "$repo" && CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$LDFLAGS" -o "$STAGE_DIR/bin/" "${CMDS[@]/#/./cmd/}")
	for name in "${want[@]}"; do
		build_image "$name"
	done
}

main
