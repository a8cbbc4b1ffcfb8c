package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// The kinds of entry the harness stores. Any name matching [a-z0-9][a-z0-9_-]*
// (at most 64 bytes) is a valid kind; these are the ones experiments uses.
const (
	KindModel       = "model"       // trained weights and their training log
	KindAdversarial = "adversarial" // an attacked copy of a data set
	KindCorrupted   = "corrupted"   // a corrupted copy of a data set
	KindScores      = "scores"      // a block of per-sample detector scores
)

var kindRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// keyDomain starts every key encoding, so a key can never collide with a
// SHA-256 computed elsewhere over the same bytes, and a change of encoding
// (bump the version) changes every key.
const keyDomain = "purview-cache-key v1\x00"

// maxConfigText is the longest config section a manifest quotes verbatim;
// longer ones are summarised by their SHA-256 alone.
const maxConfigText = 16 << 10

// Input is one input of a cached computation: a name (e.g. "train-set",
// "model") and the checksum of its content (e.g. a data set fingerprint or
// another entry's key). Checksums are compared as strings; use lower-case hex.
type Input struct {
	Name     string `json:"name"`
	Checksum string `json:"checksum"`
}

// Key identifies an entry: the SHA-256 of a canonical encoding of what
// produced it. The zero Key is invalid; make keys with NewKey.
type Key struct {
	kind string
	sum  [sha256.Size]byte
	info KeyInfo
}

// KeyInfo is the human-readable summary of a key's inputs, recorded in every
// entry's manifest so `cache ls` can say where an entry came from.
type KeyInfo struct {
	ConfigSHA256 string  `json:"config_sha256"`
	Config       string  `json:"config,omitempty"` // the config bytes, when valid UTF-8 of at most 16 KiB
	Code         string  `json:"code"`
	Inputs       []Input `json:"inputs"` // sorted by name, then checksum
}

// NewKey returns the key of an entry of the given kind produced by the config
// section config (its canonical bytes: the caller must encode equal configs to
// equal bytes, e.g. JSON of a struct with fixed field order), from inputs,
// by code version code (a string that changes whenever the same config and
// inputs would give different output).
//
// The key is SHA-256 over
//
//	"purview-cache-key v1\x00" ‖ f(kind) ‖ f(config) ‖ f(code) ‖ uvarint(len(inputs)) ‖ f(name₁) ‖ f(checksum₁) ‖ …
//
// with f(b) = uvarint(len(b)) ‖ b and inputs sorted by (name, checksum), so
// the order inputs are given in does not matter and no two different field
// lists share an encoding. NewKey panics if kind is not a valid kind name
// (a programmer error: kinds are constants).
func NewKey(kind string, config []byte, code string, inputs ...Input) Key {
	if !kindRE.MatchString(kind) {
		panic(fmt.Sprintf("cache: NewKey: kind %q is not a valid kind name ([a-z0-9][a-z0-9_-]*, at most 64 bytes)", kind))
	}
	in := slices.Clone(inputs)
	slices.SortFunc(in, func(a, b Input) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Checksum, b.Checksum)
	})
	h := sha256.New()
	h.Write([]byte(keyDomain))
	field := func(b []byte) {
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	field([]byte(kind))
	field(config)
	field([]byte(code))
	h.Write(binary.AppendUvarint(nil, uint64(len(in))))
	for _, x := range in {
		field([]byte(x.Name))
		field([]byte(x.Checksum))
	}
	k := Key{kind: kind}
	h.Sum(k.sum[:0])
	cs := sha256.Sum256(config)
	k.info = KeyInfo{ConfigSHA256: hex.EncodeToString(cs[:]), Code: code, Inputs: in}
	if len(config) <= maxConfigText && utf8.Valid(config) {
		k.info.Config = string(config)
	}
	if k.info.Inputs == nil {
		k.info.Inputs = []Input{}
	}
	return k
}

// String returns the key as 64 lower-case hex digits.
func (k Key) String() string { return hex.EncodeToString(k.sum[:]) }

// Short returns the first 12 hex digits, for log lines.
func (k Key) Short() string { return k.String()[:12] }

// Kind returns the kind the key was made for.
func (k Key) Kind() string { return k.kind }

// IsZero reports whether k is the zero Key (not made by NewKey).
func (k Key) IsZero() bool { return k.kind == "" }

// Info returns the summary of the key's inputs.
func (k Key) Info() KeyInfo {
	i := k.info
	i.Inputs = slices.Clone(i.Inputs)
	return i
}
