// Package fileinfo names kinds of file for messages, so every refusal of
// "not a regular file" says the same thing whichever side wrote it.
package fileinfo

import (
	"fmt"
	"io/fs"
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
