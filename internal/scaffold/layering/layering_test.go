package layering

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/bot-bottle/bot-bottle"

// scaffoldCmds are the commands that are scaffolding themselves: the test
// agent's probe and the demo's pretend internet. Every other command under
// cmd/ is shipped, so a new one is held to the rules until listed here.
var scaffoldCmds = []string{"cmd/probe", "cmd/demo-upstream", "cmd/fake-agent"}

// pkg is what go list says of one package.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

// listModule returns every package of the module, with its direct
// imports (tests excluded) and its whole dependency closure.
func listModule(t *testing.T) []pkg {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	cmd := exec.Command(goBin, "list", "-deps=false", "-json=ImportPath,Imports,Deps,Standard", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages; is the module path still %s?", len(pkgs), module)
	}
	return pkgs
}

// rel is p's path inside the module, "" for a package outside it.
func rel(p string) string {
	if p == module {
		return "."
	}
	r, ok := strings.CutPrefix(p, module+"/")
	if !ok {
		return ""
	}
	return r
}

// group is the layer of a module-relative path: "sidecar/NAME", "host",
// "shared", "scaffold", "contract", "cmd/NAME", "bench", "images" or ""
// for a path internal/ does not allow.
func group(r string) string {
	parts := strings.Split(r, "/")
	switch {
	case parts[0] == "internal" && len(parts) >= 3 && parts[1] == "sidecar":
		return "sidecar/" + parts[2]
	case parts[0] == "internal" && len(parts) >= 3 && slices.Contains([]string{"host", "shared", "scaffold"}, parts[1]):
		return parts[1]
	case parts[0] == "internal":
		return ""
	case r == "pkg/contract":
		return "contract"
	case parts[0] == "cmd" && len(parts) == 2:
		return r
	}
	return parts[0]
}

// allowed reports whether code in group from may import a package in
// group to; the reason says why not.
func allowed(from, to string) (bool, string) {
	switch {
	case to == from, to == "contract":
		return true, ""
	case from == "contract":
		return false, "pkg/contract imports nothing of the module: it is the contract both sides share"
	case from == "shared":
		return false, "shared code imports only pkg/contract and itself"
	case strings.HasPrefix(from, "sidecar/") && to == "shared":
		return true, ""
	case strings.HasPrefix(from, "sidecar/"):
		return false, "a sidecar imports only internal/shared and pkg/contract: never another sidecar, the host side or the scaffolding"
	case from == "host" && to == "shared":
		return true, ""
	case from == "host":
		return false, "the host side imports only internal/shared and pkg/contract: never a sidecar or the scaffolding"
	case from == "scaffold":
		return true, "" // scaffolding may use anything it tests or stages
	}
	return true, "" // commands, benchmarks and image tests are checked as binaries
}

func TestEveryInternalPackageHasAGroup(t *testing.T) {
	for _, p := range listModule(t) {
		r := rel(p.ImportPath)
		if strings.HasPrefix(r, "internal/") && group(r) == "" {
			t.Errorf("%s is in no group: put it under internal/sidecar/NAME, internal/host, internal/shared or internal/scaffold", r)
		}
	}
}

func TestImportsFollowTheLayers(t *testing.T) {
	for _, p := range listModule(t) {
		from := group(rel(p.ImportPath))
		for _, imp := range p.Imports {
			r := rel(imp)
			if r == "" {
				continue
			}
			if ok, why := allowed(from, group(r)); !ok {
				t.Errorf("%s imports %s: %s", rel(p.ImportPath), r, why)
			}
		}
	}
}

func TestShippedBinariesLinkNoScaffolding(t *testing.T) {
	n := 0
	for _, p := range listModule(t) {
		r := rel(p.ImportPath)
		if !strings.HasPrefix(group(r), "cmd/") || slices.Contains(scaffoldCmds, r) {
			continue
		}
		n++
		for _, d := range p.Deps {
			dr := rel(d)
			if g := group(dr); g == "scaffold" {
				t.Errorf("shipped binary %s links %s, which is test scaffolding", r, dr)
			}
			if d == "testing" {
				t.Errorf("shipped binary %s links the testing package", r)
			}
			if r == "cmd/bot-bottle" && strings.HasPrefix(group(dr), "sidecar/") {
				t.Errorf("the host CLI links sidecar code %s", dr)
			}
			if r != "cmd/bot-bottle" && group(dr) == "host" {
				t.Errorf("sidecar binary %s links host code %s", r, dr)
			}
		}
	}
	if n < 6 {
		t.Fatalf("found %d shipped binaries under cmd/, want at least 6 (bot-bottle and the five sidecar daemons)", n)
	}
}

// TestRulesCatchViolations feeds the rules the moves they exist to stop,
// so a rule that quietly allows everything fails here.
func TestRulesCatchViolations(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"internal/sidecar/egress", "internal/sidecar/gitgate", false},
		{"internal/sidecar/egress", "internal/host/render", false},
		{"internal/sidecar/egress", "internal/scaffold/testpki", false},
		{"internal/sidecar/egress", "internal/shared/dlp", true},
		{"internal/sidecar/egress", "internal/sidecar/egress/sub", true},
		{"internal/host/cli", "internal/sidecar/egress", false},
		{"internal/host/demo", "internal/scaffold/testpki", false},
		{"internal/host/cli", "internal/shared/queue", true},
		{"internal/shared/queue", "internal/host/render", false},
		{"internal/shared/queue", "internal/sidecar/supervise", false},
		{"pkg/contract", "internal/shared/dlp", false},
		{"internal/scaffold/e2e", "internal/host/demo", true},
	} {
		ok, _ := allowed(group(c.from), group(c.to))
		if ok != c.ok {
			t.Errorf("allowed(%s → %s) = %v, want %v", c.from, c.to, ok, c.ok)
		}
	}
	if g := group("internal/foo"); g != "" {
		t.Errorf("group(internal/foo) = %q, want none", g)
	}
}
