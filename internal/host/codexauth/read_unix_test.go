//go:build unix

package codexauth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadRefusesANamedPipe is the attack of a FIFO put where auth.json
// should be: reading it would block the launch for ever. Read opens it
// without blocking and refuses it.
func TestReadRefusesANamedPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no named pipes here:", err)
	}
	link := filepath.Join(dir, "auth.json")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, link} {
		done := make(chan error, 1)
		go func() {
			_, err := Read(path, testNow)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "is a named pipe, not a regular file") {
				t.Errorf("Read(%s) = %v, want a named pipe refused", path, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Read(%s) blocked on a named pipe", path)
		}
	}
}

// TestReadRefusesADevice: a link to /dev/zero would never end.
func TestReadRefusesADevice(t *testing.T) {
	link := filepath.Join(t.TempDir(), "auth.json")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(link, testNow); !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "character device") {
		t.Errorf("err = %v, want a device refused", err)
	}
}

// TestReadFollowsALinkToARegularFile: dotfile managers link auth.json in.
func TestReadFollowsALinkToARegularFile(t *testing.T) {
	target := fixturePath(t, "chatgpt-current.json")
	link := filepath.Join(t.TempDir(), "auth.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(link, testNow); err != nil {
		t.Fatal(err)
	}
}

func TestReadWarnsWhenEveryoneCanReadTheLogin(t *testing.T) {
	path := fixturePath(t, "chatgpt-current.json")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := Read(path, testNow)
	if err != nil {
		t.Fatal(err)
	}
	w := h.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "readable by every user") || !strings.Contains(w[0], "chmod 600 "+path) {
		t.Errorf("Warnings = %q, want one saying to chmod 600 %s", w, path)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if h, err = Read(path, testNow); err != nil || h.Warnings() != nil {
		t.Errorf("0640: Warnings = %q, %v; want none", h.Warnings(), err)
	}
}

func TestReadRefusesAFileItCannotRead(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	path := fixturePath(t, "chatgpt-current.json")
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	_, err := Read(path, testNow)
	if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("err = %v, want permission denied with the fix", err)
	}
}
