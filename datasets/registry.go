package datasets

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Decoder decodes the dataset's TOML table into a params struct, strictly
// (unknown key = error). A nil Decoder stands for an empty table: every
// parameter keeps its default.
type Decoder interface{ Decode(v any) error }

// Request says what the experiment wants from a source.
type Request struct {
	Split   string // one of Source.Splits(); ignored by sources without splits
	C, H, W int    // the model's input shape, for generated sets
	Seed    uint64 // the experiment's seed, for generated sets without their own
}

// Source is a named dataset, configured from its TOML table.
type Source interface {
	Kind() string
	// Splits lists the splits Load accepts, e.g. ["train", "test"]; empty
	// for generated sets, which have no split.
	Splits() []string
	// Load reads or generates the set. Set.Name defaults to the kind (plus
	// ":split" for split sources); callers may overwrite it.
	Load(req Request) (*Set, error)
	// Where tells where the files are or would be, and whether they were
	// found; generated sets return ("generated", true).
	Where() (path string, found bool)
}

// Factory builds a source from its params table.
type Factory func(params Decoder) (Source, error)

type kindEntry struct {
	doc string
	f   Factory
}

var registry = struct {
	sync.RWMutex
	m map[string]kindEntry
}{m: map[string]kindEntry{}}

// Register makes a dataset kind available to New. It is meant to be called from
// an init function; it panics if kind is empty, f is nil or kind is already
// registered (programmer errors).
func Register(kind, doc string, f Factory) {
	if kind == "" || f == nil {
		panic("datasets: Register with empty kind or nil factory")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[kind]; dup {
		panic("datasets: Register called twice for kind " + kind)
	}
	registry.m[kind] = kindEntry{doc, f}
}

// New builds a source of the given kind from its params table (nil = all
// defaults). An unknown kind gives an error that lists the known ones.
func New(kind string, params Decoder) (Source, error) {
	registry.RLock()
	e, ok := registry.m[kind]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("datasets: unknown dataset kind %q (known: %s)", kind, strings.Join(Kinds(), ", "))
	}
	return e.f(params)
}

// Kinds returns the registered kinds, sorted.
func Kinds() []string {
	registry.RLock()
	defer registry.RUnlock()
	ks := make([]string, 0, len(registry.m))
	for k := range registry.m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Doc returns the one-paragraph description of kind (what it is, its splits
// and params), or "" if kind is unknown.
func Doc(kind string) string {
	registry.RLock()
	defer registry.RUnlock()
	return registry.m[kind].doc
}

// decodeParams decodes params into v unless params is nil, prefixing errors
// with the kind.
func decodeParams(kind string, params Decoder, v any) error {
	if params == nil {
		return nil
	}
	if err := params.Decode(v); err != nil {
		return fmt.Errorf("datasets: %s params: %w", kind, err)
	}
	return nil
}
