package detectors

import (
	"slices"
	"strings"
	"testing"
)

var builtin = []string{"energy", "gradnorm", "maxlogit", "msp", "purview"}

func TestRegistry(t *testing.T) {
	types := Types()
	for _, typ := range builtin {
		if !slices.Contains(types, typ) {
			t.Errorf("%q not registered (have %v)", typ, types)
		}
		if Doc(typ) == "" {
			t.Errorf("%q has no description", typ)
		}
		// Every detector builds with no parameter table and with an empty one.
		for _, params := range []Decoder{nil, tomlDecoder("")} {
			if _, err := New(typ, Env{Classes: 10}, params); err != nil {
				t.Errorf("New(%q, %v): %v", typ, params, err)
			}
		}
		// Unknown keys are rejected, naming the key.
		if _, err := New(typ, Env{Classes: 10}, tomlDecoder("bogus = 1")); err == nil || !strings.Contains(err.Error(), "bogus") ||
			!strings.HasPrefix(err.Error(), "detectors: "+typ+": ") {
			t.Errorf("New(%q) with an unknown key: error = %v", typ, err)
		}
	}
	_, err := New("no-such-detector", Env{Classes: 10}, nil)
	if err == nil || !strings.Contains(err.Error(), `"no-such-detector"`) {
		t.Fatalf("unknown type: error = %v", err)
	}
	for _, typ := range builtin {
		if !strings.Contains(err.Error(), typ) {
			t.Errorf("unknown type: error %q does not list %q", err, typ)
		}
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("registering msp twice did not panic")
		}
	}()
	Register("msp", "again", newMSP)
}
