package testutil

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range lines {
				if _, err := b.Write([]byte("x\n")); err != nil {
					t.Error(err)
					return
				}
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "x\n"); got != writers*lines {
		t.Errorf("%d lines, want %d", got, writers*lines)
	}
}

func TestBuildCommandCaches(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	const pkg = "github.com/bot-bottle/bot-bottle/cmd/probe"
	bins := make([]string, 4)
	t.Run("group", func(t *testing.T) {
		for i := range bins {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				bins[i] = BuildCommand(t, pkg)
			})
		}
	})
	for _, bin := range bins[1:] {
		if bin != bins[0] {
			t.Fatalf("built more than once: %q", bins)
		}
	}
	if out, err := exec.Command(bins[0], "--help").CombinedOutput(); err != nil {
		t.Fatalf("%s --help: %v\n%s", bins[0], err, out)
	}
}
