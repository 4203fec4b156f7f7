package lifecycle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/host/docker"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Review item (a): what runs in the agent's container (the agent controls
// it) fails with a megabyte of standard error ending in escape sequences
// that clear the screen and retitle the window. The error Exec returns
// carries a bounded tail of it, escaped, and says how much came before.
// The docker CLI is a real script standing in for docker compose exec.
func TestExecErrorIsBoundedAndEscaped(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "docker")
	script := "#!/bin/sh\nhead -c 1048576 /dev/zero | tr '\\0' x >&2\nprintf 'tail\\033[2J\\033]0;owned\\007\\342\\200\\256end\\n' >&2\nexit 3\n"
	if err := os.WriteFile(fake, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	b := &Bottle{Compose: &docker.Compose{Runner: docker.Runner{Bin: fake}, Dir: contract.BottleDir(dir), Project: "p"}}
	_, err := (&Manager{}).Exec(t.Context(), b, "1000:1000", nil, "git", "status")
	if err == nil {
		t.Fatal("Exec succeeded")
	}
	msg := err.Error()
	if len(msg) > 8<<10 {
		t.Errorf("the error is %d bytes; want it bounded to a few KiB", len(msg))
	}
	if termtext.Line(msg) != msg {
		t.Errorf("the error reaches the terminal unescaped: %q", msg[max(0, len(msg)-200):])
	}
	for _, want := range []string{"git status in the agent: exit status 3: (", "bytes before this) ...xxx", `tail\x1b[2J\x1b]0;owned\x07\u202eend`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: ...%s", want, msg[max(0, len(msg)-200):])
		}
	}
}
