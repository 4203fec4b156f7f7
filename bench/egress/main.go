// Command egress-bench compares bot-bottle's egress proxy with no proxy and
// with mitmproxy running an equivalent addon, on the same HTTPS load, and
// checks egress against the performance targets of its issue. Run it from
// the repository with 'make bench-egress' (or 'go run ./bench/egress').
//
// Everything runs on loopback: an HTTPS upstream in this process, egress
// (built from ./cmd/egress), mitmdump and a reference CONNECT tunnel (this
// program with -serve-tunnel: a Go proxy that only splices bytes, the
// ceiling for any proxy here) as child processes, and Go clients. Targets
// run interleaved (no proxy, tunnel, egress, mitmproxy, then again) for
// several rounds and the report shows medians. It exits 1 if
// anything did not work (a failed request, a proxy that died); a missed
// target is reported, not an error.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testpki"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
)

const (
	tunnelName = "CONNECT tunnel"
	benchHost  = "api.bench.test"   // the routed host, resolved to 127.0.0.1
	otherHost  = "other.bench.test" // a host with no route
	secretName = "api_token"
)

type options struct {
	rounds     int
	dur        time.Duration
	warmup     time.Duration
	sseSamples int
	egressBin  string
	mitmdump   string
	keep       bool
	only       string // comma-separated scenario keys; "" all
	procs      int    // GOMAXPROCS for egress; 0 leaves the Go default
	noTunnel   bool   // leave out the CONNECT tunnel reference
}

func main() {
	var o options
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds (medians are reported)")
	flag.DurationVar(&o.dur, "duration", 2*time.Second, "measured time of each run")
	flag.DurationVar(&o.warmup, "warmup", 300*time.Millisecond, "unmeasured warm-up before each timed run")
	flag.IntVar(&o.sseSamples, "sse-samples", 15, "SSE first-event samples per run")
	flag.StringVar(&o.egressBin, "egress", "", "use this egress binary instead of building ./cmd/egress")
	flag.StringVar(&o.mitmdump, "mitmdump", "mitmdump", "mitmdump executable")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, certificates, audit)")
	flag.IntVar(&o.procs, "egress-procs", 0, "run egress with GOMAXPROCS=N (0: Go's default, one per CPU)")
	flag.StringVar(&o.only, "only", "", "run only these scenarios (comma-separated keys, e.g. keepalive-c1,sse; for profiling)")
	flag.BoolVar(&o.noTunnel, "no-tunnel", false, "leave out the reference CONNECT tunnel (a Go proxy that only splices bytes)")
	serveTunnelAddr := flag.String("serve-tunnel", "", "(internal) run as the reference CONNECT tunnel on this address")
	tunnelPort := flag.String("tunnel-port", "", "(internal) the upstream port the tunnel reaches")
	flag.Parse()
	if *serveTunnelAddr != "" {
		tunnelMain(*serveTunnelAddr, *tunnelPort)
		return
	}
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench-egress: ")
	if o.rounds < 1 || o.dur <= 0 || o.sseSamples < 1 {
		log.Fatal("-rounds, -duration and -sse-samples must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, o)
	stop()
	os.Exit(code)
}

// run returns the exit code: 0 if everything worked, 1 otherwise.
func run(ctx context.Context, o options) int {
	b, err := setup(ctx, o)
	if b != nil {
		defer b.close()
	}
	if err != nil {
		log.Printf("setup failed: %v", err)
		return 1
	}
	if err := b.sanity(ctx); err != nil {
		log.Printf("sanity check failed: %v", err)
		return 1
	}
	b.measure(ctx)
	if ctx.Err() != nil {
		log.Printf("interrupted")
		return 1
	}
	ok := b.report(os.Stdout)
	if !ok {
		return 1
	}
	return 0
}

// bench holds the running pieces.
type bench struct {
	o        options
	dir      string
	up       *upstream
	egress   *proxyProc
	mitm     *proxyProc
	tunnel   *proxyProc // the reference CONNECT tunnel; nil with -no-tunnel
	targets  []*target
	audit    string
	idleRSS  map[string]int64 // KiB, per proxy name
	idleAnon map[string]int64 // RssAnon at idle, KiB
	peakRSS  map[string]int64
	hwmSteps map[string][]string            // proxy name → "scenario VmHWM" after each run of round 1
	results  map[string]map[string][]result // scenario key → target name → rounds
	problems []string                       // things that did not work
	started  time.Time
}

func setup(ctx context.Context, o options) (*bench, error) {
	dir, err := os.MkdirTemp("", "bench-egress-")
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, dir: dir, started: time.Now(), idleRSS: map[string]int64{}, idleAnon: map[string]int64{}, peakRSS: map[string]int64{}, hwmSteps: map[string][]string{},
		results: map[string]map[string][]result{}}
	if _, err := exec.LookPath(o.mitmdump); err != nil {
		return b, fmt.Errorf("%s not found (Debian: apt-get install -y mitmproxy; make bench-egress does it): %w", o.mitmdump, err)
	}
	bottleCA, err := testpki.NewCA(dir, "bottle-ca")
	if err != nil {
		return b, err
	}
	upCA, err := testpki.NewCA(dir, "upstream-ca")
	if err != nil {
		return b, err
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	token := "bench-" + hex.EncodeToString(tok)
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		return b, err
	}
	secretFile := filepath.Join(secrets, secretName)
	if err := os.WriteFile(secretFile, []byte(token+"\n"), 0o600); err != nil {
		return b, err
	}
	if b.up, err = startUpstream(upCA, token); err != nil {
		return b, err
	}
	log.Printf("upstream on 127.0.0.1:%s (h2 and HTTP/1.1)", b.up.port)

	// egress
	bin := o.egressBin
	if bin == "" {
		if bin, err = buildEgress(ctx, dir); err != nil {
			return b, err
		}
	}
	routes := filepath.Join(dir, "routes.yaml")
	routesYAML := fmt.Sprintf(`version: 1
routes:
  - host: %s
    auth:
      scheme: Bearer
      secret: %s
    ssrf_allow: ["127.0.0.1"]
    ports: [%s]
`, benchHost, secretName, b.up.port)
	if err := os.WriteFile(routes, []byte(routesYAML), 0o600); err != nil {
		return b, err
	}
	b.audit = filepath.Join(dir, "egress-audit.jsonl")
	eAddr, err := testutil.FreeAddr()
	if err != nil {
		return b, err
	}
	var egressEnv []string
	if o.procs > 0 {
		egressEnv = append(egressEnv, "GOMAXPROCS="+strconv.Itoa(o.procs))
	}
	b.egress, err = startProc("egress", eAddr, filepath.Join(dir, "egress.log"), childEnv(egressEnv...),
		bin, "--routes", routes, "--ca-cert", bottleCA.CertPath, "--ca-key", bottleCA.KeyPath,
		"--secrets-dir", secrets, "--listen", eAddr, "--admin", "off", "--audit", b.audit,
		"--upstream-ca", upCA.CertPath, "--resolve", benchHost+"=127.0.0.1", "--resolve", otherHost+"=127.0.0.1")
	if err != nil {
		return b, err
	}
	log.Printf("egress (pid %d) on %s", b.egress.cmd.Process.Pid, eAddr)

	// mitmproxy, with the bottle CA as its CA and the equivalent addon.
	confdir := filepath.Join(dir, "mitmproxy")
	if err := os.Mkdir(confdir, 0o700); err != nil {
		return b, err
	}
	caPEM := append(append([]byte{}, bottleCA.CertPEM...), bottleCA.KeyPEM...)
	if err := os.WriteFile(filepath.Join(confdir, "mitmproxy-ca.pem"), caPEM, 0o600); err != nil {
		return b, err
	}
	addon, err := writeAddon(dir)
	if err != nil {
		return b, err
	}
	mAddr, err := testutil.FreeAddr()
	if err != nil {
		return b, err
	}
	_, mPort, _ := strings.Cut(mAddr, ":")
	b.mitm, err = startProc("mitmproxy", mAddr, filepath.Join(dir, "mitmdump.log"),
		childEnv("BENCH_ALLOW_HOSTS="+benchHost, "BENCH_SECRET_FILE="+secretFile, "BENCH_RESOLVE="+benchHost+"=127.0.0.1"),
		o.mitmdump, "--listen-host", "127.0.0.1", "--listen-port", mPort,
		"--set", "confdir="+confdir,
		"--set", "ssl_verify_upstream_trusted_ca="+upCA.CertPath,
		"--set", "flow_detail=0", "--set", "termlog_verbosity=warn",
		// Stream bodies over 2 MiB (the 10 MiB download) as a proxy in
		// production would; the 1 MiB upload is buffered, as egress
		// buffers it to scan it whole.
		"--set", "stream_large_bodies=2m",
		"-s", addon)
	if err != nil {
		return b, err
	}
	log.Printf("mitmdump (pid %d) on %s", b.mitm.cmd.Process.Pid, mAddr)

	b.targets = []*target{{name: "no proxy", roots: upCA.Pool(), up: b.up}}
	if !o.noTunnel {
		self, err := os.Executable()
		if err != nil {
			return b, err
		}
		tAddr, err := testutil.FreeAddr()
		if err != nil {
			return b, err
		}
		b.tunnel, err = startProc("tunnel", tAddr, filepath.Join(dir, "tunnel.log"), childEnv(),
			self, "-serve-tunnel", tAddr, "-tunnel-port", b.up.port)
		if err != nil {
			return b, err
		}
		log.Printf("reference CONNECT tunnel (pid %d) on %s", b.tunnel.cmd.Process.Pid, tAddr)
		b.targets = append(b.targets, &target{name: tunnelName, proxy: b.tunnel, tunnel: true, roots: upCA.Pool(), up: b.up})
	}
	b.targets = append(b.targets,
		&target{name: "egress", proxy: b.egress, roots: bottleCA.Pool(), up: b.up},
		&target{name: "mitmproxy", proxy: b.mitm, roots: bottleCA.Pool(), up: b.up})
	// Idle RSS: after start, before any request.
	time.Sleep(500 * time.Millisecond)
	for _, p := range []*proxyProc{b.egress, b.mitm} {
		if v, err := p.memKiB("VmRSS"); err == nil {
			b.idleRSS[p.name] = v
		}
		if v, err := p.memKiB("RssAnon"); err == nil {
			b.idleAnon[p.name] = v
		}
	}
	return b, nil
}

// writeAddon copies mitm_addon.py (next to this file in the repository)
// into dir.
func writeAddon(dir string) (string, error) {
	root, err := moduleRoot(context.Background())
	if err != nil {
		return "", err
	}
	src := filepath.Join(root, "bench", "egress", "mitm_addon.py")
	data, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("read the mitmproxy addon: %w", err)
	}
	dst := filepath.Join(dir, "mitm_addon.py")
	return dst, os.WriteFile(dst, data, 0o600)
}

func (b *bench) close() {
	for _, p := range []*proxyProc{b.mitm, b.egress, b.tunnel} {
		if p != nil {
			p.stop()
		}
	}
	if b.up != nil {
		b.up.close()
	}
	if b.o.keep {
		log.Printf("kept %s", b.dir)
	} else {
		os.RemoveAll(b.dir)
	}
}

// sanity checks that each target works and each proxy enforces the policy
// before anything is timed.
func (b *bench) sanity(ctx context.Context) error {
	for _, t := range b.targets {
		tr := t.transport(true, 1)
		client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
		for _, o := range []op{t.get("/small", smallSize), t.get("/big", bigSize), t.post(uploadBody())} {
			if _, err := o(ctx, client); err != nil {
				tr.CloseIdleConnections()
				return fmt.Errorf("%s: %w%s", t.name, err, b.rejectNote())
			}
		}
		if _, err := t.sseOnce(ctx, client); err != nil {
			tr.CloseIdleConnections()
			return fmt.Errorf("%s: %w", t.name, err)
		}
		tr.CloseIdleConnections()
		if t.proxy == nil {
			continue
		}
		// A host with no route is refused at CONNECT.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+otherHost+":"+t.up.port+"/small", nil)
		tr = t.transport(true, 1)
		resp, err := (&http.Client{Transport: tr, Timeout: 15 * time.Second}).Do(req)
		tr.CloseIdleConnections()
		if err == nil {
			resp.Body.Close()
			return fmt.Errorf("%s: a request to %s (no route) got %s, want a refused CONNECT", t.name, otherHost, resp.Status)
		}
		if !strings.Contains(err.Error(), "403") && !strings.Contains(err.Error(), "Forbidden") {
			return fmt.Errorf("%s: a request to %s (no route) failed with %q, want 403 at CONNECT", t.name, otherHost, err)
		}
	}
	for _, p := range []*proxyProc{b.egress, b.mitm} {
		if v, err := p.memKiB("VmHWM"); err == nil {
			b.hwmSteps[p.name] = append(b.hwmSteps[p.name], fmt.Sprintf("sanity %.0f", float64(v)/1024))
		}
	}
	log.Printf("sanity: every target serves /small, /big, /upload and /sse; both MITM proxies inject the credential; every proxy refuses %s", otherHost)
	return nil
}

func (b *bench) rejectNote() string {
	if v, ok := b.up.lastReject.Load().(string); ok {
		return " (upstream: " + v + ")"
	}
	return ""
}

// measure runs every scenario against every target, interleaved, for
// o.rounds rounds.
func (b *bench) measure(ctx context.Context) {
	body := uploadBody()
	var scs []scenario
	for _, sc := range scenarios(b.o, body) {
		if b.o.only == "" || slices.Contains(strings.Split(b.o.only, ","), sc.key) {
			scs = append(scs, sc)
		}
	}
	if len(scs) == 0 {
		b.problems = append(b.problems, "-only "+b.o.only+" names no scenario")
	}
	for round := 1; round <= b.o.rounds; round++ {
		for _, sc := range scs {
			for _, t := range b.targets {
				if ctx.Err() != nil {
					return
				}
				r := sc.run(ctx, t)
				if b.results[sc.key] == nil {
					b.results[sc.key] = map[string][]result{}
				}
				b.results[sc.key][t.name] = append(b.results[sc.key][t.name], r)
				log.Printf("round %d/%d %-22s %-9s %s", round, b.o.rounds, sc.key, t.name, sc.summary(&r))
				if r.failures > 0 {
					b.problems = append(b.problems, fmt.Sprintf("round %d, %s, %s: %d failed requests of %d; first: %s%s",
						round, sc.title, t.name, r.failures, r.failures+r.requests, r.firstErr, b.rejectNote()))
				}
				if t.proxy != nil && round == 1 {
					if v, err := t.proxy.memKiB("VmHWM"); err == nil {
						b.hwmSteps[t.name] = append(b.hwmSteps[t.name], fmt.Sprintf("%s %.0f", sc.key, float64(v)/1024))
					}
				}
				if t.proxy != nil {
					if err := t.proxy.alive(); err != nil {
						b.problems = append(b.problems, err.Error())
						return
					}
				}
			}
		}
	}
	for _, p := range []*proxyProc{b.egress, b.mitm} {
		if v, err := p.memKiB("VmHWM"); err == nil {
			b.peakRSS[p.name] = v
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
