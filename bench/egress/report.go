package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// median of the per-round values of m for one scenario and target; NaN
// if there are none.
func (b *bench) median(key, tname string, m metric) float64 {
	var vs []float64
	for i := range b.results[key][tname] {
		r := &b.results[key][tname][i]
		if r.requests == 0 {
			continue
		}
		if v := m.value(r); v >= 0 {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return math.NaN()
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

func fmtv(format string, v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// report prints the table and the target checks; it returns false if
// something did not work.
func (b *bench) report(w io.Writer) bool {
	const direct, eg, mp, tn = "no proxy", "egress", "mitmproxy", tunnelName
	fmt.Fprintf(w, "\n## egress benchmark, %s\n\n", time.Now().Format("2006-01-02 15:04"))
	fmt.Fprintf(w, "%s, %d CPUs, %s; %s; %d interleaved rounds (no proxy, CONNECT tunnel, egress, mitmproxy), %s per timed run after %s warm-up, medians.\n",
		cpuModel(), runtime.NumCPU(), runtime.Version(), mitmVersion(b.o.mitmdump), b.o.rounds, b.o.dur, b.o.warmup)
	fmt.Fprintf(w, "Clients speak HTTP/1.1 (Go, ForceAttemptHTTP2 false); the upstream offers h2 and HTTP/1.1. Client, upstream and proxies share the machine.\n")
	fmt.Fprintf(w, "The CONNECT tunnel is a reference, not a contender: a Go proxy that only splices bytes (no TLS, HTTP or policy), the ceiling for any proxy here.\n\n")
	fmt.Fprintf(w, "| scenario | metric | no proxy | CONNECT tunnel | egress | mitmproxy | tunnel/no proxy | egress/no proxy | egress/mitmproxy |\n")
	fmt.Fprintf(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, sc := range scenarios(b.o, nil) {
		for _, m := range sc.metrics {
			d, t, e, x := b.median(sc.key, direct, m), b.median(sc.key, tn, m), b.median(sc.key, eg, m), b.median(sc.key, mp, m)
			rt, rd, rx := ratio(t, d), ratio(e, d), ratio(e, x)
			if m.proxy || m.name == mUpConns.name {
				rt, rd = "—", "—"
			}
			if m.name == mUpConns.name {
				rx = "—"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", sc.title, m.name,
				fmtv(m.format, d), fmtv(m.format, t), fmtv(m.format, e), fmtv(m.format, x), rt, rd, rx)
		}
	}
	mib := func(kib int64, ok bool) string {
		if !ok {
			return "—"
		}
		return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
	}
	fmt.Fprintln(w)
	for _, name := range []string{eg, mp} {
		idle, iok := b.idleRSS[name]
		peak, pok := b.peakRSS[name]
		anon, aok := b.idleAnon[name]
		fmt.Fprintf(w, "- %s RSS: idle %s (VmRSS after start; %s of it anonymous, the rest mapped binary/libraries), peak %s (VmHWM at the end)\n",
			name, mib(idle, iok), mib(anon, aok), mib(peak, pok))
	}
	for _, name := range []string{eg, mp} {
		if steps := b.hwmSteps[name]; len(steps) > 0 {
			fmt.Fprintf(w, "- %s VmHWM (MiB) after the sanity check (one /small, /big, /upload, /sse) and after each scenario of round 1: %s\n", name, strings.Join(steps, ", "))
		}
	}
	if n, err := countLines(b.audit); err == nil {
		fmt.Fprintf(w, "- egress audit lines written: %d\n", n)
	}

	// Targets from the Performance section.
	fmt.Fprintf(w, "\n### targets\n\n")
	check := func(ok bool, what, got string) {
		verdict := "MISS"
		switch {
		case ok:
			verdict = "PASS"
		case got == "—":
			verdict = "n/a (not run)"
		}
		fmt.Fprintf(w, "- %s %s (got %s)\n", verdict, what, got)
	}
	rel := func(key string, m metric, vs string, min float64, what string) {
		e, o := b.median(key, eg, m), b.median(key, vs, m)
		ok := !math.IsNaN(e) && !math.IsNaN(o) && o > 0 && e/o >= min
		got := ratio(e, o)
		if t := b.median(key, tn, m); vs == direct && !math.IsNaN(t) {
			got += "; the CONNECT tunnel: " + ratio(t, o)
		}
		check(ok, what, got)
	}
	rel("keepalive-c1", mReqPerSec, direct, 0.40, "keep-alive GET c=1: egress ≥ 0.40× no proxy")
	rel("keepalive-c1", mReqPerSec, mp, 8, "keep-alive GET c=1: egress ≥ 8× mitmproxy")
	rel("keepalive-c32", mReqPerSec, direct, 0.35, "keep-alive GET c=32: egress ≥ 0.35× no proxy")
	rel("keepalive-c32", mReqPerSec, mp, 10, "keep-alive GET c=32: egress ≥ 10× mitmproxy")
	rel("newconn-c8", mReqPerSec, direct, 0.35, "new connection per request c=8: egress ≥ 0.35× no proxy")
	rel("newconn-c8", mReqPerSec, mp, 3, "new connection per request c=8: egress ≥ 3× mitmproxy")
	rel("download-10MiB", mMiBps, direct, 0.6, "10 MiB download: egress ≥ 0.6× no proxy")
	up := b.median("upload-1MiB", eg, mMiBps)
	check(!math.IsNaN(up) && up >= 150, "1 MiB POST with DLP: egress ≥ 150 MiB/s", fmtv("%.0f MiB/s", up))
	sd, se := b.median("sse", direct, mTTFE), b.median("sse", eg, mTTFE)
	check(!math.IsNaN(sd) && !math.IsNaN(se) && se-sd < 1, "SSE first event: egress adds < 1 ms", fmtv("%+.3f ms", se-sd))
	idle, iok := b.idleRSS[eg]
	check(iok && idle < 30<<10, "egress idle RSS < 30 MiB", mib(idle, iok))
	peak, pok := b.peakRSS[eg]
	check(pok && peak < 60<<10, "egress peak RSS < 60 MiB", mib(peak, pok))
	fmt.Fprintf(w, "- (not measured here) DLP alone ≥ 250 MB/s realistic, ≥ 30 MB/s adversarial: `go test -run '^$' -bench BenchmarkScan ./internal/shared/dlp`\n")

	fmt.Fprintf(w, "\nTotal run time %s.\n", time.Since(b.started).Round(time.Second))
	if len(b.problems) > 0 {
		fmt.Fprintf(w, "\n### problems (the benchmark did not fully work)\n\n")
		for _, p := range b.problems {
			fmt.Fprintf(w, "- %s\n", p)
		}
		return false
	}
	return true
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}

func mitmVersion(exe string) string {
	out, err := exec.Command(exe, "--version").Output()
	if err != nil {
		return "mitmproxy (version unknown)"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

func countLines(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return bytes.Count(b, []byte("\n")), nil
}
