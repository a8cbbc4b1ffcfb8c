package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestKeyGolden pins the documented encoding: the expected sums were
// computed outside Go, e.g.
//
//	printf 'purview-cache-key v1\x00\x05model\x10{"arch":"lenet"}\x02v1\x02\x04data\x02cd\x05train\x02ab' | sha256sum
func TestKeyGolden(t *testing.T) {
	for _, c := range []struct {
		name   string
		key    Key
		want   string
		config string // want KeyInfo.ConfigSHA256 (printf '%s' config | sha256sum)
	}{
		{"inputs sorted by name", NewKey("model", []byte(`{"arch":"lenet"}`), "v1", Input{"train", "ab"}, Input{"data", "cd"}),
			"43235dc8c5489f9b016e7c5d8e48f3db1eac909451dcb7eb024bee91e904dd33",
			"7b9a138b23626134154bcf9d392d1f28953be84d6949ff58163428d5c0bd7078"},
		{"empty config, code and inputs", NewKey("scores", nil, ""),
			"c0e86d51ad39389cb149e5272b145e47dcd6fb9e8319ddb446bd8f9dc3a63f82",
			"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, // SHA-256 of ""
	} {
		if got := c.key.String(); got != c.want {
			t.Errorf("%s: key %s, want %s", c.name, got, c.want)
		}
		if got := c.key.Info().ConfigSHA256; got != c.config {
			t.Errorf("%s: config sha256 %s, want %s", c.name, got, c.config)
		}
	}
}

// TestKeyEncodingByHand rebuilds the encoding from its documented definition
// for a config longer than 127 bytes (a two-byte uvarint length).
func TestKeyEncodingByHand(t *testing.T) {
	cfg := strings.Repeat("x", 200) // uvarint(200) = 0xc8 0x01
	enc := "purview-cache-key v1\x00" + "\x09corrupted" + "\xc8\x01" + cfg + "\x02c2" + "\x01" + "\x03set" + "\x04beef"
	want := sha256.Sum256([]byte(enc))
	got := NewKey("corrupted", []byte(cfg), "c2", Input{"set", "beef"})
	if got.String() != hex.EncodeToString(want[:]) {
		t.Errorf("key %s, want %x", got, want)
	}
}

func TestKeyDistinct(t *testing.T) {
	base := func() Key { return NewKey("model", []byte("cfg"), "v1", Input{"a", "1"}, Input{"b", "2"}) }
	same := []Key{
		NewKey("model", []byte("cfg"), "v1", Input{"b", "2"}, Input{"a", "1"}), // input order is irrelevant
	}
	for _, k := range same {
		if k.String() != base().String() {
			t.Errorf("key %s differs from base %s", k, base())
		}
	}
	different := map[string]Key{
		"kind":          NewKey("scores", []byte("cfg"), "v1", Input{"a", "1"}, Input{"b", "2"}),
		"config":        NewKey("model", []byte("cfg "), "v1", Input{"a", "1"}, Input{"b", "2"}),
		"code":          NewKey("model", []byte("cfg"), "v2", Input{"a", "1"}, Input{"b", "2"}),
		"input sum":     NewKey("model", []byte("cfg"), "v1", Input{"a", "1"}, Input{"b", "3"}),
		"input name":    NewKey("model", []byte("cfg"), "v1", Input{"a", "1"}, Input{"c", "2"}),
		"fewer inputs":  NewKey("model", []byte("cfg"), "v1", Input{"a", "1"}),
		"sum moved":     NewKey("model", []byte("cfg"), "v1", Input{"a", ""}, Input{"b", "12"}),
		"config ↔ code": NewKey("model", []byte("cfgv"), "1", Input{"a", "1"}, Input{"b", "2"}),
	}
	seen := map[string]string{base().String(): "base"}
	for name, k := range different {
		if prev, ok := seen[k.String()]; ok {
			t.Errorf("%s: key %s equals that of %s", name, k, prev)
		}
		seen[k.String()] = name
	}
}

func TestKeyAccessors(t *testing.T) {
	k := NewKey(KindAdversarial, []byte("eps = 0.3\n"), "attacks v1", Input{"model", "ff"})
	if k.Kind() != "adversarial" || len(k.String()) != 64 || k.Short() != k.String()[:12] || k.IsZero() {
		t.Errorf("kind %q, key %q, short %q, zero %v", k.Kind(), k, k.Short(), k.IsZero())
	}
	info := k.Info()
	if info.Config != "eps = 0.3\n" || info.Code != "attacks v1" || len(info.Inputs) != 1 || info.Inputs[0] != (Input{"model", "ff"}) {
		t.Errorf("info %+v", info)
	}
	info.Inputs[0].Name = "changed"
	if k.Info().Inputs[0].Name != "model" {
		t.Error("Info shares its Inputs slice with the key")
	}
	if !(Key{}).IsZero() {
		t.Error("zero Key is not IsZero")
	}
	// Long or binary configs are summarised by their checksum only.
	if c := NewKey("model", make([]byte, maxConfigText+1), "").Info().Config; c != "" {
		t.Errorf("long config quoted (%d bytes)", len(c))
	}
	if c := NewKey("model", []byte{0xff, 0xfe}, "").Info().Config; c != "" {
		t.Errorf("binary config quoted: %q", c)
	}
}

func TestNewKeyBadKind(t *testing.T) {
	for _, kind := range []string{"", "Model", "../x", ".tmp", "a/b", strings.Repeat("a", 65)} {
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Errorf("NewKey(%q) did not panic", kind)
				} else if s, _ := r.(string); !strings.HasPrefix(s, "cache: NewKey: kind") {
					t.Errorf("NewKey(%q) panicked with %v", kind, r)
				}
			}()
			NewKey(kind, nil, "")
		}()
	}
}
