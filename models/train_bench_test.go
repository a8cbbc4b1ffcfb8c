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
