package fileinfo

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
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

// ReadRegular reads a regular file and refuses, without blocking or
// reading without bound, everything a hostile writer could put in its
// place.
func TestReadRegularRefusesWhatCouldHangOrExhaust(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	if err := os.WriteFile(p("ok"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("big"), make([]byte, 11), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p("fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", p("zero")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p("dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, want string }{
		{"ok", ""},
		{"big", "is 11 bytes; the limit is 10"},
		{"fifo", "is a named pipe, not a regular file"},
		{"zero", "is a symbolic link"},
		{"dir", "is a directory, not a regular file"},
		{"missing", "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data, err := ReadRegular(p(tt.name), 10)
			if tt.want == "" {
				if err != nil || string(data) != "hello" {
					t.Fatalf("ReadRegular = %q, %v", data, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadRegular = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := ReadRegular(p("missing"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file is %v, want fs.ErrNotExist", err)
	}
}
