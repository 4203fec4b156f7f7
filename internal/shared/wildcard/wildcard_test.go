package wildcard

import (
	"strings"
	"testing"
)

// Host-attacks finding 6: wildcards on public suffixes, from the ICANN
// and the private sections of the list, and above them, are refused;
// wildcards under a registered domain and plain hosts are not.
func TestCheckRefusesWildcardsOnPublicSuffixes(t *testing.T) {
	for _, tt := range []struct {
		host    string
		refused bool
	}{
		{"*.co.uk", true},
		{"*.CO.UK", true},
		{"*.github.io", true},
		{"*.s3.amazonaws.com", true},
		{"*.com", true},
		{"*.uk", true},
		{"*.herokuapp.com", true},
		{"*.example.co.uk", false},
		{"*.acme.github.io", false},
		{"*.cdn.example.test", false},
		{"*.example.com", false},
		{"co.uk", false},
		{"api.github.com", false},
		{"10.0.0.1", false},
		{"::1", false},
	} {
		err := Check(tt.host)
		if (err != nil) != tt.refused {
			t.Errorf("Check(%q) = %v, want refused %v", tt.host, err, tt.refused)
		}
		if err != nil && !strings.Contains(err.Error(), "public suffix") {
			t.Errorf("Check(%q) does not say why: %v", tt.host, err)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"*.co.uk", "*.", "*", "*.a.b.c", "*..", "*.github.io."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if err := Check(host); err != nil && !strings.HasPrefix(strings.ToLower(host), "*.") {
			t.Fatalf("refused a host that is not a wildcard: %q: %v", host, err)
		}
	})
}
