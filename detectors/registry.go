package detectors

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Decoder decodes a detector's TOML table into a parameter struct. It is strict:
// a key of the table that matches no field of v is an error naming the key. The
// keys "type" and "name" belong to the experiment and are never passed on.
type Decoder interface {
	Decode(v any) error
}

// Env is what a detector may need to know when it is built.
type Env struct {
	Classes int // number of classes C of the model
}

// Factory builds a detector from its configuration table.
type Factory func(env Env, params Decoder) (Detector, error)

var (
	regMu    sync.RWMutex
	registry = map[string]registered{}
)

type registered struct {
	factory Factory
	doc     string
}

// Register makes a detector type available under typ, with a one-line
// description for `purview list`. It panics if typ is registered twice: that is a
// programming error, found at start-up.
func Register(typ, doc string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[typ]; dup {
		panic("detectors: Register called twice for " + typ)
	}
	registry[typ] = registered{f, doc}
}

// New builds a detector of type typ. An unknown type is an error listing the known ones.
func New(typ string, env Env, params Decoder) (Detector, error) {
	regMu.RLock()
	r, ok := registry[typ]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("detectors: unknown detector type %q (known: %s)", typ, strings.Join(Types(), ", "))
	}
	return r.factory(env, params)
}

// Types returns the registered detector types, sorted.
func Types() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Doc returns the one-line description registered with typ.
func Doc(typ string) string {
	regMu.RLock()
	defer regMu.RUnlock()
	return registry[typ].doc
}
