// Package fileinfo names kinds of file for messages, so every refusal of
// "not a regular file" says the same thing whichever side wrote it, and
// reads files that someone else may have planted (ReadRegular).
package fileinfo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Kind names m's file type with its article: "a regular file", "a
// directory", "a symbolic link", "a named pipe", "a socket", "a device",
// "a character device", or "a special file (...)".
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeDir != 0:
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return fmt.Sprintf("a special file (%v)", m.Type())
}

// ReadRegular reads the file at path, of at most limit bytes, as a reader
// that does not trust what is there: it must be a regular file, not a
// symbolic link (to /dev/zero, say), a named pipe (whose open would block
// until a writer came) or a device. O_NONBLOCK keeps the open of a pipe
// from blocking, and the type is checked on the open file, so it cannot
// change between the check and the read. A missing file is an error
// matching fs.ErrNotExist. Errors name path and say how to fix it.
func ReadRegular(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link; it must be a regular file (remove it)", path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file (remove it)", path, Kind(info.Mode()))
	}
	if info.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes; the limit is %d (remove it)", path, info.Size(), limit)
	}
	// The file can grow after the Stat; the limited read still stops.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes (remove it)", path, limit)
	}
	return data, nil
}
