package main

import (
	"context"
	"fmt"
	"time"
)

// scenario is one kind of load, run once per target per round.
type scenario struct {
	key, title string
	run        func(ctx context.Context, t *target) result
	metrics    []metric
}

// metric is one number a scenario reports (one table row).
type metric struct {
	name   string
	format string
	value  func(r *result) float64 // negative: not applicable
	proxy  bool                    // only meaningful for proxies
}

var (
	mReqPerSec = metric{name: "req/s", format: "%.0f", value: (*result).reqPerSec}
	mP50       = metric{name: "p50 ms", format: "%.3f", value: func(r *result) float64 { return ms(r.quantile(0.50)) }}
	mP99       = metric{name: "p99 ms", format: "%.3f", value: func(r *result) float64 { return ms(r.quantile(0.99)) }}
	mMiBps     = metric{name: "MiB/s", format: "%.0f", value: (*result).mibPerSec}
	mCPU       = metric{name: "proxy CPU ms/req", format: "%.3f", value: (*result).cpuMsPerReq, proxy: true}
	mUpConns   = metric{name: "upstream conns opened (run)", format: "%.0f", value: func(r *result) float64 { return float64(r.upConns) }}
	mTTFE      = metric{name: "median ms", format: "%.3f", value: func(r *result) float64 { return ms(r.quantile(0.5)) }}
)

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func scenarios(o options, body []byte) []scenario {
	timed := func(keepAlive bool, conc int, do func(t *target) op) func(ctx context.Context, t *target) result {
		return func(ctx context.Context, t *target) result {
			return runLoad(ctx, t, keepAlive, conc, o.warmup, o.dur, do(t))
		}
	}
	small := func(t *target) op { return t.get("/small", smallSize) }
	return []scenario{
		{key: "keepalive-c1", title: "keep-alive GET 200 B, c=1",
			run:     timed(true, 1, small),
			metrics: []metric{mReqPerSec, mP50, mP99, mCPU, mUpConns}},
		{key: "keepalive-c32", title: "keep-alive GET 200 B, c=32",
			run:     timed(true, 32, small),
			metrics: []metric{mReqPerSec, mP50, mP99, mCPU, mUpConns}},
		{key: "newconn-c8", title: "new TCP+TLS conn per GET, c=8",
			run:     timed(false, 8, small),
			metrics: []metric{mReqPerSec, mP50, mP99, mCPU}},
		{key: "download-10MiB", title: "GET 10 MiB, c=1",
			run:     timed(true, 1, func(t *target) op { return t.get("/big", bigSize) }),
			metrics: []metric{mMiBps, mCPU}},
		{key: "upload-1MiB", title: "POST 1 MiB (DLP), c=1",
			run:     timed(true, 1, func(t *target) op { return t.post(body) }),
			metrics: []metric{mMiBps, mCPU}},
		{key: "sse", title: "SSE time to first event",
			run: func(ctx context.Context, t *target) result {
				return sseFirstEvent(ctx, t, o.sseSamples)
			},
			metrics: []metric{mTTFE}},
	}
}

// summary is a one-line progress note for a run.
func (sc scenario) summary(r *result) string {
	s := ""
	for _, m := range sc.metrics {
		v := m.value(r)
		if v < 0 {
			continue
		}
		s += fmt.Sprintf("%s="+m.format+" ", m.name, v)
	}
	if r.failures > 0 {
		s += fmt.Sprintf("FAILED=%d (%s)", r.failures, r.firstErr)
	}
	return s
}
