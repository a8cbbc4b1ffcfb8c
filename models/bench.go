package models

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/purview-lab/purview/internal/kernels"
)

// BenchResult is the speed of one workload.
type BenchResult struct {
	Key           string  // torch_ref.py's key, e.g. "lenet/forward_b256"
	ImagesPerSec  float64 // images processed per second
	BytesPerBatch float64 // heap bytes allocated per call (one call = one batch of the key's size)
	Calls         int     // calls timed
	Workers       int     // GOMAXPROCS: engines in parallel, goroutines per training step
	Backend       string  // the SGEMM micro-kernel (kernels.Backend())
}

// benchArchs maps torch_ref.py's model names to architectures.
var benchArchs = map[string]string{"lenet": ArchLeNet5, "resnet20": ArchResNet20, "resnet34": ArchResNet34,
	"densenet100": ArchDenseNet100, "wrn-28-10": ArchWRN2810}

// BenchKeys lists the workloads Bench runs, named as in ../shared/bench/torch_ref.py
// so that results can be set side by side with its JSON output:
//
//	<model>/train_b<B>       one training step on B images: forward and backward in train mode, an Adam
//	                         update (torch_ref.py steps SGD with momentum; the update is O(parameters) either way)
//	<model>/forward_b256     logits of 256 images, eval mode
//	<model>/purview_vmap_b64 purview features (per-parameter squared gradient norms, all-ones sigmoid label) of 64 images
//	<model>/input_grad_b64   cross-entropy input gradient of 64 images (InputGrad; an FGSM step's work)
//
// with B = 64 for lenet and 32 for resnet20. torch_ref.py's purview_loop (one
// backward per sample) has no counterpart: the harness only has the batched form.
// ResNet-34 (the paper's model; its peer workloads live in scripts/bench.py)
// runs forward_b64, purview_vmap_b32 and input_grad_b32 (two batches: both
// workers busy, as in a run); DenseNet-BC-100 and WRN-28-10 (no PyTorch peer
// workloads) the same at sizes of two of their batches.
func BenchKeys() []string {
	return []string{
		"lenet/train_b64", "lenet/forward_b256", "lenet/purview_vmap_b64", "lenet/input_grad_b64",
		"resnet20/train_b32", "resnet20/forward_b256", "resnet20/purview_vmap_b64", "resnet20/input_grad_b64",
		"resnet34/forward_b64", "resnet34/purview_vmap_b32", "resnet34/input_grad_b32",
		"densenet100/forward_b64", "densenet100/purview_vmap_b32", "densenet100/input_grad_b32",
		"wrn-28-10/forward_b16", "wrn-28-10/purview_vmap_b8", "wrn-28-10/input_grad_b8",
	}
}

// Bench measures one workload of BenchKeys on random inputs with freshly
// initialised weights, using GOMAXPROCS workers (torch_ref.py's --threads):
// one untimed warm-up call, then calls until minDuration has passed.
func Bench(ctx context.Context, key string, minDuration time.Duration) (BenchResult, error) {
	if !slices.Contains(BenchKeys(), key) {
		return BenchResult{}, fmt.Errorf("models: unknown benchmark %q (known: %s)", key, strings.Join(BenchKeys(), ", "))
	}
	model, work, _ := strings.Cut(key, "/")
	net, err := NewNetwork(benchArchs[model], 10, 1)
	if err != nil {
		return BenchResult{}, err
	}
	workers := runtime.GOMAXPROCS(0)
	net.SetWorkers(workers)
	call, images, err := net.benchCall(work)
	if err != nil {
		return BenchResult{}, err
	}
	if err := call(); err != nil { // warm-up: engines and buffers
		return BenchResult{}, err
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	calls := 0
	for calls == 0 || time.Since(start) < minDuration {
		if err := ctx.Err(); err != nil {
			return BenchResult{}, err
		}
		if err := call(); err != nil {
			return BenchResult{}, err
		}
		calls++
	}
	el := time.Since(start)
	runtime.ReadMemStats(&after)
	return BenchResult{Key: key, ImagesPerSec: float64(calls*images) / el.Seconds(),
		BytesPerBatch: float64(after.TotalAlloc-before.TotalAlloc) / float64(calls), Calls: calls,
		Workers: workers, Backend: kernels.Backend()}, nil
}

// benchCall returns one call of a workload and how many images it processes.
func (s *Sequential) benchCall(work string) (func() error, int, error) {
	switch {
	case strings.HasPrefix(work, "train_b"):
		var bs int
		if _, err := fmt.Sscanf(work, "train_b%d", &bs); err != nil || bs < 1 {
			return nil, 0, fmt.Errorf("models: bad benchmark %q", work)
		}
		tr := s.newTrainer(bs, TrainConfig{Seed: 1})
		copy(tr.e.vals[0], randInput01(bs*s.c*s.h*s.w, 2))
		for k := range tr.labels {
			tr.labels[k] = k % s.classes
		}
		return func() error {
			tr.step(1e-4)
			return nil
		}, bs, nil
	}
	kind, bs := work, 0
	if i := strings.LastIndex(work, "_b"); i > 0 {
		kind = work[:i]
		if _, err := fmt.Sscanf(work[i:], "_b%d", &bs); err != nil || bs < 1 {
			return nil, 0, fmt.Errorf("models: bad benchmark %q", work)
		}
	}
	switch kind {
	case "forward":
		x := randInput01(bs*s.c*s.h*s.w, 3)
		return func() error {
			_, _, err := s.Forward(x, bs)
			return err
		}, bs, nil
	case "purview_vmap":
		x := randInput01(bs*s.c*s.h*s.w, 4)
		ones := make([]float32, s.classes)
		for i := range ones {
			ones[i] = 1
		}
		dst := make([]float64, bs*len(s.params))
		c := Confound{Label: ones, Act: Sigmoid}
		return func() error { return s.GradNorms(x, bs, c, dst) }, bs, nil
	case "input_grad":
		x := randInput01(bs*s.c*s.h*s.w, 5)
		grad := make([]float32, len(x))
		loss := func(i int, z, g []float32) float64 {
			// Cross-entropy against label i mod C: log Σ e^z − z_y.
			y := i % len(z)
			m := z[0]
			for _, v := range z {
				m = max(m, v)
			}
			var sum float64
			for _, v := range z {
				sum += exp64(v - m)
			}
			for j, v := range z {
				g[j] = float32(exp64(v-m) / sum)
			}
			g[y]--
			return log64(sum) + float64(m-z[y])
		}
		return func() error {
			_, _, err := s.InputGrad(x, bs, loss, grad)
			return err
		}, bs, nil
	}
	return nil, 0, fmt.Errorf("models: unknown benchmark workload %q", work)
}

func exp64(v float32) float64 { return math.Exp(float64(v)) }
func log64(v float64) float64 { return math.Log(v) }

// randInput01 returns n uniform values in [0,1) from a PCG source seeded with seed.
func randInput01(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()
	}
	return x
}
