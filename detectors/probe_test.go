package detectors

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/models"
)

// fakeNet is a models.Network over 1×1×2 images with 3 classes, 2 features
// and 2 parameter tensors, whose outputs are simple functions of the pixels
// (row i depends on image i only), and which counts its calls.
type fakeNet struct {
	forwards, grads atomic.Int32
	fail            error
	shortOutput     bool
	gotLabel        []float32
}

func (*fakeNet) Arch() string              { return "fake" }
func (*fakeNet) Classes() int              { return 3 }
func (*fakeNet) InputShape() (c, h, w int) { return 1, 1, 2 }
func (*fakeNet) FeatureDim() int           { return 2 }
func (*fakeNet) Params() []models.Param    { return nil }
func (*fakeNet) GradNames() []string       { return []string{"fc.weight", "fc.bias"} }
func (n *fakeNet) Forward(x []float32, k int) (logits, feats []float32, err error) {
	n.forwards.Add(1)
	time.Sleep(5 * time.Millisecond) // let concurrent callers pile up
	if n.fail != nil {
		return nil, nil, n.fail
	}
	for i := range k {
		a, b := x[2*i], x[2*i+1]
		logits = append(logits, a, b, a+b)
		feats = append(feats, 2*a, 2*b)
	}
	if n.shortOutput {
		logits = logits[1:]
	}
	return logits, feats, nil
}

// GradNorms writes r = (Σ label · a, act + b) per image.
func (n *fakeNet) GradNorms(x []float32, k int, c models.Confound, dst []float64) error {
	n.grads.Add(1)
	time.Sleep(5 * time.Millisecond)
	if n.fail != nil {
		return n.fail
	}
	n.gotLabel = c.Label
	var s float64
	for _, v := range c.Label {
		s += float64(v)
	}
	for i := range k {
		dst[2*i] = s * float64(x[2*i])
		dst[2*i+1] = float64(c.Act) + float64(x[2*i+1])
	}
	return nil
}

// Pixels are multiples of 1/8, exact in float32 and float64.
var fakeImages = []float32{0.125, 0.25, 0.5, 0.75, 1, 0, 0.375, 0.625}

func TestProbeValues(t *testing.T) {
	net := &fakeNet{}
	p := NewProbe(net, fakeImages, 4)
	if p.Len() != 4 {
		t.Fatalf("Len = %d", p.Len())
	}
	z, err := p.Logits()
	if err != nil {
		t.Fatal(err)
	}
	wantZ := []float64{0.125, 0.25, 0.375, 0.5, 0.75, 1.25, 1, 0, 1, 0.375, 0.625, 1}
	if z.Rows != 4 || z.Cols != 3 || !slices.Equal(z.Data, wantZ) {
		t.Errorf("logits %+v, want 4×3 %v", z, wantZ)
	}
	h, _ := p.Penultimate()
	if !slices.Equal(h.Data, []float64{0.25, 0.5, 1, 1.5, 2, 0, 0.75, 1.25}) || h.Cols != 2 {
		t.Errorf("features %+v", h)
	}
	// Subset of a subset: rows [3, 1, 2] then positions [2, 0] → rows [2, 3].
	s := p.Subset([]int{3, 1, 2}).Subset([]int{2, 0})
	sz, _ := s.Logits()
	if s.Len() != 2 || !slices.Equal(sz.Data, []float64{1, 0, 1, 0.375, 0.625, 1}) {
		t.Errorf("subset logits %+v", sz)
	}
	r, err := s.GradNorms(models.Confound{Label: []float32{1, 0, 1}, Act: models.Softmax})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Data, []float64{2, 1, 0.75, 1.625}) || !slices.Equal(r.Names, []string{"fc.weight", "fc.bias"}) {
		t.Errorf("grad norms %+v", r)
	}
	// Callers own what they get: changing it leaves the cache alone.
	z.Data[0] = 99
	r.Data[0] = 99
	z2, _ := p.Logits()
	r2, _ := s.GradNorms(models.Confound{Label: []float32{1, 0, 1}, Act: models.Softmax})
	if z2.Data[0] != 0.125 || r2.Data[0] != 2 {
		t.Error("modifying a returned matrix changed the cache")
	}
	if e := p.Subset([]int{}); e.Len() != 0 {
		t.Errorf("empty subset has Len %d", e.Len())
	}
}

// Each quantity is computed once, even when asked for concurrently, through
// Subset views, and for confounds given as different slices with equal values.
func TestProbeComputesOnce(t *testing.T) {
	net := &fakeNet{}
	p := NewProbe(net, fakeImages, 4)
	cfA := models.Confound{Label: []float32{1, 1, 1}, Act: models.Sigmoid}
	cfB := models.Confound{Label: []float32{1, 1, 1}, Act: models.Softmax}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Go(func() {
			q := p
			if i%2 == 1 {
				q = p.Subset([]int{i % 4, (i + 1) % 4})
			}
			if _, err := q.Logits(); err != nil {
				errs <- err
			}
			if _, err := q.Penultimate(); err != nil {
				errs <- err
			}
			cf := cfA
			cf.Label = slices.Clone(cfA.Label)
			if _, err := q.GradNorms(cf); err != nil {
				errs <- err
			}
			if i%4 == 0 {
				if _, err := q.GradNorms(cfB); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if f, g := net.forwards.Load(), net.grads.Load(); f != 1 || g != 2 {
		t.Errorf("network called %d times for Forward and %d for GradNorms, want 1 and 2 (two confounds)", f, g)
	}
}

func TestProbeErrors(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name    string
		p       func() Probe
		call    func(Probe) error
		wantErr string
	}{
		{"size", func() Probe { return NewProbe(&fakeNet{}, fakeImages[:7], 4) },
			func(p Probe) error { _, err := p.Logits(); return err },
			"detectors: probe: 7 values for 4 images, but model fake takes 1x1x2 = 2 values per image"},
		{"size grads", func() Probe { return NewProbe(&fakeNet{}, fakeImages[:7], 4) },
			func(p Probe) error { _, err := p.GradNorms(models.Confound{Label: []float32{1, 1, 1}}); return err },
			"7 values for 4 images"},
		{"set shape", func() Probe {
			return NewSetProbe(&fakeNet{}, &datasets.Set{Name: "svhn:test", C: 2, H: 1, W: 1, Images: fakeImages, Labels: make([]int, 4)})
		},
			func(p Probe) error { _, err := p.Penultimate(); return err },
			`set "svhn:test" has 2x1x1 images, model fake takes 1x1x2`},
		{"forward fails", func() Probe { return NewProbe(&fakeNet{fail: boom}, fakeImages, 4) },
			func(p Probe) error { _, err := p.Subset([]int{1}).Logits(); return err },
			"forward pass of fake: boom"},
		{"short output", func() Probe { return NewProbe(&fakeNet{shortOutput: true}, fakeImages, 4) },
			func(p Probe) error { _, err := p.Logits(); return err },
			"returned 11 logits and 8 features for 4 samples, want 4×3 and 4×2"},
		{"grads fail", func() Probe { return NewProbe(&fakeNet{fail: boom}, fakeImages, 4) },
			func(p Probe) error {
				_, err := p.GradNorms(models.Confound{Label: []float32{0, 1, 1}, Act: models.Softmax})
				return err
			},
			"gradient norms of fake for confound softmax:0,1,1: boom"},
		{"label length", func() Probe { return NewProbe(&fakeNet{}, fakeImages, 4) },
			func(p Probe) error { _, err := p.GradNorms(models.Confound{Label: []float32{1, 1}}); return err },
			"confounding label has 2 entries, model fake has 3 classes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(c.p()); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestProbeSetAndEmpty(t *testing.T) {
	net := &fakeNet{}
	s := &datasets.Set{Name: "x", C: 1, H: 1, W: 2, Images: fakeImages, Labels: make([]int, 4)}
	z, err := NewSetProbe(net, s).Subset([]int{1}).Logits()
	if err != nil || !slices.Equal(z.Data, []float64{0.5, 0.75, 1.25}) {
		t.Errorf("set probe logits %v, %v", z, err)
	}
	empty := NewProbe(net, nil, 0)
	z, err = empty.Logits()
	if err != nil || z.Rows != 0 || z.Cols != 3 {
		t.Errorf("empty probe logits %+v, %v", z, err)
	}
	r, err := empty.GradNorms(models.Confound{Label: []float32{1, 1, 1}})
	if err != nil || r.Rows != 0 || r.Cols != 2 {
		t.Errorf("empty probe grad norms %+v, %v", r, err)
	}
	if f, g := net.forwards.Load(), net.grads.Load(); f != 1 || g != 0 {
		t.Errorf("network calls %d, %d; want 1 (the set) and 0", f, g)
	}
}

func TestProbeSubsetPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "index 4 out of range [0,4)") {
			t.Errorf("recovered %v", r)
		}
	}()
	NewProbe(&fakeNet{}, fakeImages, 4).Subset([]int{0, 4})
}

// The probe gives the network its own copy of the label.
func TestProbeCopiesLabel(t *testing.T) {
	net := &fakeNet{}
	label := []float32{1, 1, 0}
	if _, err := NewProbe(net, fakeImages, 4).GradNorms(models.Confound{Label: label}); err != nil {
		t.Fatal(err)
	}
	if &net.gotLabel[0] == &label[0] {
		t.Error("the network received the caller's label slice")
	}
}
