package egress

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeReloadsWhenRunAsks: a receive on Serve's reload channel
// rereads the routes file; Run feeds the channel from SIGHUP.
func TestServeReloadsWhenRunAsks(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	if status, _ := e.rawConnect("new.example.test:443"); status != 403 {
		t.Fatalf("before reload: %d, want 403", status)
	}
	writeFile(t, e.routes, []byte(baseRoutes+"  - host: new.example.test\n"))
	e.reload <- struct{}{} // taken only by Serve's loop...
	e.reload <- struct{}{} // ...so once this is taken, the first reload is done
	if status, _ := e.rawConnect("new.example.test:443"); status == 403 {
		t.Fatal("the route added before the reload is still refused")
	}
}

// TestOnlyRunTouchesSignals: the library never calls signal.Notify; Run
// owns the process's signals, so a program embedding the proxy (a test,
// a benchmark) keeps its own.
func TestOnlyRunTouchesSignals(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "signal" {
					found++
					if fn.Name.Name != "Run" || fn.Recv != nil {
						t.Errorf("%s: %s calls signal.%s; only Run may handle signals", fset.Position(call.Pos()), fn.Name.Name, sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
	if found == 0 {
		t.Error("no signal call found at all: Run should turn SIGHUP into reloads")
	}
}
