package bottle

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func TestNewSlug(t *testing.T) {
	re := regexp.MustCompile(`^dev-[a-z0-9]{5}$`)
	seen := map[string]bool{}
	for range 200 {
		s, err := NewSlug("dev")
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(s) || contract.ValidSlug(s) != nil {
			t.Fatalf("slug %q is not dev-<5 [a-z0-9]>", s)
		}
		seen[s] = true
	}
	if len(seen) < 195 {
		t.Errorf("200 slugs gave only %d different ones", len(seen))
	}
	for _, bad := range []string{"", "Dev", "a/b", "dev-", strings.Repeat("a", MaxAgentLen+1)} {
		if s, err := NewSlug(bad); err == nil {
			t.Errorf("NewSlug(%q) = %q, want an error", bad, s)
		}
	}
	if s, err := NewSlug(strings.Repeat("a", MaxAgentLen)); err != nil || len(s) != contract.MaxSlugLen {
		t.Errorf("the longest agent name: %q, %v", s, err)
	}
}

func metadata(slug string, started time.Time) *Metadata {
	return &Metadata{Version: MetadataVersion, Slug: slug, Agent: "dev", Bottle: "base", Provider: "custom",
		Image: "img:1", ComposeProject: "bot-bottle-" + slug, StartedAt: started.UTC(), BotBottleVersion: "test", State: StateRunning}
}

func bottleDir(t *testing.T, home, slug string) contract.BottleDir {
	t.Helper()
	d, err := contract.StateBottleDir(home, slug)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMetadataRoundTripAndState(t *testing.T) {
	home := t.TempDir()
	d := bottleDir(t, home, "dev-abcde")
	m := metadata("dev-abcde", time.Unix(1700000000, 0))
	if err := Write(d, m); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(d.Path(contract.BottleMetadataFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("metadata.json mode: %v %v", fi, err)
	}
	if err := SetState(d, StateStopped); err != nil {
		t.Fatal(err)
	}
	got, err := Read(d)
	if err != nil {
		t.Fatal(err)
	}
	m.State = StateStopped
	if *got != *m {
		t.Errorf("read back %+v, want %+v", got, m)
	}
}

func TestReadRefusesWhatItCannotTrust(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key": `{"version":1,"slug":"dev-abcde","agent":"dev","compose_project":"p","state":"running","extra":1}`,
		"new version": `{"version":2,"slug":"dev-abcde","agent":"dev","compose_project":"p","state":"running"}`,
		"bad slug":    `{"version":1,"slug":"../x","agent":"dev","compose_project":"p","state":"running"}`,
		"bad state":   `{"version":1,"slug":"dev-abcde","agent":"dev","compose_project":"p","state":"gone"}`,
		"huge":        `{"version":1,"slug":"` + strings.Repeat("a", maxMetadata) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			d := bottleDir(t, t.TempDir(), "dev-abcde")
			if err := os.WriteFile(d.Path(contract.BottleMetadataFile), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Read(d); err == nil {
				t.Fatal("read it")
			}
		})
	}
}

// TestAllSortsByStartThenSlug: rows never jump, and a bottle whose
// metadata is broken is still listed, last.
func TestAllSortsByStartThenSlug(t *testing.T) {
	home := t.TempDir()
	t0 := time.Unix(1700000000, 0)
	for slug, at := range map[string]time.Time{"b-aaaaa": t0, "a-aaaaa": t0, "c-aaaaa": t0.Add(-time.Hour)} {
		if err := Write(bottleDir(t, home, slug), metadata(slug, at)); err != nil {
			t.Fatal(err)
		}
	}
	bottleDir(t, home, "broken-aaaaa")
	if err := os.WriteFile(filepath.Join(contract.StateBottlesDir(home), "not-a-dir"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	all, err := All(home)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range all {
		got = append(got, filepath.Base(string(k.Dir)))
	}
	if want := "c-aaaaa a-aaaaa b-aaaaa broken-aaaaa"; strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
	if all[3].Err == nil {
		t.Error("the broken bottle has no error")
	}
}

func TestFindNamesTheKnownBottles(t *testing.T) {
	home := t.TempDir()
	if _, _, err := Find(home, "dev-zzzzz"); err == nil || !strings.Contains(err.Error(), "there are none") {
		t.Errorf("empty home: %v", err)
	}
	for _, slug := range []string{"dev-aaaaa", "web-bbbbb"} {
		if err := Write(bottleDir(t, home, slug), metadata(slug, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	d, m, err := Find(home, "web-bbbbb")
	if err != nil || m.Slug != "web-bbbbb" || filepath.Base(string(d)) != "web-bbbbb" {
		t.Fatalf("Find = %s %+v %v", d, m, err)
	}
	for _, slug := range []string{"dev-zzzzz", "../etc"} {
		_, _, err := Find(home, slug)
		if err == nil || !strings.Contains(err.Error(), "dev-aaaaa, web-bbbbb") {
			t.Errorf("Find(%q) = %v, want the known slugs", slug, err)
		}
	}
}
