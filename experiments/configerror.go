package experiments

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// ConfigError is an error in a configuration file. Error gives one line in
// the form compilers use:
//
//	configs/mnist.toml:14: evaluate.samples: must be ≥ 1, got 0
//	configs/mnist.toml:3:9: expected value but found '=' instead
//	configs/mnist.toml:9: unknown key "model.widht"
//
// and Detailed adds the offending lines with carets and a usage hint.
type ConfigError struct {
	File string // file name as given to Load or Parse; may be ""
	Line int    // 1-based line; 0 when unknown
	Col  int    // 1-based byte column, set for syntax errors; 0 otherwise
	// Key is the dotted path of the offending key, with array indices
	// ("detector[2].head"); "" for syntax errors and unknown keys.
	Key string
	// Unknown lists the dotted paths of unknown keys, for unknown-key errors.
	Unknown []string
	Msg     string // what is wrong and what was expected
	Usage   string // longer help with a valid example; may be ""
	Err     error  // toml's error, when it reported the problem

	src   string
	marks []mark // spans to underline in Detailed
}

type mark struct{ line, col, n int } // col 0: no caret

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if e.File == "" {
			b.WriteString("line ")
		} else {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
		if e.Col > 0 && e.Key == "" && e.Unknown == nil {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Col))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns toml's error, if any.
func (e *ConfigError) Unwrap() error { return e.Err }

// Detailed returns the error line followed, when the position is known, by
// the two lines before each offending line, that line, and carets under the
// key or value (tabs expanded so they line up), then the usage hint if any.
// Without the source text or a position it degrades to Error plus the hint.
func (e *ConfigError) Detailed() string {
	var b strings.Builder
	b.WriteString(e.Error())
	b.WriteByte('\n')
	lines := strings.Split(e.src, "\n")
	for _, m := range e.marks {
		if m.line < 1 || m.line > len(lines) {
			continue
		}
		b.WriteByte('\n')
		for l := max(1, m.line-2); l <= m.line; l++ {
			fmt.Fprintf(&b, "%7d | %s\n", l, expandTabs(strings.TrimRight(lines[l-1], "\r")))
		}
		if m.col > 0 {
			line := lines[m.line-1]
			start := min(m.col-1, len(line))
			end := min(start+max(m.n, 1), len(line))
			pad := utf8.RuneCountInString(expandTabs(line[:start]))
			n := max(utf8.RuneCountInString(line[start:end]), 1)
			fmt.Fprintf(&b, "%10s%s%s\n", "", strings.Repeat(" ", pad), strings.Repeat("^", n))
		}
	}
	if e.Usage != "" {
		b.WriteString("\nHelp:\n\n")
		for _, l := range strings.Split(strings.TrimSpace(e.Usage), "\n") {
			if l != "" {
				b.WriteString("    ")
				b.WriteString(l)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// expandTabs replaces tabs with spaces to the next multiple of 8, so carets
// line up under the text.
func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == '\t' {
			w := 8 - n%8
			b.WriteString(strings.Repeat(" ", w))
			n += w
			continue
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// unknownKey is a key that decoded into nothing, with what its table accepts.
type unknownKey struct {
	path   string   // dotted path as shown to the user
	parent string   // dotted path of the enclosing table; "" for the top level
	last   string   // the key's last component
	known  []string // keys the enclosing table accepts; nil when not known
}

func (p *parser) unknownError(keys []unknownKey) *ConfigError {
	e := &ConfigError{File: p.file, src: p.src}
	var quoted []string
	for _, k := range keys {
		e.Unknown = append(e.Unknown, k.path)
		l, ok := p.loc.find(k.path)
		if ok {
			line, col := p.loc.pos(l.keyStart)
			e.marks = append(e.marks, mark{line, col, l.keyEnd - l.keyStart})
			quoted = append(quoted, fmt.Sprintf("%q (line %d)", k.path, line))
		} else {
			quoted = append(quoted, strconv.Quote(k.path))
		}
	}
	if len(keys) == 1 {
		k := keys[0]
		e.Msg = fmt.Sprintf("unknown key %q", k.path)
		if s := suggest(k.last, k.known); s != "" {
			e.Msg += fmt.Sprintf(" (did you mean %q?)", strings.TrimPrefix(k.parent+"."+s, "."))
		}
		if len(e.marks) == 1 {
			e.Line, e.Col = e.marks[0].line, e.marks[0].col
		}
	} else {
		e.Msg = "unknown keys " + strings.Join(quoted, ", ")
	}
	var hints []string
	seen := map[string]bool{}
	for _, k := range keys {
		if k.known == nil || seen[k.parent] {
			continue
		}
		seen[k.parent] = true
		where := "[" + k.parent + "]"
		if k.parent == "" {
			where = "the top level"
		}
		hints = append(hints, fmt.Sprintf("Keys of %s: %s.", where, strings.Join(k.known, ", ")))
	}
	e.Usage = strings.Join(hints, "\n")
	return e
}

// tomlFields lists the TOML keys a struct type accepts, in field order.
func tomlFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			if f.Anonymous {
				out = append(out, tomlFields(f.Type)...)
				continue
			}
			name = strings.ToLower(f.Name) // toml matches field names case-insensitively
		}
		out = append(out, name)
	}
	return out
}

// suggest returns the known key closest to key when it is a likely typo
// (optimal-string-alignment distance ≤ 2 and less than the key's length).
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := osaDistance(key, k); d < bestD && d < utf8.RuneCountInString(key) {
			best, bestD = k, d
		}
	}
	return best
}

// osaDistance is the optimal-string-alignment edit distance: insertions,
// deletions, substitutions and transpositions of adjacent runes cost 1.
func osaDistance(a, b string) int {
	r, s := []rune(a), []rune(b)
	d := make([][]int, len(r)+1)
	for i := range d {
		d[i] = make([]int, len(s)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(r); i++ {
		for j := 1; j <= len(s); j++ {
			cost := 1
			if r[i-1] == s[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && r[i-1] == s[j-2] && r[i-2] == s[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(r)][len(s)]
}

// Where errf points: the key, or the key's value.
const (
	keyOnly = false
	atValue = true
)

// errf builds an error about the dotted key path, locating its line.
func (p *parser) errf(path string, value bool, format string, args ...any) *ConfigError {
	return newKeyError(p.file, p.src, p.loc, path, value, fmt.Sprintf(format, args...))
}

func newKeyError(file, src string, loc *locator, path string, value bool, msg string) *ConfigError {
	e := &ConfigError{File: file, Key: path, Msg: msg, src: src}
	if l, ok := loc.find(path); ok {
		start, end := l.keyStart, l.keyEnd
		if value {
			start, end = l.valStart, l.valEnd
		}
		e.Line, e.Col = loc.pos(start)
		e.marks = []mark{{e.Line, e.Col, end - start}}
	}
	return e
}

func (p *parser) usage(err error, usage string) error {
	var e *ConfigError
	if errors.As(err, &e) && usage != "" {
		e.Usage = strings.TrimSpace(usage)
	}
	return err
}

// syntaxError converts toml's ParseError (or any other error of the first,
// generic decode) into a ConfigError.
func (p *parser) syntaxError(err error) *ConfigError {
	e := &ConfigError{File: p.file, Msg: strings.TrimPrefix(err.Error(), "toml: "), Err: err, src: p.src}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		e.Line, e.Col, e.Msg = pe.Position.Line, pe.Position.Col, pe.Message
		e.marks = []mark{{pe.Position.Line, pe.Position.Col, max(pe.Position.Len, 1)}}
		e.Usage = parseErrorUsage(pe)
	}
	return e
}

// parseErrorUsage extracts toml's usage text, which ParseError only exposes
// inside ErrorWithUsage.
func parseErrorUsage(pe toml.ParseError) (usage string) {
	if pe.Usage != "" {
		return strings.TrimSpace(pe.Usage)
	}
	// toml v1.6.0's ErrorWithPosition indexes lines[Line-1] unchecked and
	// panics on the Line 0 it reports for some inputs (a BOM before an
	// unterminated string, found by FuzzParse): the help is not worth a crash.
	defer func() {
		if recover() != nil {
			usage = ""
		}
	}()
	if pe.Position.Line < 1 {
		return ""
	}
	_, help, ok := strings.Cut(pe.ErrorWithUsage(), "Error help:\n")
	if !ok {
		return ""
	}
	lines := strings.Split(strings.Trim(help, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "    ")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// decodeErrorRE matches the errors toml's decoder builds with fmt.Errorf:
// `toml: line 6 (last key "model.width"): incompatible types: ...`.
var decodeErrorRE = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)

var tableMismatchRE = regexp.MustCompile(`^type mismatch for .+: expected table but found (.+)$`)

var incompatibleRE = regexp.MustCompile(`^incompatible types: TOML value has type (.+); destination has type (.+)$`)

// decodeError converts an error of the typed decode into a ConfigError.
// rekey, when set, maps toml's key (which has no array index) to the path
// shown to the user.
func (p *parser) decodeError(err error, rekey func(string) string) *ConfigError {
	if rekey == nil {
		rekey = func(k string) string { return k }
	}
	var key, msg, usage string
	line := 0
	var pe toml.ParseError
	if errors.As(err, &pe) { // from UnmarshalText or a range check, with the key's position
		key, msg, line, usage = pe.LastKey, pe.Message, pe.Position.Line, parseErrorUsage(pe)
	} else if m := decodeErrorRE.FindStringSubmatch(err.Error()); m != nil {
		key, _ = strconv.Unquote(m[2])
		line, _ = strconv.Atoi(m[1])
		msg = m[3]
		if t := incompatibleRE.FindStringSubmatch(msg); t != nil {
			msg = fmt.Sprintf("expected %s, got %s", destTypeName(t[2]), goTypeName(t[1]))
		} else if t := tableMismatchRE.FindStringSubmatch(msg); t != nil {
			msg = "expected table, got " + goTypeName(t[1])
		}
	} else {
		e := &ConfigError{File: p.file, Msg: strings.TrimPrefix(err.Error(), "toml: "), Err: err, src: p.src}
		return e
	}
	key = rekey(key)
	e := newKeyError(p.file, p.src, p.loc, key, atValue, msg)
	e.Err = err
	e.Usage = usage
	if e.Line == 0 && line > 0 {
		e.Line = line
		e.marks = []mark{{line, 0, 0}}
	}
	if key == "detector" && strings.HasPrefix(msg, "expected array") {
		e.Usage = strings.TrimSpace(usageDetector)
	}
	return e
}

// goTypeName turns the Go type toml reports for a TOML value into the TOML
// type name.
func goTypeName(t string) string {
	switch {
	case t == "int64":
		return "integer"
	case t == "float64":
		return "float"
	case t == "bool":
		return "boolean"
	case t == "string":
		return "string"
	case strings.HasPrefix(t, "map["):
		return "table"
	case strings.HasPrefix(t, "[]"):
		return "array"
	case strings.Contains(t, "time.") || strings.Contains(t, "toml.Local"):
		return "datetime"
	}
	return t
}

// destTypeName turns toml's name for a destination kind into a TOML type name.
func destTypeName(t string) string {
	switch t {
	case "map":
		return "table"
	case "slice":
		return "array"
	case "primitive (string-like)":
		return "string"
	}
	return t
}

// tomlTypeName names the TOML type of a value decoded into any.
func tomlTypeName(v any) string { return goTypeName(fmt.Sprintf("%T", v)) }

const usageRef = `
A set is named by a key of [datasets] and, for datasets with splits, a split:

    [evaluate]
    in_dist = "mnist:test"
    anomalies = ["fashion-mnist:test", "uniform"]
`

const usageFolds = `
Supervised detectors are cross-validated: each fold is scored by a detector
trained on the other folds, so at least 2 folds are needed. The paper uses 5:

    [evaluate]
    folds = 5
`

const usageTrain = `
Either load trained weights (a safetensors file with PyTorch state_dict
names; scripts/pth2safetensors.py converts a .pth):

    [model]
    weights = "lenet5.safetensors"

or train the model (and cache it):

    [train]
    dataset = "mnist"
    epochs = 3
`

const usageDataset = `
Each dataset is a table under [datasets] with a kind and the kind's own keys
(purview list datasets shows the kinds):

    [datasets.gaussian]
    kind = "gaussian-noise"
    std = 0.25
`

const usageDetector = `
Each detector is a [[detector]] table (two brackets) with a type and the
type's own keys (purview list detectors shows the types):

    [[detector]]
    type = "energy"
    temperature = 1.0
`

const usageAttack = `
Each attack is an [[attack]] table (two brackets) with a type or preset and
its own keys (purview list attacks shows them):

    [evaluate]
    protocol = "adversarial"

    [[attack]]
    type = "fgsm"
    eps = 0.3
`
