package contract_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// TestValidTestdata checks the example files parse to the expected
// structs.
func TestValidTestdata(t *testing.T) {
	for _, tc := range []struct {
		file  string
		parse func([]byte) (any, error)
		want  any
	}{
		{"routes-valid.yaml", func(b []byte) (any, error) { return contract.ParseRoutes(b) }, exampleRoutes()},
		{"gate-valid.yaml", func(b []byte) (any, error) { return contract.ParseGate(b) }, exampleGate()},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tc.parse(data)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInvalidTestdata parses every testdata/*-invalid-*.yaml file and
// checks it fails with exactly the problems its "# want:" lines list.
func TestInvalidTestdata(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*-invalid-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found only %d invalid testdata files", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var wants []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					wants = append(wants, w)
				}
			}
			if len(wants) == 0 {
				t.Fatal("file has no # want: lines")
			}
			if strings.HasPrefix(filepath.Base(file), "gate-") {
				_, err = contract.ParseGate(data)
			} else {
				_, err = contract.ParseRoutes(data)
			}
			var ve *contract.ValidationError
			if len(wants) == 1 && err != nil && !errors.As(err, &ve) {
				checkErr(t, err, wants[0])
				return
			}
			checkProblems(t, err, wants...)
		})
	}
}
