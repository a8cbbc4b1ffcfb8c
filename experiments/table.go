package experiments

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
)

// TableDecoder decodes one [datasets.KEY] or [[detector]] table into the
// parameter struct of its dataset kind or detector type. It satisfies
// detectors.Decoder and datasets.Decoder. It is safe for concurrent use.
type TableDecoder struct {
	file, src string
	loc       *locator
	path      string // as shown to the user: "detector[2]", "datasets.gaussian"
	top       string // top-level key holding the table: "detector" or "datasets"
	name      string // the table's key under top (for [datasets.KEY])
	index     int    // the table's index (for [[detector]]); -1 otherwise
	raw       map[string]any
	reserved  []string // keys owned by the experiment: "kind"; "type", "name"
	owner     string   // for hints: `Detector type "energy"`, `Dataset kind "mnist"`

	mu   sync.Mutex
	used bool
}

// Decode decodes the table into v (a pointer, usually to a struct), as
// toml.Decode would, then reports every key of the table that v did not take,
// other than the reserved ones ("kind" of a dataset; "type" and "name" of a
// detector), as an error naming its dotted path, e.g.
// `configs/mnist.toml:31: unknown key "detector[2].heda" (did you mean "detector[2].head"?)`.
// Keys of nested tables decoded into an `any` or a map[string]any count as
// unknown; give them a typed field.
func (d *TableDecoder) Decode(v any) error {
	d.mu.Lock()
	d.used = true
	d.mu.Unlock()

	// A fresh decode of the whole file per call: MetaData records decoded
	// keys by path without the array index, so sharing one between the
	// [[detector]] tables would let one table's keys mask another's.
	var top map[string]toml.Primitive
	md, err := toml.Decode(d.src, &top)
	if err != nil {
		return fmt.Errorf("experiments: %s: re-parsing the configuration: %w", d.path, err) // Parse succeeded on the same text
	}
	var prim toml.Primitive
	if d.index >= 0 {
		var arr []toml.Primitive
		err = md.PrimitiveDecode(top[d.top], &arr)
		if err == nil && d.index < len(arr) {
			prim = arr[d.index]
		}
	} else {
		var m map[string]toml.Primitive
		err = md.PrimitiveDecode(top[d.top], &m)
		prim = m[d.name]
	}
	if err != nil {
		return fmt.Errorf("experiments: %s: re-decoding the configuration: %w", d.path, err)
	}
	p := &parser{file: d.file, src: d.src, loc: d.loc}
	if err := md.PrimitiveDecode(prim, v); err != nil {
		return p.decodeError(err, d.rekey)
	}

	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	known := append(tomlFields(reflect.TypeOf(v)), d.reserved...)
	var unknown []unknownKey
	var walk func(prefix toml.Key, path string, m map[string]any, top bool)
	walk = func(prefix toml.Key, path string, m map[string]any, top bool) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if top && slices.Contains(d.reserved, k) {
				continue
			}
			key := append(slices.Clone(prefix), k)
			sub := path + "." + keyPart(k)
			if undecoded[key.String()] {
				u := unknownKey{path: sub, parent: path, last: k}
				if top {
					u.known = known
				}
				unknown = append(unknown, u)
				continue // its children are unknown too; report the outermost
			}
			switch x := m[k].(type) {
			case map[string]any:
				walk(key, sub, x, false)
			case []map[string]any:
				for i, e := range x {
					walk(key, fmt.Sprintf("%s[%d]", sub, i), e, false)
				}
			}
		}
	}
	prefix := toml.Key{d.top}
	if d.index < 0 {
		prefix = append(prefix, d.name)
	}
	walk(prefix, d.path, d.raw, true)
	if len(unknown) == 0 {
		return nil
	}
	slices.SortStableFunc(unknown, func(a, b unknownKey) int {
		la, oka := d.loc.find(a.path)
		lb, okb := d.loc.find(b.path)
		switch {
		case oka && okb:
			return la.keyStart - lb.keyStart
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	e := p.unknownError(unknown)
	e.Usage = fmt.Sprintf("%s takes: %s (besides %s).", d.owner, strings.Join(tomlFields(reflect.TypeOf(v)), ", "), strings.Join(d.reserved, " and "))
	return e
}

// rekey maps toml's key "detector.head" to this table's "detector[2].head".
func (d *TableDecoder) rekey(k string) string {
	if d.index < 0 {
		return k
	}
	if rest, ok := strings.CutPrefix(k, d.top+"."); ok {
		return d.path + "." + rest
	}
	if k == d.top {
		return d.path
	}
	return k
}

// Path returns the table's dotted path as errors show it: "detector[2]" or
// "datasets.gaussian".
func (d *TableDecoder) Path() string { return d.path }

// Keys returns the table's keys other than the reserved ones, sorted.
func (d *TableDecoder) Keys() []string {
	var out []string
	for k := range d.raw {
		if !slices.Contains(d.reserved, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// CheckUsed returns an error naming the table's keys when Decode was never
// called but the table has keys besides the reserved ones, so a factory that
// ignores its parameters cannot silently drop `temperature = 2`. Call it after
// the detector or dataset is built.
func (d *TableDecoder) CheckUsed() error {
	d.mu.Lock()
	used := d.used
	d.mu.Unlock()
	keys := d.Keys()
	if used || len(keys) == 0 {
		return nil
	}
	var u []unknownKey
	for _, k := range keys {
		u = append(u, unknownKey{path: d.path + "." + keyPart(k), parent: d.path, last: k})
	}
	p := &parser{file: d.file, src: d.src, loc: d.loc}
	e := p.unknownError(u)
	e.Usage = fmt.Sprintf("%s takes no parameters (besides %s).", d.owner, strings.Join(d.reserved, " and "))
	return e
}

// Errorf returns a ConfigError about key (dotted, relative to the table, e.g.
// "head") of this table, located at the key's value: for parameter values a
// factory rejects after decoding, e.g.
// `configs/mnist.toml:33: detector[2].head: unknown head "lgoreg" (known: ...)`.
func (d *TableDecoder) Errorf(key, format string, args ...any) error {
	return newKeyError(d.file, d.src, d.loc, d.path+"."+key, atValue, fmt.Sprintf(format, args...))
}

// WrapError places an error of the table's dataset kind or detector type
// (from its factory) in the file: it returns err unchanged when it already
// holds a *ConfigError, else a ConfigError at the table's header, e.g.
// `configs/mnist.toml:49: detector[2]: detectors: purview: unknown head "x"`.
// It returns nil for a nil err.
func (d *TableDecoder) WrapError(err error) error {
	var ce *ConfigError
	if err == nil || errors.As(err, &ce) {
		return err
	}
	e := newKeyError(d.file, d.src, d.loc, d.path, keyOnly, err.Error())
	e.Err = err
	return e
}

// MarshalJSON encodes the table's keys other than the reserved ones, for
// Hash: maps sorted by key, floats in shortest form, non-finite floats as the
// strings "NaN", "+Inf", "-Inf" (which JSON cannot hold as numbers).
func (d *TableDecoder) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for _, k := range d.Keys() {
		m[k] = jsonSafe(d.raw[k])
	}
	return json.Marshal(m)
}

func jsonSafe(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonSafe(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e)
		}
		return out
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return v
}
