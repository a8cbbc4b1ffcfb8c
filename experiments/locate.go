package experiments

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// keyPart returns one key component as toml's Key.String writes it: bare when
// it holds only A-Z a-z 0-9 _ -, quoted otherwise.
func keyPart(s string) string {
	return toml.Key{s}.String()
}

// locator finds the position of dotted keys in TOML text by scanning it:
// table headers [a.b], arrays of tables [[a]] (the n-th one is "a[n]", from
// 0; the first is also "a"), `key = value` lines (dotted keys too), the keys
// of inline tables and the elements of arrays ("evaluate.anomalies[1]"). It is
// a forgiving scanner, good enough for files people write; a path it cannot
// find just has no line.
type locator struct {
	src        string
	locs       map[string]keyLoc
	lineStarts []int
}

// keyLoc holds byte offsets: the key (or header name, or array element) and
// the first line of its value (for headers and elements, the same span).
type keyLoc struct {
	keyStart, keyEnd int
	valStart, valEnd int
}

func newLocator(src string) *locator {
	l := &locator{src: src, locs: map[string]keyLoc{}, lineStarts: []int{0}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			l.lineStarts = append(l.lineStarts, i+1)
		}
	}
	s := &scanner{src: src, locs: l.locs, arrays: map[string]int{}}
	s.run()
	return l
}

// find returns the location of a dotted path (components quoted as keyPart
// does, array indices as "[n]").
func (l *locator) find(path string) (keyLoc, bool) {
	k, ok := l.locs[path]
	return k, ok
}

// pos converts a byte offset to a 1-based line and byte column.
func (l *locator) pos(off int) (line, col int) {
	i, found := slices.BinarySearch(l.lineStarts, off)
	if !found {
		i--
	}
	return i + 1, off - l.lineStarts[i] + 1
}

// childOrder returns the keys of the table at path in file order; keys it
// cannot locate follow, sorted.
func (l *locator) childOrder(path string, m map[string]any) []string {
	keys := slices.Sorted(maps.Keys(m))
	off := func(k string) int {
		if kl, ok := l.find(path + "." + keyPart(k)); ok {
			return kl.keyStart
		}
		return math.MaxInt
	}
	slices.SortStableFunc(keys, func(a, b string) int { return off(a) - off(b) })
	return keys
}

type scanner struct {
	src    string
	i      int
	locs   map[string]keyLoc
	arrays map[string]int // [[x]] headers seen per resolved path
}

func (s *scanner) run() {
	table := ""
	for s.i < len(s.src) {
		s.skipBlank()
		if s.i >= len(s.src) {
			break
		}
		switch s.src[s.i] {
		case '\n':
			s.i++
			continue
		case '#':
		case '[':
			if t, ok := s.header(); ok {
				table = t
			}
		default:
			s.keyValue(table)
		}
		s.skipLine()
	}
}

func (s *scanner) record(path string, l keyLoc) {
	if _, dup := s.locs[path]; !dup {
		s.locs[path] = l
	}
}

func (s *scanner) skipBlank() {
	for s.i < len(s.src) && (s.src[s.i] == ' ' || s.src[s.i] == '\t' || s.src[s.i] == '\r') {
		s.i++
	}
}

// skipSpace skips blanks, newlines and comments (inside arrays and inline tables).
func (s *scanner) skipSpace() {
	for s.i < len(s.src) {
		switch s.src[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

func (s *scanner) skipLine() {
	if j := strings.IndexByte(s.src[s.i:], '\n'); j >= 0 {
		s.i += j + 1
	} else {
		s.i = len(s.src)
	}
}

func join(prefix, part string) string {
	if prefix == "" {
		return part
	}
	return prefix + "." + part
}

// header scans [a.b] or [[a.b]] and returns the resolved table path.
func (s *scanner) header() (string, bool) {
	isArray := strings.HasPrefix(s.src[s.i:], "[[")
	if isArray {
		s.i += 2
	} else {
		s.i++
	}
	s.skipBlank()
	start := s.i
	parts, ok := s.key()
	if !ok {
		return "", false
	}
	end := s.i
	path := ""
	for _, p := range parts[:len(parts)-1] {
		path = join(path, p)
		if n, ok := s.arrays[path]; ok {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	path = join(path, parts[len(parts)-1])
	l := keyLoc{start, end, start, end}
	if isArray {
		n := s.arrays[path]
		s.arrays[path] = n + 1
		s.record(path, l)
		path += "[" + strconv.Itoa(n) + "]"
	}
	s.record(path, l)
	return path, true
}

// keyValue scans `key = value` in table and records the key and its value.
// It reports false when no key starts at the current position; a key without
// '=' is skipped.
func (s *scanner) keyValue(table string) bool {
	start := s.i
	parts, ok := s.key()
	if !ok {
		return false
	}
	end := s.i
	s.skipBlank()
	if s.i >= len(s.src) || s.src[s.i] != '=' {
		return true
	}
	s.i++
	s.skipBlank()
	path := table
	for _, p := range parts {
		path = join(path, p)
	}
	vs := s.i
	s.value(path)
	s.record(path, keyLoc{start, end, vs, s.valueEnd(vs)})
	return true
}

// valueEnd returns the end of the first line of the value starting at vs,
// without trailing blanks.
func (s *scanner) valueEnd(vs int) int {
	ve := max(s.i, vs)
	if j := strings.IndexByte(s.src[vs:ve], '\n'); j >= 0 {
		ve = vs + j
	}
	return vs + len(strings.TrimRight(s.src[vs:ve], " \t\r"))
}

// key scans a possibly dotted key and returns its components as keyPart
// writes them.
func (s *scanner) key() ([]string, bool) {
	var parts []string
	for {
		s.skipBlank()
		if s.i >= len(s.src) {
			return nil, false
		}
		var part string
		switch c := s.src[s.i]; {
		case c == '"':
			raw, ok := s.quoted('"')
			if !ok {
				return nil, false
			}
			u, err := strconv.Unquote(raw)
			if err != nil {
				u = raw[1 : len(raw)-1]
			}
			part = keyPart(u)
		case c == '\'':
			raw, ok := s.quoted('\'')
			if !ok {
				return nil, false
			}
			part = keyPart(raw[1 : len(raw)-1])
		default:
			j := s.i
			for j < len(s.src) && isBare(s.src[j]) {
				j++
			}
			if j == s.i {
				return nil, false
			}
			part = s.src[s.i:j]
			s.i = j
		}
		parts = append(parts, part)
		end := s.i
		s.skipBlank()
		if s.i < len(s.src) && s.src[s.i] == '.' {
			s.i++
			continue
		}
		s.i = end
		return parts, true
	}
}

func isBare(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// quoted scans a one-line string delimited by q and returns it with its quotes.
func (s *scanner) quoted(q byte) (string, bool) {
	start := s.i
	for j := s.i + 1; j < len(s.src) && s.src[j] != '\n'; j++ {
		if q == '"' && s.src[j] == '\\' {
			j++
			continue
		}
		if s.src[j] == q {
			s.i = j + 1
			return s.src[start:s.i], true
		}
	}
	return "", false
}

// value skips one value, recording array elements and inline-table keys.
func (s *scanner) value(path string) {
	if s.i >= len(s.src) {
		return
	}
	switch c := s.src[s.i]; c {
	case '"', '\'':
		delim := strings.Repeat(string(c), 3)
		if strings.HasPrefix(s.src[s.i:], delim) {
			j := s.i + 3
			for j < len(s.src) && !strings.HasPrefix(s.src[j:], delim) {
				if c == '"' && s.src[j] == '\\' {
					j++
				}
				j++
			}
			s.i = min(j+3, len(s.src))
			for s.i < len(s.src) && s.src[s.i] == c { // up to two quotes may end the content
				s.i++
			}
			return
		}
		if _, ok := s.quoted(c); !ok {
			s.i++ // unterminated: toml reported it; move on
		}
	case '[':
		s.i++
		for n := 0; ; {
			s.skipSpace()
			if s.i >= len(s.src) {
				return
			}
			switch s.src[s.i] {
			case ']':
				s.i++
				return
			case ',':
				s.i++
				continue
			}
			start := s.i
			elem := path + "[" + strconv.Itoa(n) + "]"
			s.value(elem)
			if s.i == start {
				s.i++ // not a value: avoid looping forever
				continue
			}
			s.record(elem, keyLoc{start, s.valueEnd(start), start, s.valueEnd(start)})
			n++
		}
	case '{':
		s.i++
		for {
			s.skipSpace()
			if s.i >= len(s.src) {
				return
			}
			switch s.src[s.i] {
			case '}':
				s.i++
				return
			case ',':
				s.i++
				continue
			}
			if start := s.i; !s.keyValue(path) {
				s.i = max(s.i, start+1)
			}
		}
	default:
		for s.i < len(s.src) && !strings.ContainsRune(" \t\r\n,]}#", rune(s.src[s.i])) {
			s.i++
		}
	}
}
