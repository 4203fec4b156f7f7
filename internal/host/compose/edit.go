package compose

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Edits to a rendered compose file, made on its YAML nodes so everything
// else in it stays as written: relative paths, "$$" escapes, key order.
// An approval changes a running bottle's project through these.

// SetServiceImage sets service's image in the compose file data.
func SetServiceImage(data []byte, service, image string) ([]byte, error) {
	if err := validImage(image); err != nil {
		return nil, err
	}
	return editFile(data, func(doc *yaml.Node) error {
		svc, err := serviceNode(doc, service)
		if err != nil {
			return err
		}
		setScalar(svc, "image", image)
		return nil
	})
}

// AddServiceSecret gives service the secret name, a file in the bottle's
// secrets directory, declaring it at the top level too. A secret the
// service already has is left as it is.
func AddServiceSecret(data []byte, service, name string) ([]byte, error) {
	if err := contract.ValidSecretName(name); err != nil {
		return nil, err
	}
	if service == AgentService {
		return nil, fmt.Errorf("the agent is never given a secret")
	}
	return editFile(data, func(doc *yaml.Node) error {
		svc, err := serviceNode(doc, service)
		if err != nil {
			return err
		}
		refs := child(svc, "secrets")
		if refs == nil {
			refs = &yaml.Node{Kind: yaml.SequenceNode}
			svc.Content = append(svc.Content, scalar("secrets"), refs)
		}
		for _, r := range refs.Content {
			if src := child(r, "source"); (src != nil && src.Value == name) || r.Value == name {
				return nil
			}
		}
		refs.Content = append(refs.Content, mapping("source", name))
		root := doc.Content[0]
		top := child(root, "secrets")
		if top == nil {
			top = &yaml.Node{Kind: yaml.MappingNode}
			root.Content = append(root.Content, scalar("secrets"), top)
		}
		if child(top, name) == nil {
			top.Content = append(top.Content, scalar(name), mapping("file", rel(contract.BottleSecretsDir+"/"+name)))
		}
		return nil
	})
}

// editFile decodes data, applies edit, and encodes it again with the
// generated file's header.
func editFile(data []byte, edit func(*yaml.Node) error) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(bytes.TrimPrefix(data, []byte(header)), &doc); err != nil {
		return nil, fmt.Errorf("read the compose file: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the compose file is not a mapping")
	}
	if err := edit(&doc); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("write the compose file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func serviceNode(doc *yaml.Node, service string) (*yaml.Node, error) {
	svcs := child(doc.Content[0], "services")
	if svcs == nil {
		return nil, fmt.Errorf("the compose file has no services")
	}
	svc := child(svcs, service)
	if svc == nil || svc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the compose file has no service %q", service)
	}
	return svc, nil
}

// child returns the value under key in mapping m, or nil.
func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setScalar(m *yaml.Node, key, value string) {
	if v := child(m, key); v != nil {
		*v = *scalar(value)
		return
	}
	m.Content = append(m.Content, scalar(key), scalar(value))
}

// scalar is a plain string node; a '$' is doubled, as Marshal does, so
// compose never interpolates it.
func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.ReplaceAll(s, "$", "$$")}
}

func mapping(k, v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{scalar(k), scalar(v)}}
}
