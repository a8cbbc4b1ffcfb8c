package models

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

func randImages(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*28*28)
	for i := range x {
		x[i] = r.Float32()
	}
	return x
}

func relErr(a, b float64) float64 {
	d := math.Abs(a - b)
	s := math.Max(math.Abs(a), math.Abs(b))
	if s < 1e-12 {
		return d
	}
	return d / s
}

func TestGradNormsMatchBatch1Reference(t *testing.T) {
	net, err := NewNetwork(ArchLeNet5, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	x := randImages(n, 7)
	for _, c := range []Confound{
		{Label: []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, Act: Sigmoid},
		{Label: []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, Act: Softmax},
		{Label: []float32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Act: Sigmoid},
		{Label: []float32{1, 0, 0, 1, 0, 0, 0, 1, 0, 0}, Act: Softmax},
	} {
		got := make([]float64, n*10)
		if err := net.GradNorms(x, n, c, got); err != nil {
			t.Fatal(err)
		}
		tg := make([]float32, n*10)
		for i := 0; i < n; i++ {
			copy(tg[i*10:], c.Label)
		}
		ref, err := net.paramGrads(x, n, tg, confoundLoss(c.Act), tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			for j, g := range ref[i] {
				var want float64
				for _, v := range g {
					want += v * v
				}
				if e := relErr(got[i*10+j], want); e > 1e-4 {
					t.Errorf("%v %v sample %d %s: batched %g, batch-1 reference %g (rel err %.2g)", c.Act, c.Label, i, net.GradNames()[j], got[i*10+j], want, e)
				}
			}
		}
	}
}
