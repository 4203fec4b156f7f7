package supervise

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is a number of proposals per interval, written N/INTERVAL: "10/m",
// "100/h", "5/30s". The zero Rate means the default, DefaultRate.
type Rate struct {
	// N is how many; at least 1.
	N int
	// Per is the interval, from a second to a day.
	Per time.Duration
}

// DefaultRate is how many proposals an agent may make by default: ten a
// minute, plenty for real work and little for a flood.
var DefaultRate = Rate{N: 10, Per: time.Minute}

// The bounds of a Rate's interval (validate's message spells them out).
const (
	minRateInterval = time.Second
	maxRateInterval = 24 * time.Hour
)

// ParseRate reads N/INTERVAL, where INTERVAL is s, m, h or a duration such
// as 30s or 2h.
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q is not N/INTERVAL; write, for example, 10/m (ten a minute) or 100/h", s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return Rate{}, fmt.Errorf("rate %q: %q is not a whole number of at least 1", s, num)
	}
	var per time.Duration
	switch unit {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		if per, err = time.ParseDuration(unit); err != nil {
			return Rate{}, fmt.Errorf("rate %q: the interval %q is not s, m, h or a duration such as 30s", s, unit)
		}
	}
	r := Rate{N: n, Per: per}
	return r, r.validate()
}

func (r Rate) validate() error {
	if r.N < 1 || r.Per < minRateInterval || r.Per > maxRateInterval {
		return fmt.Errorf("rate %s: the number must be at least 1 and the interval from 1s to 24h", r)
	}
	return nil
}

// String writes r as ParseRate reads it.
func (r Rate) String() string {
	switch r.Per {
	case time.Second:
		return fmt.Sprintf("%d/s", r.N)
	case time.Minute:
		return fmt.Sprintf("%d/m", r.N)
	case time.Hour:
		return fmt.Sprintf("%d/h", r.N)
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}

// Set parses s into r, as a flag.Value.
func (r *Rate) Set(s string) error {
	v, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// interval says r's interval in words: "minute", "30s".
func (r Rate) interval() string {
	switch r.Per {
	case time.Second:
		return "second"
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	}
	return r.Per.String()
}

// window remembers when the last proposals were admitted, to hold them to
// a Rate: a proposal is admitted if fewer than N were admitted in the
// interval before it. It is not safe for concurrent use.
type window struct {
	rate Rate
	// times is a ring of the last admissions, at most rate.N; once it is
	// full, times[next] is the oldest and the next to be replaced.
	times []time.Time
	next  int
}

// wait returns how long until a proposal may be admitted at now; zero if
// it may be now.
func (w *window) wait(now time.Time) time.Duration {
	if len(w.times) < w.rate.N {
		return 0
	}
	return max(0, w.times[w.next].Add(w.rate.Per).Sub(now))
}

// add records an admission at now.
func (w *window) add(now time.Time) {
	if len(w.times) < w.rate.N {
		w.times = append(w.times, now)
		return
	}
	w.times[w.next] = now
	w.next = (w.next + 1) % w.rate.N
}
