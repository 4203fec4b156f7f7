package contract_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

const commitID = "4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9"

func TestParseFingerprint(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     contract.Fingerprint
		err      string
	}{
		{"plain", commitID + ":config/app.yaml:github-pat:3", contract.Fingerprint{Commit: commitID, Path: "config/app.yaml", Rule: "github-pat", Line: 3}, ""},
		{"colons in the path", commitID + ":a:b/c::d.txt:generic-api-key:12", contract.Fingerprint{Commit: commitID, Path: "a:b/c::d.txt", Rule: "generic-api-key", Line: 12}, ""},
		{"spaces and unicode in the path", commitID + ":docs/my notes/über.md:private-key:1", contract.Fingerprint{Commit: commitID, Path: "docs/my notes/über.md", Rule: "private-key", Line: 1}, ""},
		{"top-level file", commitID + ":message:github-pat:1", contract.Fingerprint{Commit: commitID, Path: "message", Rule: "github-pat", Line: 1}, ""},
		{"largest line", commitID + ":a:r:2147483647", contract.Fingerprint{Commit: commitID, Path: "a", Rule: "r", Line: contract.MaxFingerprintLine}, ""},

		{"empty", "", contract.Fingerprint{}, "fingerprint is empty; a fingerprint is COMMIT:PATH:RULE:LINE"},
		{"rule only", "github-pat", contract.Fingerprint{}, "fingerprint has no ':'"},
		{"no rule or line", commitID + ":config/app.yaml", contract.Fingerprint{}, "fingerprint has no rule and line after the path"},
		{"no rule", commitID + ":config/app.yaml:3", contract.Fingerprint{}, "has no rule between the path and the line"},
		{"abbreviated commit", "4f1c9a0e7b2d:config/app.yaml:github-pat:3", contract.Fingerprint{}, `commit id "4f1c9a0e7b2d" is 12 characters; give the full 40-digit id`},
		{"upper-case commit", strings.ToUpper(commitID) + ":a:github-pat:3", contract.Fingerprint{}, "commit id contains 'F'; it is 40 lower-case hex digits"},
		{"zero commit", strings.Repeat("0", 40) + ":a:github-pat:3", contract.Fingerprint{}, "commit id is all zeros"},
		{"empty path", commitID + "::github-pat:3", contract.Fingerprint{}, "path is empty"},
		{"absolute path", commitID + ":/etc/x:github-pat:3", contract.Fingerprint{}, `path "/etc/x" has an empty segment`},
		{"doubled slash", commitID + ":a//b:github-pat:3", contract.Fingerprint{}, "has an empty segment"},
		{"dot-dot", commitID + ":a/../b:github-pat:3", contract.Fingerprint{}, `has a ".." segment`},
		{"newline in the path", commitID + ":a\nb:github-pat:3", contract.Fingerprint{}, "path contains the character U+000A; exceptions are only for files whose names are printable text"},
		{"escape in the path", commitID + ":a\x1b[31mb:github-pat:3", contract.Fingerprint{}, "path contains the character U+001B"},
		{"bidi override in the path", commitID + ":a\u202eb:github-pat:3", contract.Fingerprint{}, "path contains the character U+202E"},
		{"tab in the path", commitID + ":a\tb:github-pat:3", contract.Fingerprint{}, "path contains the character U+0009"},
		{"invalid UTF-8", commitID + ":a\xffb:github-pat:3", contract.Fingerprint{}, "path contains the byte 0xff"},
		{"long path", commitID + ":" + strings.Repeat("a", contract.MaxFingerprintPathLen+1) + ":r:1", contract.Fingerprint{}, "path is 4097 bytes; the limit is 4096"},
		{"upper-case rule", commitID + ":a:GitHub-PAT:3", contract.Fingerprint{}, `rule id "GitHub-PAT" has upper-case letters`},
		{"empty rule", commitID + ":a::3", contract.Fingerprint{}, "rule id is empty"},
		{"line zero", commitID + ":a:r:0", contract.Fingerprint{}, `line number "0" must be at least 1`},
		{"leading zero", commitID + ":a:r:03", contract.Fingerprint{}, `line number "03" must be at least 1 and have no leading zeros`},
		{"signed line", commitID + ":a:r:+3", contract.Fingerprint{}, `line number "+3" is not a number`},
		{"line too large", commitID + ":a:r:2147483648", contract.Fingerprint{}, "line number 2147483648 is larger than 2147483647"},
		{"line far too large", commitID + ":a:r:99999999999999999999999", contract.Fingerprint{}, "is larger than 2147483647"},
		{"trailing space", commitID + ":a:r:3 ", contract.Fingerprint{}, `line number "3 " is not a number`},
		{"leading space", " " + commitID + ":a:r:3", contract.Fingerprint{}, "commit id \" " + commitID[:39]},
		{"too long", strings.Repeat("a", 5000), contract.Fingerprint{}, "fingerprint is 5000 bytes; the limit is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := contract.ParseFingerprint(tc.in)
			checkErr(t, err, tc.err)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseFingerprint(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
			if err == nil && got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestFingerprintDescribe(t *testing.T) {
	fp := contract.Fingerprint{Commit: commitID, Path: "config/app.yaml", Rule: "github-pat", Line: 3}
	want := `rule github-pat in path "config/app.yaml" at commit ` + commitID + ` line 3`
	if got := fp.Describe(); got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
}

func TestGateDLPExceptions(t *testing.T) {
	good := contract.Fingerprint{Commit: commitID, Path: "config/app.yaml", Rule: "github-pat", Line: 3}
	for _, tc := range []struct {
		name  string
		list  []contract.Fingerprint
		wants []string
	}{
		{"none", nil, nil},
		{"one", []contract.Fingerprint{good}, nil},
		{"two lines of one file", []contract.Fingerprint{good, {Commit: commitID, Path: "config/app.yaml", Rule: "github-pat", Line: 4}}, nil},
		{"duplicate", []contract.Fingerprint{good, good}, []string{"repos[0].dlp_exceptions[1]: duplicates dlp_exceptions[0]"}},
		{"whole rule", []contract.Fingerprint{{Rule: "github-pat"}},
			[]string{"repos[0].dlp_exceptions[0].commit: commit id \"\" is 0 characters", "repos[0].dlp_exceptions[0].path: path is empty", "repos[0].dlp_exceptions[0].line: line number 0 is out of range"}},
		{"whole file", []contract.Fingerprint{{Commit: commitID, Path: "config/app.yaml"}},
			[]string{"repos[0].dlp_exceptions[0].rule: rule id is empty", "repos[0].dlp_exceptions[0].line: line number 0 is out of range"}},
		{"too many", make([]contract.Fingerprint, contract.MaxDLPExceptions+1), []string{"repos[0].dlp_exceptions: has 1001 entries; the limit is 1000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := exampleGate()
			g.Repos[0].DLPExceptions = tc.list
			checkProblems(t, g.Validate(), tc.wants...)
			if len(tc.wants) == 0 {
				for _, fp := range tc.list {
					if !g.Repos[0].Excepts(fp) || g.Repos[1].Excepts(fp) {
						t.Errorf("Excepts(%s) is wrong: repos[0] %v, repos[1] %v", fp, g.Repos[0].Excepts(fp), g.Repos[1].Excepts(fp))
					}
				}
			}
		})
	}
}
