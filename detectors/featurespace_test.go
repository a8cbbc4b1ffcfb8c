package detectors

import (
	"slices"
	"strings"
	"testing"

	"github.com/purview-lab/purview/metrics"
)

// On the tanh net, in-distribution inputs sit at two confident, tight class
// clusters and anomalies at the ambiguous point (0.5, 0.5), away from both:
// every detector must rank the anomalies above the normal samples.
// Unsupervised detectors fit on a separate training set; supervised ones are
// cross-validated (3 folds). A second run with the same seeds gives the same
// scores bit for bit.
func TestAnomaliesScoreHigher(t *testing.T) {
	train, _ := tanhSet(60, 0, 1)
	in, anom := tanhSet(30, 30, 2)
	cases := []struct {
		typ, params string
		minAUROC    float64
	}{
		{"odin", "", 1},
		{"odin", "epsilon = 0.0", 1},
		{"mahalanobis", "", 1},
		{"mahalanobis", `tap = "t1"` + "\nepsilon = 0.01", 1},
		{"kd", "bandwidth = 0.1", 1},
		{"bu", "", 0.9},
		{"mahalanobis-lr", "", 1},
		{"lid", "k = 5\nbatch = 10", 0.9},
		{"kd+bu", "bandwidth = 0.1", 1},
	}
	for _, c := range cases {
		t.Run(c.typ+"/"+c.params, func(t *testing.T) {
			run := func() (sn, sa []float64) {
				net := &tanhNet{drop: 0.5}
				pin, pa := NewSetProbe(net, in), NewSetProbe(net, anom)
				build := func() (Detector, error) { return New(c.typ, Env{Classes: 2}, tomlDecoder(c.params)) }
				d, err := build()
				if err != nil {
					t.Fatal(err)
				}
				if d.Kind() == Supervised {
					sn, sa, _, err := CrossValidate(build, pin, pa, 3, 11)
					if err != nil {
						t.Fatal(err)
					}
					return sn, sa
				}
				if d.NeedsFit() {
					if err := d.Fit(FitData{InDist: NewSetProbe(net, train), Seed: 5}); err != nil {
						t.Fatal(err)
					}
				}
				if sn, err = d.Score(pin); err != nil {
					t.Fatal(err)
				}
				if sa, err = d.Score(pa); err != nil {
					t.Fatal(err)
				}
				return sn, sa
			}
			sn, sa := run()
			auc, err := metrics.AUROC(sn, sa)
			t.Logf("AUROC %v", auc)
			if err != nil || auc < c.minAUROC {
				t.Errorf("AUROC = %v, %v; want ≥ %v", auc, err, c.minAUROC)
			}
			sn2, sa2 := run()
			if !slices.Equal(sn, sn2) || !slices.Equal(sa, sa2) {
				t.Error("a second run with the same seeds gave different scores")
			}
		})
	}
}

var featureSpaceTypes = []string{"bu", "kd", "kd+bu", "lid", "mahalanobis", "mahalanobis-lr", "odin"}

// Registration: every new type builds with no table and an empty one,
// rejects unknown keys naming them, and names itself after the settings
// that differ from the defaults.
func TestFeatureSpaceRegistry(t *testing.T) {
	for _, typ := range featureSpaceTypes {
		if Doc(typ) == "" {
			t.Errorf("%q not registered or undocumented", typ)
		}
		for _, params := range []Decoder{nil, tomlDecoder("")} {
			d, err := New(typ, Env{Classes: 10}, params)
			if err != nil {
				t.Fatalf("New(%q): %v", typ, err)
			}
			if d.Name() != typ {
				t.Errorf("default %q is named %q", typ, d.Name())
			}
		}
		if _, err := New(typ, Env{Classes: 10}, tomlDecoder("bogus = 1")); err == nil || !strings.Contains(err.Error(), "bogus") ||
			!strings.HasPrefix(err.Error(), "detectors: "+typ+": ") {
			t.Errorf("New(%q) with an unknown key: error = %v", typ, err)
		}
	}
	cases := []struct {
		typ, params, wantName, wantErr string
		wantKind                       Kind
	}{
		{"odin", "temperature = 10.0\nepsilon = 0.0028", "odin[T=10,eps=0.0028]", "", Unsupervised},
		{"odin", "temperature = 1000.0\nepsilon = 0.0014", "odin", "", Unsupervised},
		{"odin", "temperature = 0.0", "", `key "temperature": want a finite positive number, got 0`, 0},
		{"odin", "epsilon = -0.1", "", `key "epsilon": want a finite number ≥ 0, got -0.1`, 0},
		{"mahalanobis", `tap = "conv2"` + "\nepsilon = 0.001", "mahalanobis[tap=conv2,eps=0.001]", "", Unsupervised},
		{"mahalanobis", "epsilon = nan", "", `key "epsilon"`, 0},
		{"mahalanobis-lr", "epsilon = 0.0\nl2 = 0.5", "mahalanobis-lr[eps=0,l2=0.5]", "", Supervised},
		{"mahalanobis-lr", "l2 = 0.0", "", `key "l2": want a finite positive number, got 0`, 0},
		{"lid", "k = 10\nbatch = 50", "lid[k=10,batch=50]", "", Supervised},
		{"lid", "k = 0", "", `key "k": want an integer ≥ 1, got 0`, 0},
		{"lid", "batch = 3", "", `key "batch": want an integer ≥ 4, got 3`, 0},
		{"kd", "bandwidth = 0.26", "kd[h=0.26]", "", Unsupervised},
		{"kd", "bandwidth = -1.0", "", `key "bandwidth": want a finite positive number, got -1`, 0},
		{"bu", "passes = 20\nseed = 3", "bu[passes=20,seed=3]", "", Unsupervised},
		{"bu", "passes = 1", "", `key "passes": want an integer ≥ 2, got 1`, 0},
		{"bu", "seed = -1", "", `key "seed": want an integer ≥ 0, got -1`, 0},
		{"kd+bu", "bandwidth = 1.0\npasses = 10\nl2 = 0.1", "kd+bu[h=1,passes=10,l2=0.1]", "", Supervised},
		{"kd+bu", "passes = 0", "", `key "passes"`, 0},
	}
	for _, c := range cases {
		d, err := New(c.typ, Env{Classes: 10}, tomlDecoder(c.params))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.HasPrefix(err.Error(), "detectors: "+c.typ+": ") {
				t.Errorf("%s %q: error = %v, want one containing %q", c.typ, c.params, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", c.typ, c.params, err)
			continue
		}
		if d.Name() != c.wantName || d.Kind() != c.wantKind || !d.NeedsFit() != (c.typ == "odin" || c.typ == "bu") {
			t.Errorf("%s %q: name %q kind %v needs fit %v; want %q %v", c.typ, c.params, d.Name(), d.Kind(), d.NeedsFit(), c.wantName, c.wantKind)
		}
	}
}
