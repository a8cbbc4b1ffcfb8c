package models

import (
	"context"
	"io"
	"testing"

	"github.com/purview-lab/purview/datasets"
)

// BenchmarkTrainEpochSmall trains one epoch over 6,400 random images (100
// steps of batch 64): the cost of a training step.
func BenchmarkTrainEpochSmall(b *testing.B) {
	const n = 6400
	set := &datasets.Set{Name: "rand", C: 1, H: 28, W: 28, Images: randImages(n, 1), Labels: make([]int, n), Index: make([]int, n)}
	for i := range set.Labels {
		set.Labels[i] = i % 10
	}
	for i := 0; i < b.N; i++ {
		net, _ := NewNetwork(ArchLeNet5, 10, 1)
		if _, err := net.Train(context.Background(), set, nil, TrainConfig{Epochs: 1, BatchSize: 64, LearningRate: 1e-3, Seed: 1}, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkForward256 is torch_ref.py's lenet/forward_b256: logits of 256 images.
func BenchmarkForward256(b *testing.B) {
	net, _ := NewNetwork(ArchLeNet5, 10, 1)
	net.SetWorkers(2)
	x := randImages(256, 2)
	net.Forward(x, 256) // build the graphs
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := net.Forward(x, 256); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(256*b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkGradNorms is the work of torch_ref.py's lenet/purview_vmap_b64:
// the purview features (squared gradient norm of every parameter tensor,
// all-ones sigmoid label), here of 128 images = two batches of 64 on two
// workers.
func BenchmarkGradNorms(b *testing.B) {
	net, _ := NewNetwork(ArchLeNet5, 10, 1)
	net.SetWorkers(2)
	x := randImages(128, 3)
	dst := make([]float64, 128*10)
	c := Confound{Label: allOnes, Act: Sigmoid}
	net.GradNorms(x, 128, c, dst)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := net.GradNorms(x, 128, c, dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "img/s")
}
