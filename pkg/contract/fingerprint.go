package contract

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on a fingerprint.
const (
	// MaxFingerprintPathLen is the longest Fingerprint.Path, in bytes (git's
	// PATH_MAX).
	MaxFingerprintPathLen = 4096
	// MaxFingerprintLine is the largest Fingerprint.Line.
	MaxFingerprintLine = 1<<31 - 1
	// MaxDLPExceptions is the most dlp_exceptions one repository may list.
	MaxDLPExceptions = 1000
	// commitIDLen is the length of a full SHA-1 commit id in hex.
	commitIDLen = 40
	// maxFingerprintLen bounds the text form: commit, path, rule id, line
	// and three colons.
	maxFingerprintLen = commitIDLen + MaxFingerprintPathLen + maxRuleIDLen + 10 + 3
)

// fingerprintShape is how errors show what a fingerprint looks like.
const fingerprintShape = "a fingerprint is COMMIT:PATH:RULE:LINE exactly as the gate printed it, " +
	"e.g. 4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:config/app.yaml:generic-api-key:12"

// Fingerprint names one finding of the git gate's secret scan: gitleaks
// rule Rule fired on line Line of file Path as commit Commit has it. The
// gate prints it with each finding of a refused push; a dlp-block proposal
// for a repository quotes it; the gate file's dlp_exceptions list the ones
// the operator let through. Its text form is gitleaks' own fingerprint,
// COMMIT:PATH:RULE:LINE (String and ParseFingerprint).
//
// A fingerprint pins content, not a place: the commit id covers the whole
// tree, so an exception lets through exactly what that line of that file
// holds in that commit — not the rule, the file, or what a later commit
// writes on the same line.
type Fingerprint struct {
	// Commit is the full id of the commit that adds the line, 40 lower-case
	// hex digits; it is required.
	Commit string `yaml:"commit" json:"commit"`
	// Path is the file's path in that commit, as git shows it
	// ("config/app.yaml"); it is required. See ValidFingerprintPath.
	Path string `yaml:"path" json:"path"`
	// Rule is the gitleaks rule id that fired (see ValidRuleID); it is
	// required.
	Rule string `yaml:"rule" json:"rule"`
	// Line is the 1-based line of the finding in the file, at most
	// MaxFingerprintLine; it is required.
	Line int `yaml:"line" json:"line"`
}

// String returns f's text form, COMMIT:PATH:RULE:LINE. For a valid f,
// ParseFingerprint(f.String()) gives f back.
func (f Fingerprint) String() string {
	return f.Commit + ":" + f.Path + ":" + f.Rule + ":" + strconv.Itoa(f.Line)
}

// Describe says in words which finding f is, for the operator:
// rule R in path "P" at commit C line N.
func (f Fingerprint) Describe() string {
	return fmt.Sprintf("rule %s in path %q at commit %s line %d", f.Rule, f.Path, f.Commit, f.Line)
}

// ParseFingerprint parses the text form COMMIT:PATH:RULE:LINE strictly:
// a full commit id, a path (which may itself hold ':'), a rule id and a
// line number without sign or leading zeros, with nothing around them. The
// result is validated (see Fingerprint.Validate).
func ParseFingerprint(s string) (Fingerprint, error) {
	bad := func(format string, args ...any) (Fingerprint, error) {
		return Fingerprint{}, fmt.Errorf(format+"; "+fingerprintShape, args...)
	}
	if s == "" {
		return bad("fingerprint is empty")
	}
	if len(s) > maxFingerprintLen {
		return bad("fingerprint is %d bytes; the limit is %d", len(s), maxFingerprintLen)
	}
	commit, rest, ok := strings.Cut(s, ":")
	if !ok {
		return bad("fingerprint has no ':'")
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return bad("fingerprint has no rule and line after the path")
	}
	rest, lineText := rest[:i], rest[i+1:]
	j := strings.LastIndexByte(rest, ':')
	if j < 0 {
		return bad("fingerprint has no rule between the path and the line")
	}
	f := Fingerprint{Commit: commit, Path: rest[:j], Rule: rest[j+1:]}
	line, err := parseLineNumber(lineText)
	if err != nil {
		return bad("%v", err)
	}
	f.Line = line
	var ps problems
	f.validate(&ps, "")
	if len(ps) > 0 {
		msgs := make([]string, len(ps))
		for i, p := range ps {
			msgs[i] = p.(*FieldError).Err.Error()
		}
		return bad("%s", strings.Join(msgs, "; "))
	}
	return f, nil
}

// parseLineNumber parses a line number in canonical form: digits, no
// sign, no leading zero, 1 to MaxFingerprintLine.
func parseLineNumber(s string) (int, error) {
	switch {
	case s == "":
		return 0, fmt.Errorf("line number is empty")
	case !isDigits(s):
		return 0, fmt.Errorf("line number %q is not a number", s)
	case s[0] == '0':
		return 0, fmt.Errorf("line number %q must be at least 1 and have no leading zeros", s)
	case len(s) > len(strconv.Itoa(MaxFingerprintLine)):
		return 0, fmt.Errorf("line number %.20s is larger than %d", s, MaxFingerprintLine)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > MaxFingerprintLine {
		return 0, fmt.Errorf("line number %s is larger than %d", s, MaxFingerprintLine)
	}
	return n, nil
}

// Validate reports every problem with f as a *ValidationError, or nil.
func (f Fingerprint) Validate() error {
	var ps problems
	f.validate(&ps, "")
	return ps.err()
}

func (f Fingerprint) validate(ps *problems, prefix string) {
	if err := validCommitID(f.Commit); err != nil {
		ps.add(join(prefix, "commit"), err)
	}
	if err := ValidFingerprintPath(f.Path); err != nil {
		ps.add(join(prefix, "path"), err)
	}
	if err := ValidRuleID(f.Rule); err != nil {
		ps.add(join(prefix, "rule"), err)
	}
	if f.Line < 1 || f.Line > MaxFingerprintLine {
		ps.addf(join(prefix, "line"), "line number %d is out of range 1-%d", f.Line, MaxFingerprintLine)
	}
}

// validCommitID checks a full SHA-1 commit id in lower-case hex. An
// abbreviated id is refused: it would name any commit it prefixes.
func validCommitID(s string) error {
	if len(s) != commitIDLen {
		return fmt.Errorf("commit id %q is %d characters; give the full %d-digit id the gate printed", clipText(s), len(s), commitIDLen)
	}
	zero := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("commit id contains %s; it is %d lower-case hex digits", describeByte(s, i), commitIDLen)
		}
		zero = zero && c == '0'
	}
	if zero {
		return fmt.Errorf("commit id is all zeros; name the commit that adds the line")
	}
	return nil
}

// ValidFingerprintPath checks the path of a fingerprint: a relative git
// path of at most MaxFingerprintPathLen bytes, of printable UTF-8 (a plain
// space is allowed; tabs, line breaks, control and invisible formatting
// characters are not), with no empty, "." or ".." segment. Paths are shown
// to the operator; a file named outside these rules cannot be given an
// exception and has to be renamed.
func ValidFingerprintPath(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("path is empty")
	case len(s) > MaxFingerprintPathLen:
		return fmt.Errorf("path is %d bytes; the limit is %d", len(s), MaxFingerprintPathLen)
	}
	for i, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return fmt.Errorf("path contains %s; exceptions are only for files whose names are printable text, so rename the file", describeByte(s, i))
		}
	}
	for _, seg := range strings.Split(s, "/") {
		switch seg {
		case "":
			return fmt.Errorf("path %q has an empty segment (a leading, trailing or doubled '/'); give it as git shows it, as in %q", s, "config/app.yaml")
		case ".", "..":
			return fmt.Errorf("path %q has a %q segment; give it as git shows it, as in %q", s, seg, "config/app.yaml")
		}
	}
	return nil
}

// clipText shortens s for an error message.
func clipText(s string) string {
	if len(s) > 48 {
		return s[:48] + "..."
	}
	return s
}
