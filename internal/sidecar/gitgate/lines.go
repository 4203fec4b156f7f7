package gitgate

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"
)

// Limits on reading and cutting text.
const (
	// binarySniff is how much of a blob is checked for a NUL byte, as git
	// and gitleaks do, to call it binary. Binary blobs are scanned as
	// their printable text (printable), not line by line.
	binarySniff = 8000
	// minPrintable is the shortest run of printable characters printable
	// keeps (strings -n 8): shorter than any token gitleaks knows, long
	// enough that random bytes yield little text.
	minPrintable = 8
	// diffTimeout bounds one line diff; past it the diff is coarser (more
	// lines count as added), never wrong.
	diffTimeout = 5 * time.Second
	// chunkSize and chunkOverlap: text longer than chunkSize is scanned in
	// pieces cut at line ends, each repeating the complete lines in the
	// last chunkOverlap bytes of the one before, so that a secret across a
	// cut is whole in some piece.
	chunkSize    = 1 << 20
	chunkOverlap = 64 << 10
)

func isBinary(b *object.Blob) (bool, error) {
	r, err := b.Reader()
	if err != nil {
		return false, err
	}
	defer r.Close()
	head := make([]byte, binarySniff)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, err
	}
	return bytes.IndexByte(head[:n], 0) >= 0, nil
}

func blobText(b *object.Blob) (string, error) {
	r, err := b.Reader()
	if err != nil {
		return "", err
	}
	defer r.Close()
	var sb strings.Builder
	sb.Grow(int(b.Size))
	_, err = io.Copy(&sb, r)
	return sb.String(), err
}

// addedLines reports, per line of new, whether a line diff from old marks
// it added.
func addedLines(old, new string) []bool {
	added := make([]bool, len(lineStarts(new)))
	line := 0
	for _, d := range diff.DoWithTimeout(old, new, diffTimeout) {
		n := countLines(d.Text)
		switch d.Type {
		case diffmatchpatch.DiffInsert:
			for i := line; i < line+n && i < len(added); i++ {
				added[i] = true
			}
			line += n
		case diffmatchpatch.DiffEqual:
			line += n
		}
	}
	return added
}

// lineStarts returns the offset of each line of s.
func lineStarts(s string) []int {
	if s == "" {
		return nil
	}
	starts := []int{0}
	for i := 0; i < len(s)-1; i++ {
		if s[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

func countLines(s string) int {
	n := strings.Count(s, "\n")
	if s != "" && !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

// chunks reads r and calls emit with its text in pieces of at most
// chunkSize bytes, cut after a newline where there is one in the second
// half, each piece after the first repeating the complete lines in the
// last chunkOverlap bytes of the one before. line is the number of the
// piece's first line, counting from first.
func chunks(r io.Reader, first int, emit func(text string, line int) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	buf := make([]byte, 0, chunkSize)
	line := first
	carried := 0 // bytes at the start of buf already emitted
	for {
		eof := false
		for len(buf) < chunkSize {
			n, err := br.Read(buf[len(buf):chunkSize])
			buf = buf[:len(buf)+n]
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			if err != nil {
				return err
			}
		}
		if eof {
			if len(buf) == carried {
				return nil
			}
			return emit(string(buf), line)
		}
		cut := len(buf)
		if i := bytes.LastIndexByte(buf, '\n'); i >= chunkSize/2 {
			cut = i + 1
		}
		if err := emit(string(buf[:cut]), line); err != nil {
			return err
		}
		keep := cut - chunkOverlap
		if i := bytes.IndexByte(buf[keep:cut], '\n'); i >= 0 && keep+i+1 < cut {
			keep += i + 1
		}
		line += bytes.Count(buf[:keep], []byte("\n"))
		buf = buf[:copy(buf, buf[keep:])]
		carried = cut - keep
	}
}

// printable returns the text a binary blob holds, one run per line: runs
// of printable ASCII (as strings(1)) and of UTF-16 text (printable ASCII
// each followed by a NUL, which also finds big-endian text one byte in),
// so that one NUL byte or a UTF-16 encoding hides nothing.
func printable(r io.Reader) (string, error) {
	var out strings.Builder
	var ascii, wide []byte // the current runs
	wideZero := false      // wide's last character still needs its NUL
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		for _, c := range buf[:n] {
			text := c >= 0x20 && c < 0x7f || c == '\t'
			if text {
				ascii = append(ascii, c)
			} else if len(ascii) > 0 {
				ascii = keepRun(&out, ascii)
			}
			if wideZero {
				wideZero = false
				if c == 0 {
					continue
				}
				wide = keepRun(&out, wide)
			}
			if text {
				wide = append(wide, c)
				wideZero = true
			} else if len(wide) > 0 {
				wide = keepRun(&out, wide)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
	}
	keepRun(&out, ascii)
	keepRun(&out, wide)
	return out.String(), nil
}

// keepRun writes run to out as a line if it is at least minPrintable
// long, and returns it emptied.
func keepRun(out *strings.Builder, run []byte) []byte {
	if len(run) >= minPrintable {
		out.Write(run)
		out.WriteByte('\n')
	}
	return run[:0]
}
