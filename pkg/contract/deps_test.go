package contract_test

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// allowedNonStd are the only non-standard-library packages pkg/contract may
// depend on: it is shared by every binary, so it stays light.
var allowedNonStd = []string{
	"github.com/bot-bottle/bot-bottle/pkg/contract",
	"go.yaml.in/yaml/v3",
}

// disallowed returns the import paths that are neither standard library nor
// allowed. A standard package's first path element has no dot.
func disallowed(paths []string) []string {
	var bad []string
	for _, p := range paths {
		first, _, _ := strings.Cut(p, "/")
		if !strings.Contains(first, ".") || slices.Contains(allowedNonStd, p) {
			continue
		}
		bad = append(bad, p)
	}
	return bad
}

func TestDisallowed(t *testing.T) {
	got := disallowed([]string{"fmt", "net/netip", "go.yaml.in/yaml/v3", "github.com/google/go-cmp/cmp", "golang.org/x/net/idna", "gopkg.in/yaml.v3"})
	want := []string{"github.com/google/go-cmp/cmp", "golang.org/x/net/idna", "gopkg.in/yaml.v3"}
	if !slices.Equal(got, want) {
		t.Errorf("disallowed = %q, want %q", got, want)
	}
}

// TestDirectImports parses the package's non-test files and checks what
// they import. It needs no toolchain.
func TestDirectImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var imports []string
	n := 0
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		n++
		f, err := parser.ParseFile(fset, file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			imports = append(imports, p)
		}
	}
	if n == 0 {
		t.Fatal("found no package files")
	}
	if bad := disallowed(imports); len(bad) > 0 {
		t.Errorf("pkg/contract imports %q; it may import only the standard library and %q", bad, allowedNonStd)
	}
}

// TestTransitiveDeps checks the whole dependency graph of the package (not
// its tests) with go list, so a dependency cannot sneak in through the
// YAML decoder either.
func TestTransitiveDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH; TestDirectImports still checks direct imports")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/bot-bottle/bot-bottle/pkg/contract") {
		t.Fatalf("go list output does not list the package itself: %q", deps)
	}
	for _, d := range deps {
		if !slices.Contains(allowedNonStd, d) {
			t.Errorf("pkg/contract depends on %q; it may depend only on the standard library and %q", d, allowedNonStd)
		}
	}
}
