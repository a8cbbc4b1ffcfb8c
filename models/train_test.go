package models

import (
	"context"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/purview-lab/purview/datasets"
)

func TestLearningRateSchedules(t *testing.T) {
	cos := TrainConfig{LearningRate: 1e-3}
	for _, c := range []struct {
		t, total int
		want     float64
	}{{0, 100, 1e-3}, {50, 100, 5e-4}, {25, 100, 1e-3 * 0.5 * (1 + math.Sqrt2/2)}, {99, 100, 1e-3 * 0.5 * (1 + math.Cos(math.Pi*0.99))}} {
		if got := cos.learningRate(c.t, c.total); math.Abs(got-c.want) > 1e-18 {
			t.Errorf("cosine lr(%d/%d) = %g, want %g", c.t, c.total, got, c.want)
		}
	}
	if got := (TrainConfig{LearningRate: 1e-3, Schedule: ScheduleConstant}).learningRate(99, 100); got != 1e-3 {
		t.Errorf("constant lr = %g", got)
	}
}

func randSet(n int) *datasets.Set {
	s := &datasets.Set{Name: "rand", C: 1, H: 28, W: 28, Images: randImages(n, 4), Labels: make([]int, n), Index: make([]int, n)}
	for i := range s.Labels {
		s.Labels[i], s.Index[i] = i%10, i
	}
	return s
}

// TestTrainDeterministic: the same data, config and seed give bit-identical
// weights; another seed gives other weights; the loss goes down.
func TestTrainDeterministic(t *testing.T) {
	set := randSet(640)
	train := func(seed uint64) ([]Param, []EpochStats) {
		net, _ := NewNetwork(ArchLeNet5, 10, seed)
		net.SetWorkers(2)
		st, err := net.Train(context.Background(), set, set, TrainConfig{Epochs: 2, BatchSize: 64, LearningRate: 1e-3, Seed: seed}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return net.Params(), st
	}
	a, st := train(1)
	b, _ := train(1)
	c, _ := train(2)
	for i := range a {
		if !slices.Equal(a[i].Data, b[i].Data) {
			t.Fatalf("%s differs between two runs with the same seed", a[i].Name)
		}
	}
	if slices.Equal(a[0].Data, c[0].Data) {
		t.Error("different seeds gave the same weights")
	}
	if len(st) != 2 || !(st[1].Loss < st[0].Loss) || st[0].TestAcc == nil {
		t.Errorf("epoch stats %+v: want 2 epochs, falling loss, a test accuracy", st)
	}
}

func TestTrainConfigErrors(t *testing.T) {
	set := randSet(64)
	net, _ := NewNetwork(ArchLeNet5, 10, 1)
	for _, c := range []struct {
		cfg  TrainConfig
		want string
	}{
		{TrainConfig{Epochs: 1, BatchSize: 64, LearningRate: 1e-3, Schedule: "linear"}, `unknown learning-rate schedule "linear"`},
		{TrainConfig{Epochs: 0, BatchSize: 64, LearningRate: 1e-3}, "invalid training config"},
		{TrainConfig{Epochs: 1, BatchSize: 128, LearningRate: 1e-3}, "fewer than one batch"},
	} {
		if _, err := net.Train(context.Background(), set, nil, c.cfg, io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Train(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
}
