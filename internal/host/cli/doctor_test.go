package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// problemHome is the fixture home with modes doctor must flag: a bottle
// directory others can read, a secret its owner can write, and agent.env
// readable by all.
func problemHome(t *testing.T) string {
	t.Helper()
	home := fixtureHome(t)
	if err := os.Chmod(string(testutil.BottleDir(t, home, "rev-bbbbb")), 0o755); err != nil {
		t.Fatal(err)
	}
	dev := testutil.BottleDir(t, home, "dev-a1b2c")
	if err := os.WriteFile(dev.SecretFile("api_token"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := testutil.BottleDir(t, home, "dev-q7w8e").Path(contract.BottleAgentEnvFile)
	if err := os.WriteFile(env, []byte("A=b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(env, 0o644); err != nil {
		t.Fatal(err)
	}
	return home
}

// TestDoctorGolden runs every check against the recorded engine: a
// machine with problems (a missing image, loose modes, an orphan and a
// stopped bottle's containers), a clean one, and one whose engine is
// down.
func TestDoctorGolden(t *testing.T) {
	clean := t.TempDir()
	writeBottle(t, clean, fixtureBottle{"dev-a1b2c", "dev", time.Minute, bottle.StateRunning})
	for _, tc := range []struct {
		golden string
		home   string
		engine func(e *fakeEngine)
		code   int
	}{
		{"doctor-problems.txt", problemHome(t), func(e *fakeEngine) { e.missing = []string{"bot-bottle/gitgate:local"} }, 1},
		{"doctor-ok.txt", clean, func(e *fakeEngine) {
			e.runtimes = append(e.runtimes, "runsc")
			e.containers, e.networks, e.volumes = e.containers[:5], e.networks[:2], e.volumes[:1]
		}, 0},
		{"doctor-no-engine.txt", clean, func(e *fakeEngine) { e.engineDown(t) }, 1},
		{"doctor-no-cli.txt", clean, func(e *fakeEngine) { e.engineDown(t); e.noCLI = true }, 1},
		{"doctor-compose-v1.txt", clean, func(e *fakeEngine) {
			e.compose = "1.29.2"
			e.containers, e.networks, e.volumes = e.containers[:5], e.networks[:2], e.volumes[:1]
		}, 1},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			e := loadFakeEngine(t)
			tc.engine(e)
			r := runOps(t, t.Context(), tc.home, tc.home, fixtureDeps(e), "doctor")
			if r.code != tc.code || r.stderr != "" {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			checkNoControl(t, r.stdout)
			golden(t, tc.golden, r.stdout)
		})
	}
}

// TestDoctorFixesWork runs the chmod fixes doctor prints, in the
// directory it printed them for, and the state check then passes.
func TestDoctorFixesWork(t *testing.T) {
	home := problemHome(t)
	deps := fixtureDeps(loadFakeEngine(t))
	r := runOps(t, t.Context(), home, home, deps, "doctor", "--check", "state")
	if r.code != 1 || strings.Count(r.stdout, "FAIL") != 3 {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		_, fix, ok := strings.Cut(line, "; fix: ")
		if !ok {
			continue
		}
		cmd := exec.Command("sh", "-c", fix)
		cmd.Dir = home
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", fix, err, out)
		}
	}
	if r := runOps(t, t.Context(), home, home, deps, "doctor", "--check", "state"); r.code != 0 || !strings.Contains(r.stdout, "ok   state directory modes") {
		t.Fatalf("after the fixes: exit %d\n%s", r.code, r.stdout)
	}
}

func TestDoctorCheckSelection(t *testing.T) {
	home := fixtureHome(t)
	for _, tc := range []struct {
		name   string
		args   []string
		down   bool
		code   int
		want   []string
		absent []string
	}{
		{"only leftovers", []string{"--check", "leftovers"}, false, 1,
			[]string{"FAIL leftovers: bottle ghost-g1g1g has no state dir under state but has 2 containers", "FAIL leftovers: bottle rev-bbbbb is stopped", "doctor: 2 problems"},
			[]string{"docker CLI", "Docker engine", "images", "state directory"}},
		{"leftovers with the engine down says why", []string{"--check", "leftovers"}, true, 1,
			[]string{"FAIL leftovers: cannot check: Docker engine: not reachable: docker version --format json: exit status 1: Cannot connect", "; fix: sudo systemctl start docker"},
			[]string{"skip"}},
		{"engine down, engine checked: later checks skip", []string{"--check", "engine,images"}, true, 1,
			[]string{"FAIL Docker engine: not reachable", "skip images: not checked, as Docker engine failed", "doctor: 1 problem\n"}, nil},
		{"no CLI: the first blocked check says why, once", []string{"--check", "engine,images"}, true, 1,
			[]string{"FAIL Docker engine: cannot check: docker CLI: not found on PATH; fix: install Docker Engine",
				"skip images: not checked, as docker CLI failed", "doctor: 1 problem\n"}, nil},
		{"comma and repeated", []string{"--check", "docker,compose", "--check", "state"}, false, 0,
			[]string{"ok   docker CLI: /usr/bin/docker", "ok   docker compose v2: version 2.28.1", "ok   state directory modes"}, []string{"leftovers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := loadFakeEngine(t)
			if tc.down {
				e.engineDown(t)
			}
			e.noCLI = strings.HasPrefix(tc.name, "no CLI")
			r := runOps(t, t.Context(), home, home, fixtureDeps(e), append([]string{"doctor"}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(r.stdout, a) {
					t.Errorf("stdout has %q:\n%s", a, r.stdout)
				}
			}
		})
	}
	r := runOps(t, t.Context(), home, home, fixtureDeps(loadFakeEngine(t)), "doctor", "--check", "nosuch")
	if r.code != 2 || !strings.Contains(r.stderr, "docker, engine, compose, runsc, images, state, leftovers") {
		t.Fatalf("an unknown check: exit %d\n%s", r.code, r.stderr)
	}
}

// TestDoctorStartingBottleIsNotALeftover: a bottle up is still starting
// has containers and no running agent yet; doctor leaves it alone.
func TestDoctorStartingBottleIsNotALeftover(t *testing.T) {
	home := t.TempDir()
	writeBottle(t, home, fixtureBottle{"rev-bbbbb", "reviewer", time.Second, bottle.StateStarting})
	e := loadFakeEngine(t)
	e.containers, e.networks, e.volumes = e.containers[7:9], e.networks[3:4], nil
	r := runOps(t, t.Context(), home, home, fixtureDeps(e), "doctor", "--check", "leftovers")
	if r.code != 0 || !strings.Contains(r.stdout, "note leftovers: bottle rev-bbbbb is starting; not checked") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	if err := os.Remove(filepath.Join(string(testutil.BottleDir(t, home, "rev-bbbbb")), contract.BottleMetadataFile)); err != nil {
		t.Fatal(err)
	}
	if r := runOps(t, t.Context(), home, home, fixtureDeps(e), "doctor", "--check", "leftovers"); r.code != 1 || !strings.Contains(r.stdout, "bottle rev-bbbbb is stopped") {
		t.Fatalf("unreadable metadata: exit %d\n%s", r.code, r.stdout)
	}
}
