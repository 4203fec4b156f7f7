package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseYAML decodes a contract file into out (a pointer to a struct with a
// Version field): it checks the version first, so a file from another
// release is reported as such rather than as a pile of unknown keys; then
// reports every unknown key with its line; then decodes strictly. kind
// names the file in messages ("routes file"). The caller validates.
func parseYAML(data []byte, kind string, out any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return missingVersion()
		}
		return err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" || root.Kind == yaml.DocumentNode {
		return missingVersion()
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a %s is a YAML mapping starting with `version: %d`, not %s", root.Line, kind, Version, DescribeYAML(root))
	}
	if err := yamlVersion(root, kind); err != nil {
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return err
		}
		return fmt.Errorf("line %d: a %s holds one YAML document, but a second one starts here", extra.Line, kind)
	}

	var ps problems
	checkYAMLKeys(root, reflect.TypeOf(out), "", &ps)
	if err := ps.err(); err != nil {
		return err
	}

	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	err := strict.Decode(out)
	// The decoder reports type mismatches and duplicate keys all at once,
	// on several lines; report them as problems like Validate does.
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, msg := range te.Errors {
			ps.add("", errors.New(msg))
		}
		return ps.err()
	}
	return err
}

func missingVersion() error {
	return &versionError{fmt.Sprintf("version is required; add `version: %d`", Version)}
}

// yamlVersion finds the top-level version key of root and checks it.
func yamlVersion(root *yaml.Node, kind string) error {
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value != "version" {
			continue
		}
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" {
			return &versionError{fmt.Sprintf("line %d: version must be the number %d, not %s; write `version: %d`", v.Line, Version, DescribeYAML(v), Version)}
		}
		var n int
		if err := v.Decode(&n); err != nil || n != Version {
			return &versionError{fmt.Sprintf("unsupported %s version %s; this build understands version %d (upgrade bot-bottle)", kind, v.Value, Version)}
		}
		return nil
	}
	return missingVersion()
}

// DescribeYAML says what kind of YAML value n is, for messages: "a
// mapping", "a list", "the string \"x\"", "a number (3)", "an empty value".
// The manifest reader uses it too, so every file bot-bottle reads words
// these the same way.
func DescribeYAML(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "an empty value"
		case "!!bool":
			return "a boolean (" + n.Value + ")"
		case "!!int", "!!float":
			return "a number (" + n.Value + ")"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		}
		return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
	}
	return "nothing"
}

// checkYAMLKeys reports every mapping key under n that t (the Go type n
// decodes into) has no yaml field for, naming the key, its path and line.
// Aliases are not followed: the strict decoder still checks what they
// expand to, and not expanding them here keeps alias bombs cheap.
func checkYAMLKeys(n *yaml.Node, t reflect.Type, path string, ps *problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields, names := tagFields(t, "yaml")
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			switch {
			case k.Kind == yaml.ScalarNode && k.Value == "<<":
				ps.addf(path, "line %d: merge keys (<<) are not supported; write the keys out", k.Line)
			case k.Kind != yaml.ScalarNode || !ok:
				ps.addf(join(path, k.Value), "line %d: unknown key %q; known keys here are %s", k.Line, k.Value, strings.Join(names, ", "))
			default:
				checkYAMLKeys(v, ft, join(path, k.Value), ps)
			}
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			checkYAMLKeys(c, t.Elem(), index(path, i), ps)
		}
	}
}

// tagFields returns the field types of struct t by their name in the given
// struct tag ("yaml" or "json"), and the names in declaration order.
func tagFields(t reflect.Type, tag string) (map[string]reflect.Type, []string) {
	fields := make(map[string]reflect.Type, t.NumField())
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get(tag), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names
}

// marshalYAML encodes v with two-space indentation.
func marshalYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeJSON decodes one JSON object into out (a pointer to a struct)
// strictly: keys must match the json tags exactly (encoding/json alone
// would accept "HOST" for "host") and appear at most once (it would keep
// the last), nothing may follow the object, and unknown keys are errors.
// Refusing duplicates and case variants means every reader of a record
// sees the same values, whatever JSON parser it uses.
func decodeJSON(data []byte, out any) error {
	if err := checkJSONKeys(data, reflect.TypeOf(out).Elem()); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// checkJSONKeys checks the top-level keys of the JSON object in data
// against the json tags of struct t.
func checkJSONKeys(data []byte, t reflect.Type) error {
	fields, names := tagFields(t, "json")
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return errors.New("must be a JSON object")
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if _, ok := fields[key]; !ok {
			return fmt.Errorf("unknown field %q; known fields are %s", key, strings.Join(names, ", "))
		}
		if seen[key] {
			return fmt.Errorf("field %q appears more than once", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}
