package egress

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// fixtureLine is one non-comment line of a tab-separated testdata file.
type fixtureLine struct {
	line   int
	fields []string
}

// readFixture reads testdata/name: tab-separated fields, '#' comments and
// blank lines skipped, a field starting with '"' read as a Go string
// literal. Every line must have n fields.
func readFixture(tb testing.TB, name string, n int) []fixtureLine {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []fixtureLine
	sc := bufio.NewScanner(f)
	for no := 1; sc.Scan(); no++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != n {
			tb.Fatalf("%s:%d: %d fields, want %d", name, no, len(fields), n)
		}
		for i, fld := range fields {
			if strings.HasPrefix(fld, `"`) {
				s, err := strconv.Unquote(fld)
				if err != nil {
					tb.Fatalf("%s:%d: field %d: %v", name, no, i+1, err)
				}
				fields[i] = s
			}
		}
		out = append(out, fixtureLine{no, fields})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatalf("%s has no cases", name)
	}
	return out
}

// testRoutes parses testdata/routes.yaml.
func testRoutes(tb testing.TB) *contract.RoutesFile {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "routes.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	rf, err := contract.ParseRoutes(data)
	if err != nil {
		tb.Fatal(err)
	}
	return rf
}
