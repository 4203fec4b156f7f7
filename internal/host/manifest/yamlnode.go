package manifest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
	"go.yaml.in/yaml/v3"
)

// reader walks one file's YAML nodes and records problems against it. All
// decoding goes through it so every problem carries file, line and field.
type reader struct {
	file     string
	lineBase int // added to YAML line numbers to get file lines
	problems *[]Problem
	warnings *[]Problem
	// plainText refuses control and bidirectional characters anywhere in
	// the file (checkText): set for working-directory agents, which a
	// repository wrote.
	plainText bool
	// textLines are the lines with a plainText problem already: one per
	// line is enough.
	textLines map[int]bool
}

func (r *reader) add(n *yaml.Node, field, msg, hint string) {
	*r.problems = append(*r.problems, Problem{File: r.file, Line: r.line(n), Field: field, Msg: msg, Hint: hint})
}

// line returns the file line of n; 0 when unknown.
func (r *reader) line(n *yaml.Node) int {
	if n == nil || n.Line <= 0 {
		return 0
	}
	return n.Line + r.lineBase
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// parseYAML parses frontmatter text into its top mapping node. An empty
// frontmatter is an empty mapping.
func (r *reader) parseYAML(text []byte) (*yaml.Node, bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		msg := err.Error()
		line := 0
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			line += r.lineBase
			msg = msg[len(m[0]):]
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		*r.problems = append(*r.problems, Problem{File: r.file, Line: line,
			Msg: "invalid YAML frontmatter: " + msg, Hint: "fix the YAML syntax (check indentation and quoting)"})
		return nil, false
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1}, true
	}
	top := doc.Content[0]
	if !r.plain(top, "") {
		return nil, false
	}
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: top.Line}, true
	}
	if top.Kind != yaml.MappingNode {
		r.add(top, "", "frontmatter must be a mapping of keys to values, not "+contract.DescribeYAML(top), "write it as `key: value` lines")
		return nil, false
	}
	return top, true
}

// plain reports false (with a problem) for YAML features manifests do not
// accept: aliases (which can expand without bound) and custom tags.
func (r *reader) plain(n *yaml.Node, field string) bool {
	switch {
	case n.Kind == yaml.AliasNode:
		r.add(n, field, "YAML aliases (*name) are not supported in manifests", "write the value out in full")
		return false
	case n.Anchor != "":
		r.add(n, field, "YAML anchors (&name) are not supported in manifests", "remove the anchor and write values out in full")
		return false
	case n.Tag != "" && !strings.HasPrefix(n.Tag, "!!"):
		r.add(n, field, fmt.Sprintf("custom YAML tag %q is not supported", n.Tag), "remove the tag")
		return false
	}
	return true
}

// entry is one key/value pair of a mapping node.
type entry struct {
	key   string
	keyN  *yaml.Node
	value *yaml.Node
	field string // full dotted path of this entry
}

// mapping returns the entries of a mapping node. A null node is an empty
// mapping. Duplicate keys, non-string keys, aliases and merge keys are
// problems; their entries are dropped.
func (r *reader) mapping(n *yaml.Node, field string) ([]entry, bool) {
	if !r.plain(n, field) {
		return nil, false
	}
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		r.add(n, field, "must be a mapping (key: value lines), not "+contract.DescribeYAML(n), "")
		return nil, false
	}
	seen := map[string]int{}
	var out []entry
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!int" && k.Tag != "!!bool") {
			if k.Tag == "!!merge" {
				r.add(k, field, "YAML merge keys (<<) are not supported in manifests", "write the keys out in full")
			} else {
				r.add(k, field, "keys must be plain strings, not "+contract.DescribeYAML(k), "")
			}
			ok = false
			continue
		}
		child := joinField(field, k.Value)
		if first, dup := seen[k.Value]; dup {
			r.add(k, child, fmt.Sprintf("key %q is repeated (first on line %d)", k.Value, first+r.lineBase), "keep one of them")
			ok = false
			continue
		}
		seen[k.Value] = k.Line
		if !r.plain(v, child) {
			ok = false
			continue
		}
		out = append(out, entry{key: k.Value, keyN: k, value: v, field: child})
	}
	return out, ok
}

// knownKeys records a problem for every entry whose key is not in allowed,
// with a did-you-mean suggestion, and returns the entries that are known.
// special maps a key to a tailored message (e.g. a key from an old format).
func (r *reader) knownKeys(entries []entry, what string, allowed []string, special map[string][2]string) []entry {
	known := entries[:0:0]
	for _, e := range entries {
		if slices.Contains(allowed, e.key) {
			known = append(known, e)
			continue
		}
		if s, ok := special[e.key]; ok {
			r.add(e.keyN, e.field, s[0], s[1])
			continue
		}
		hint := "allowed keys: " + strings.Join(allowed, ", ")
		if s := suggest(e.key, allowed); s != "" {
			hint = fmt.Sprintf("did you mean %q? (allowed: %s)", s, strings.Join(allowed, ", "))
		}
		r.add(e.keyN, e.field, fmt.Sprintf("unknown key %q in %s", e.key, what), hint)
	}
	return known
}

// str decodes a string scalar. Numbers and booleans are rejected so a
// value never silently changes type.
func (r *reader) str(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		r.add(n, field, "must be a string, not "+contract.DescribeYAML(n), quoteHint(n))
		return "", false
	}
	return n.Value, true
}

// nonEmptyStr decodes a string that must not be empty.
func (r *reader) nonEmptyStr(n *yaml.Node, field string) (string, bool) {
	s, ok := r.str(n, field)
	if ok && strings.TrimSpace(s) == "" {
		r.add(n, field, "must not be empty", "")
		return "", false
	}
	return s, ok
}

func (r *reader) boolean(n *yaml.Node, field string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		r.add(n, field, "must be true or false, not "+contract.DescribeYAML(n), "")
		return false, false
	}
	v, err := strconv.ParseBool(n.Value)
	if err != nil {
		r.add(n, field, fmt.Sprintf("must be true or false, not %q", n.Value), "")
		return false, false
	}
	return v, true
}

// strList decodes a sequence of strings; each item is checked by check
// (nil: any non-empty string). A null node is an empty list.
func (r *reader) strList(n *yaml.Node, field string, check func(string) error) ([]string, bool) {
	if !r.plain(n, field) {
		return nil, false
	}
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		r.add(n, field, "must be a list, not "+contract.DescribeYAML(n), "write it as [a, b] or as \"- item\" lines")
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !r.plain(item, f) {
			ok = false
			continue
		}
		s, good := r.nonEmptyStr(item, f)
		if !good {
			ok = false
			continue
		}
		if check != nil {
			if err := check(s); err != nil {
				r.add(item, f, err.Error(), "")
				ok = false
				continue
			}
		}
		out = append(out, s)
	}
	return out, ok
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func quoteHint(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!str" && n.Tag != "!!null" {
		return fmt.Sprintf("quote it if you mean the text: %q", n.Value)
	}
	return ""
}

func joinField(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
