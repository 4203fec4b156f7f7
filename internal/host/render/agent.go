package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
)

// TemplateImage is the image `make images` builds for a provider
// template, e.g. "bot-bottle/agent-claude:local".
func TemplateImage(template string) string {
	return "bot-bottle/agent-" + template + ":" + DefaultImageTag
}

// BuiltAgentImage is the tag an agent image built from a bottle's
// Dockerfile goes under: "bot-bottle/agent-<bottle>:<12 hex digits of the
// Dockerfile's SHA-256>". An edited Dockerfile gets a new tag, so a bottle
// never runs an image built from an older one; an unchanged one names the
// image already built (the build itself is the caller's, with Docker's
// cache making a repeat quick).
func BuiltAgentImage(bottle string, dockerfile []byte) string {
	sum := sha256.Sum256(dockerfile)
	// A bottle name may end in '-', which an image name may not.
	return "bot-bottle/agent-" + strings.TrimRight(bottle, "-") + ":" + hex.EncodeToString(sum[:6])
}

// AgentImage returns the image b's agent runs: BuiltAgentImage when the
// provider has a dockerfile (which it reads), a custom provider's image,
// or the template's image. It errors only when the Dockerfile cannot be
// read.
func AgentImage(b manifest.Bottle) (string, error) {
	p := b.Provider
	switch {
	case p.Dockerfile != "":
		path, err := expandHome(p.Dockerfile)
		if err != nil {
			return "", fmt.Errorf("agent_provider.dockerfile %s: %w", p.Dockerfile, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("agent_provider.dockerfile of bottle %s: %w; point it at the Dockerfile to build the agent from (a relative path is taken from the bottle file's directory)", b.Name, err)
		}
		return BuiltAgentImage(b.Name, data), nil
	case p.Image != "":
		return p.Image, nil
	}
	return TemplateImage(p.Template), nil
}

// expandHome expands a leading "~/" to the operator's home directory.
func expandHome(path string) (string, error) {
	rest, ok := strings.CutPrefix(path, "~/")
	if !ok {
		return path, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find your home directory: %w", err)
	}
	return home + "/" + rest, nil
}
