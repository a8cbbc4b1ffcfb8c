package models

import (
	"context"
	"io"
	"math"
	"runtime"
	"syscall"
	"testing"
	"time"

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

// BenchmarkWorkloads runs every BenchKeys workload (torch_ref.py's names) with
// GOMAXPROCS workers and reports images/s and bytes allocated per call.
// One b.N iteration is one call; run with -benchtime=3x or similar.
func BenchmarkWorkloads(b *testing.B) {
	for _, key := range BenchKeys() {
		b.Run(key, func(b *testing.B) {
			model, work := splitKey(key)
			net, _ := NewNetwork(benchArchs[model], 10, 1)
			net.SetWorkers(runtime.GOMAXPROCS(0))
			call, images, err := net.benchCall(work)
			if err != nil {
				b.Fatal(err)
			}
			if err := call(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := cpuSeconds()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(images*b.N)/b.Elapsed().Seconds(), "img/s")
			// Images per CPU-second: on a shared machine wall time measures the
			// neighbours; twice this estimates a quiet 2-core machine.
			b.ReportMetric(float64(images*b.N)/(cpuSeconds()-cpu0), "img/cpu-s")
		})
	}
}

// cpuSeconds is the user + system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func splitKey(key string) (string, string) {
	for i := range key {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return key, ""
}

// TestBenchSteadyStateAllocations: after warm-up, scoring a batch allocates
// less than 1 MiB (the engines' buffers are reused), and Bench reports sane
// numbers for a short run.
func TestBenchSteadyStateAllocations(t *testing.T) {
	for _, key := range []string{"lenet/purview_vmap_b64", "lenet/forward_b256", "lenet/input_grad_b64", "lenet/train_b64"} {
		r, err := Bench(context.Background(), key, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if r.BytesPerBatch > 1<<20 || !(r.ImagesPerSec > 0) || r.Calls < 1 {
			t.Errorf("%s: %+v, want < 1 MiB per call", key, r)
		}
	}
	if _, err := Bench(context.Background(), "lenet/purview_loop", time.Millisecond); err == nil {
		t.Error("unknown key accepted")
	}
}
