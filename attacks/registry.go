package attacks

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// Decoder decodes an attack's TOML table into its parameter struct, strictly:
// a key that matches no field is an error naming the key. A nil Decoder
// stands for an empty table (every parameter keeps its default).
type Decoder interface{ Decode(v any) error }

// Factory builds an attack from its parameter table.
type Factory func(params Decoder) (Attack, error)

type entry struct {
	doc string
	f   Factory
}

var registry = struct {
	sync.RWMutex
	m map[string]entry
}{m: map[string]entry{}}

// Register makes an attack available to New under name, with a one-line
// description for `purview list`. It is meant to be called from an init
// function; it panics if name is empty, f is nil, or name is already taken by
// an attack or a preset (programmer errors).
func Register(name, doc string, f Factory) {
	if name == "" || f == nil {
		panic("attacks: Register with empty name or nil factory")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[name]; dup {
		panic("attacks: Register called twice for " + name)
	}
	if _, dup := presetByName(name); dup {
		panic("attacks: Register: " + name + " is already a preset")
	}
	registry.m[name] = entry{doc, f}
}

// New builds the attack called name from its parameter table (nil = all
// defaults). name is a registered attack ("fgsm", "pgd", …) or a preset
// ("fgsm-kdbu-mnist", …); a preset's parameters are applied first and params
// may override them, and the attack is then named after the preset. An
// unknown name is an error listing the known ones.
func New(name string, params Decoder) (Attack, error) {
	registry.RLock()
	e, ok := registry.m[name]
	registry.RUnlock()
	if ok {
		return e.f(params)
	}
	if p, ok := presetByName(name); ok {
		registry.RLock()
		e, ok := registry.m[p.Attack]
		registry.RUnlock()
		if !ok {
			panic("attacks: preset " + p.Name + " names unregistered attack " + p.Attack)
		}
		a, err := e.f(chain{p.Params, params})
		if err != nil {
			return nil, fmt.Errorf("attacks: preset %s: %w", p.Name, err)
		}
		return named{a, p.Name}, nil
	}
	return nil, fmt.Errorf("attacks: unknown attack %q (attacks: %s; presets: %s)", name, strings.Join(Names(), ", "), strings.Join(PresetNames(), ", "))
}

// Names returns the registered attacks, sorted.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	ns := make([]string, 0, len(registry.m))
	for k := range registry.m {
		ns = append(ns, k)
	}
	slices.Sort(ns)
	return ns
}

// Doc returns the one-line description of an attack or preset, or "" if
// name is unknown.
func Doc(name string) string {
	registry.RLock()
	e, ok := registry.m[name]
	registry.RUnlock()
	if ok {
		return e.doc
	}
	if p, ok := presetByName(name); ok {
		return p.Doc()
	}
	return ""
}

// decodeParams decodes params into v unless params is nil, prefixing errors
// with the attack's name.
func decodeParams(name string, params Decoder, v any) error {
	if isNil(params) {
		return nil
	}
	if err := params.Decode(v); err != nil {
		return fmt.Errorf("attacks: %s params: %w", name, err)
	}
	return nil
}

// named gives an attack a preset's name.
type named struct {
	Attack
	name string
}

func (a named) Name() string { return a.name }

func (a named) Validate() error {
	if v, ok := a.Attack.(validator); ok {
		return v.Validate()
	}
	return nil
}

// chain decodes with each non-nil decoder in turn, so later tables override
// earlier ones.
type chain []Decoder

func (c chain) Decode(v any) error {
	for _, d := range c {
		if isNil(d) {
			continue
		}
		if err := d.Decode(v); err != nil {
			return err
		}
	}
	return nil
}

// isNil reports whether d is nil or a nil pointer (a missing table passed as
// a typed pointer).
func isNil(d Decoder) bool {
	if d == nil {
		return true
	}
	v := reflect.ValueOf(d)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// Params is a parameter table held in memory (for presets, tests and
// programs that build attacks without a TOML file). Its Decode is as strict
// as the experiment's: values must have the field's type (an integer may
// fill a float field) and a key that matches no field is an error.
type Params map[string]any

// Decode decodes p into v, a pointer to a struct with toml tags.
func (p Params) Decode(v any) error {
	if len(p) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(map[string]any(p)); err != nil {
		return fmt.Errorf("encoding params: %w", err)
	}
	md, err := toml.Decode(buf.String(), v)
	if err != nil {
		return err
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = fmt.Sprintf("%q", k.String())
		}
		return fmt.Errorf("unknown key %s", strings.Join(keys, ", "))
	}
	return nil
}
