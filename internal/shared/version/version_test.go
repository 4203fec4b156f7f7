package version

import "testing"

func TestStringPrefersStampedVersion(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.9.9"
	if got := String(); got != "v9.9.9" {
		t.Fatalf("String() = %q, want the stamped v9.9.9", got)
	}
	Version = ""
	if got := String(); got == "" {
		t.Fatal("String() is empty without a stamp; want a fallback such as devel")
	}
}
