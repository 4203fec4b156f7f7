package dlp

// matcher is an Aho-Corasick automaton over ASCII-case-folded input: its
// transitions accept either case of a letter, so the input needs no
// lower-cased copy. Transitions are a dense table (one load per byte).
type matcher struct {
	next   [][256]int32 // state → byte → state (complete: failure links folded in)
	out    [][]int32    // state → patterns ending here (including via suffix links)
	hasOut []bool       // state → len(out[state]) > 0, checked per byte
	lens   []int        // pattern → length
}

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
	return m
}

// walk calls hit(end, pattern) for every match, end being the index just
// past it.
func (m *matcher) walk(data []byte, hit func(end int, pattern int32)) {
	s := int32(0)
	next, has := m.next, m.hasOut
	for i, c := range data {
		s = next[s][c]
		if has[s] {
			for _, p := range m.out[s] {
				hit(i+1, p)
			}
		}
	}
}
