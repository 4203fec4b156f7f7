// Command bench-up times the operator's two slowest waits: `bot-bottle up
// --detach --yes` until the agent is provisioned and ready, and `bot-bottle
// down`, on this machine's Docker engine with the offline images. It runs
// `make bench-up`; see bench/README.md.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	runs := flag.Int("runs", 5, "how many up/down rounds to time")
	flag.Parse()
	if err := run(*runs); err != nil {
		fmt.Fprintf(os.Stderr, "bench-up: %v\n", err)
		os.Exit(1)
	}
}

func run(runs int) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "bot-bottle-bench-up-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "bot-bottle")
	fmt.Fprintln(os.Stderr, "bench-up: building bot-bottle and the images (seconds when nothing changed)")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/bot-bottle").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	build := exec.Command("bash", "images/build.sh", "--tag", "local", "egress", "supervise", "netguard", "agent-test")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("images/build.sh: %v\n%s", err, out)
	}
	// The examples' "shell" agent: the test image through the custom
	// provider, a route (so the TLS self-test runs), supervise.
	home := filepath.Join(work, "home")
	if out, err := exec.Command("cp", "-r", filepath.Join(root, "examples"), home).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the examples: %v: %s", err, out)
	}
	var ups, downs []time.Duration
	for i := range runs {
		start := time.Now()
		out, err := bb(bin, home, "up", "shell", "--yes", "--detach")
		if err != nil {
			return fmt.Errorf("up: %v\n%s", err, out)
		}
		ups = append(ups, time.Since(start))
		lines := strings.Split(strings.TrimSpace(out), "\n")
		slug := lines[len(lines)-1]
		start = time.Now()
		if out, err := bb(bin, home, "down", slug); err != nil {
			return fmt.Errorf("down %s: %v\n%s", slug, err, out)
		}
		downs = append(downs, time.Since(start))
		fmt.Fprintf(os.Stderr, "bench-up: round %d: up %.1f s, down %.1f s\n", i+1, ups[i].Seconds(), downs[i].Seconds())
	}
	fmt.Printf("| step | median of %d | runs | target |\n|---|--:|---|---|\n", runs)
	row("up --detach --yes (to a provisioned agent)", ups, 10*time.Second)
	row("down", downs, 5*time.Second)
	return nil
}

func row(name string, ds []time.Duration, target time.Duration) {
	med := median(ds)
	verdict := "PASS"
	if med >= target {
		verdict = "MISS"
	}
	var all []string
	for _, d := range ds {
		all = append(all, fmt.Sprintf("%.1f", d.Seconds()))
	}
	fmt.Printf("| %s | %.1f s | %s | < %.0f s: %s |\n", name, med.Seconds(), strings.Join(all, ", "), target.Seconds(), verdict)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// bb runs the bot-bottle binary with stdout kept and stderr (progress)
// appended to it on failure.
func bb(bin, home string, args ...string) (string, error) {
	cmd := exec.Command(bin, append([]string{"--home", home}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run from the bot-bottle repository (make bench-up)")
	}
	return filepath.Dir(mod), nil
}
