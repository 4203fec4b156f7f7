package dlp

// matcher is an Aho-Corasick automaton over ASCII-case-folded input: its
// transitions accept either case of a letter, so the input needs no
// lower-cased copy. Transitions are a dense table (one load per byte).
//
// At the root state it skips ahead to the next pair of bytes that begins
// some pattern (a 64 Ki-bit table): in ordinary text few pairs do, and
// that loop has no load chained to the one before, so it runs several
// times faster than the automaton.
type matcher struct {
	next   [][256]int32 // state → byte → state (complete: failure links folded in)
	out    [][]int32    // state → patterns ending here (including via suffix links)
	hasOut []bool       // state → len(out[state]) > 0, checked per byte
	lens   []int        // pattern → length
	starts *bigramSet   // first two bytes of every pattern, either case; nil if a pattern is one byte
	// first holds the first bytes of every pattern (either case) when they
	// are few (a Redactor's forms of one secret): then the skip loop tests
	// one byte, which random or binary data rarely passes, before the pair.
	// Nil when many bytes begin patterns (the rule keywords).
	first *[256]bool
}

// bigramSet is a set of byte pairs.
type bigramSet [1 << 16 / 64]uint64

func (b *bigramSet) add(x, y byte) { k := uint(x)<<8 | uint(y); b[k>>6] |= 1 << (k & 63) }

// newMatcher builds the automaton for patterns, which must be lower-case.
func newMatcher(patterns []string) *matcher {
	m := &matcher{next: make([][256]int32, 1), out: make([][]int32, 1)}
	for pi, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := p[i]
			if m.next[s][c] == 0 {
				m.next = append(m.next, [256]int32{})
				m.out = append(m.out, nil)
				n := int32(len(m.next) - 1)
				m.next[s][c] = n
				if 'a' <= c && c <= 'z' {
					m.next[s][c-'a'+'A'] = n
				}
			}
			s = m.next[s][c]
		}
		m.out[s] = append(m.out[s], int32(pi))
		m.lens = append(m.lens, len(p))
	}
	// Breadth-first: complete the table with failure transitions and
	// inherit the outputs of each state's failure state.
	fail := make([]int32, len(m.next))
	queue := make([]int32, 0, len(m.next))
	for c := 0; c < 256; c++ {
		if s := m.next[0][c]; s != 0 {
			queue = append(queue, s)
		}
	}
	seen := make([]bool, len(m.next))
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if seen[s] {
			continue
		}
		seen[s] = true
		m.out[s] = append(m.out[s], m.out[fail[s]]...)
		for c := 0; c < 256; c++ {
			t := m.next[s][c]
			if t != 0 && !seen[t] && fail[t] == 0 && t != m.next[0][c] {
				fail[t] = m.next[fail[s]][c]
				queue = append(queue, t)
			} else if t == 0 {
				m.next[s][c] = m.next[fail[s]][c]
			}
		}
	}
	m.hasOut = make([]bool, len(m.out))
	for i, o := range m.out {
		m.hasOut[i] = len(o) > 0
	}
	m.first = new([256]bool)
	nfirst := 0
	for _, p := range patterns {
		if len(p) == 0 {
			continue
		}
		for _, c := range bothCases(p[0]) {
			if !m.first[c] {
				m.first[c] = true
				nfirst++
			}
		}
	}
	if nfirst > maxFirstBytes {
		m.first = nil
	}
	m.starts = new(bigramSet)
	for _, p := range patterns {
		if len(p) < 2 {
			m.starts = nil
			break
		}
		for _, x := range bothCases(p[0]) {
			for _, y := range bothCases(p[1]) {
				m.starts.add(x, y)
			}
		}
	}
	return m
}

func bothCases(c byte) []byte {
	if 'a' <= c && c <= 'z' {
		return []byte{c, c - 'a' + 'A'}
	}
	return []byte{c}
}

// maxFirstBytes is how many distinct first bytes the one-byte skip test
// is worth it for.
const maxFirstBytes = 24

// walk calls hit(end, pattern) for every match, end being the index just
// past it.
func (m *matcher) walk(data []byte, hit func(end int, pattern int32)) {
	s := int32(0)
	next, has, starts, first := m.next, m.hasOut, m.starts, m.first
	for i := 0; i < len(data); i++ {
		if s == 0 && starts != nil && first != nil {
			for i+1 < len(data) {
				if first[data[i]] {
					k := uint(data[i])<<8 | uint(data[i+1])
					if starts[k>>6]&(1<<(k&63)) != 0 {
						break
					}
				}
				i++
			}
		} else if s == 0 && starts != nil {
			// No match can begin before the next pair that begins a
			// pattern, and the automaton would be back at the root there
			// (a one-byte prefix ending just before it is not followed by
			// its pattern's second byte).
			for i+1 < len(data) {
				k := uint(data[i])<<8 | uint(data[i+1])
				if starts[k>>6]&(1<<(k&63)) != 0 {
					break
				}
				i++
			}
		}
		s = next[s][data[i]]
		if has[s] {
			for _, p := range m.out[s] {
				hit(i+1, p)
			}
		}
	}
}
