package fileinfo

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestKindOfRealFiles stats real files of each kind.
func TestKindOfRealFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "l")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "p")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for path, want := range map[string]string{
		file: "a regular file", dir: "a directory", link: "a symbolic link", fifo: "a named pipe",
		sock: "a socket", "/dev/null": "a character device",
	} {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := Kind(fi.Mode()); got != want {
			t.Errorf("Kind(%s) = %q, want %q", path, got, want)
		}
	}
	if got := Kind(fs.ModeIrregular); got == "" || got == "a regular file" {
		t.Errorf("Kind(irregular) = %q", got)
	}
}
