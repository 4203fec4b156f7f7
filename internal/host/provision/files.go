package provision

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"strconv"
)

// PromptFileName is the prompt file's name in the agent's home.
const PromptFileName = ".bot-bottle-prompt.txt"

// writeFileScript replaces $1 with standard input, mode $2, atomically,
// creating the directories above it (0700 for those it makes). A symlink
// at $1 is replaced, not followed. It runs as the agent, in the agent's
// home: a directory the agent has turned into a symlink can only lead to
// the agent's own files.
const writeFileScript = `dst=$1
if [ -L "$dst" ]; then rm -f -- "$dst"; fi
if [ -d "$dst" ]; then echo "$dst is a directory" >&2; exit 1; fi
umask 077
mkdir -p -- "$(dirname -- "$dst")"
tmp=$dst.bot-bottle-tmp
rm -f -- "$tmp"
cat > "$tmp"
chmod "$2" "$tmp"
mv -f -- "$tmp" "$dst"
`

// WriteAgentFile writes data to rel, a slash-separated path relative to
// the agent's home, as the agent user, with mode perm: the file is the
// agent's, and replaced whole (so writing it again gives the same file).
// It is for provider steps too (see Step).
func WriteAgentFile(ctx context.Context, t Target, a Agent, rel string, perm fs.FileMode, data []byte) (string, error) {
	if err := validRel(rel); err != nil {
		return "", err
	}
	dst := a.homePath(rel)
	mode := "0" + strconv.FormatUint(uint64(perm.Perm()), 8)
	if _, err := script(ctx, t, a.User(), bytes.NewReader(data), "write-file", writeFileScript, dst, mode); err != nil {
		return "", fmt.Errorf("write %s: %w", dst, err)
	}
	return dst, nil
}

// validRel accepts a clean, relative, slash-separated path that stays
// inside the directory it is relative to.
func validRel(rel string) error {
	if rel == "" || path.IsAbs(rel) || path.Clean(rel) != rel || rel == "." || rel == ".." || len(rel) >= 3 && rel[:3] == "../" {
		return fmt.Errorf("%q is not a clean path inside the agent's home", rel)
	}
	return nil
}

// writePrompt writes the prompt file, 0600, as the agent. An empty prompt
// is an empty file.
func writePrompt(ctx context.Context, t Target, a Agent, prompt string) (string, error) {
	dst, err := WriteAgentFile(ctx, t, a, PromptFileName, 0o600, []byte(prompt))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("prompt written to %s (0600, %d bytes)", dst, len(prompt)), nil
}
