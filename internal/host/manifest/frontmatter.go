package manifest

import (
	"bytes"
	"errors"
	"fmt"
)

// errNoFrontmatter means the file does not start with a "---" line.
var errNoFrontmatter = errors.New("no YAML frontmatter: the file must start with a line \"---\", then YAML, then a closing \"---\" line")

// splitFrontmatter splits a manifest file into its YAML frontmatter and its
// Markdown body. The frontmatter sits between a first line "---" and the
// next line "---" (or "..."); trailing spaces and CRLF line ends are
// accepted, as is a leading UTF-8 byte-order mark. firstLine is the 1-based
// line of the file on which the YAML starts, so YAML line n is file line
// firstLine+n-1.
func splitFrontmatter(data []byte) (yamlText []byte, firstLine int, body []byte, err error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	line, rest, ok := cutLine(data)
	if !isFence(line, "---") {
		return nil, 0, nil, errNoFrontmatter
	}
	start := len(data) - len(rest)
	lineNo := 1
	for ok {
		lineNo++
		pos := len(data) - len(rest)
		line, rest, ok = cutLine(rest)
		if isFence(line, "---") || isFence(line, "...") {
			return data[start:pos], 2, rest, nil
		}
	}
	return nil, 0, nil, fmt.Errorf("frontmatter opened with \"---\" on line 1 is never closed; add a line \"---\" after the YAML (checked %d lines)", lineNo)
}

// cutLine returns the first line of b without its line end, the rest after
// it, and whether there was a line at all.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	if len(b) == 0 {
		return nil, nil, false
	}
	line, rest, found := bytes.Cut(b, []byte("\n"))
	if !found {
		rest = nil
	}
	return bytes.TrimSuffix(line, []byte("\r")), rest, true
}

func isFence(line []byte, fence string) bool {
	return string(bytes.TrimRight(line, " \t")) == fence
}
