package corruptions

import "bytes"

// scratch recycles the temporary planes of one worker so that corrupting an
// image allocates (almost) nothing after warm-up. It is not safe for
// concurrent use: every worker owns one.
type scratch struct {
	free [][]float32
	jpg  bytes.Buffer
}

// get returns a slice of length n with undefined contents.
func (s *scratch) get(n int) []float32 {
	for i := len(s.free) - 1; i >= 0; i-- {
		if cap(s.free[i]) >= n {
			b := s.free[i][:n]
			s.free[i] = s.free[len(s.free)-1]
			s.free = s.free[:len(s.free)-1]
			return b
		}
	}
	return make([]float32, n, n+n/4+16)
}

// getZero returns a zeroed slice of length n.
func (s *scratch) getZero(n int) []float32 {
	b := s.get(n)
	clear(b)
	return b
}

// put hands b back for reuse.
func (s *scratch) put(b []float32) {
	if cap(b) > 0 {
		s.free = append(s.free, b[:0])
	}
}
