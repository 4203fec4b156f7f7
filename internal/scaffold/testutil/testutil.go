// Package testutil holds helpers for tests only: building a command binary
// once per test process and a buffer safe for concurrent writes and reads.
// Nothing here is for production use.
package testutil

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// build is one cached "go build" of a package with some arguments.
type build struct {
	once sync.Once
	bin  string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}
)

// BuildCommand builds the command package pkg, given by import path (for
// example "github.com/bot-bottle/bot-bottle/cmd/probe"), with
// "go build -o BIN extraArgs... pkg" and returns the binary's path. Each
// (pkg, extraArgs) is built once per test process, into a temporary
// directory that is not removed; later calls return the cached binary, or
// fail the same way. A failed build ends the test with the build output.
func BuildCommand(t testing.TB, pkg string, extraArgs ...string) string {
	t.Helper()
	key := strings.Join(append([]string{pkg}, extraArgs...), "\x00")
	buildsMu.Lock()
	b, ok := builds[key]
	if !ok {
		b = &build{}
		builds[key] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() { b.bin, b.err = goBuild(pkg, extraArgs) })
	if b.err != nil {
		t.Fatalf("build %s: %v", pkg, b.err)
	}
	return b.bin
}

func goBuild(pkg string, extraArgs []string) (string, error) {
	dir, err := os.MkdirTemp("", "testutil-build-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, path.Base(pkg))
	args := append(append([]string{"build", "-o", bin}, extraArgs...), pkg)
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return bin, nil
}

// SyncBuffer is a bytes.Buffer safe for concurrent Write and String, for a
// child process or logger to write while the test reads. The zero value is
// ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns the contents written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// BottleDir is the state directory of bottle slug under home; a bad slug
// ends the test.
func BottleDir(t testing.TB, home, slug string) contract.BottleDir {
	t.Helper()
	d, err := contract.StateBottleDir(home, slug)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// FreeAddr returns a loopback address nobody listens on right now, for a
// child process to listen on.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// FreeAddrT is FreeAddr for tests: an error ends the test.
func FreeAddrT(t testing.TB) string {
	t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// imagesBuilt records, per image list, one run of images/build.sh.
var imagesBuilt sync.Map // string → *build

// DockerImages makes sure the bot-bottle images names are built with tag
// (images/build.sh, a no-op when nothing changed), once per test process,
// and returns their references ("bot-bottle/NAME:TAG"). Without a Docker
// engine the test is skipped, saying why.
func DockerImages(t testing.TB, tag string, names ...string) []string {
	t.Helper()
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine reachable (docker info: %v: %s)", err, bytes.TrimSpace(out))
	}
	key := tag + " " + strings.Join(names, " ")
	v, _ := imagesBuilt.LoadOrStore(key, &build{})
	b := v.(*build)
	b.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			b.err = err
			return
		}
		cmd := exec.Command("bash", append([]string{filepath.Join(root, "images", "build.sh"), "--tag", tag}, names...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("images/build.sh: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	refs := make([]string, len(names))
	for i, n := range names {
		refs[i] = "bot-bottle/" + n + ":" + tag
	}
	return refs
}

// moduleRoot is the directory of the module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the bot-bottle module")
	}
	return filepath.Dir(mod), nil
}
