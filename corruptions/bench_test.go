package corruptions

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// benchImages returns the benchmark set: n synthetic 28×28 grey digits (n =
// 10,000, or $CORRUPTIONS_BENCH_N).
func benchImages(b *testing.B) ([]float32, int) {
	n := 10000
	if v := os.Getenv("CORRUPTIONS_BENCH_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("CORRUPTIONS_BENCH_N=%q: want a positive integer", v)
		}
	}
	return synthDigits(n, 99), n
}

// BenchmarkAllCorruptions corrupts 10,000 28×28 grey images with the 19
// CIFAR-10-C corruptions at severities 1–5 (950,000 corrupted images per
// iteration) using all CPUs. Target: ≤ 3 minutes on 2 cores.
func BenchmarkAllCorruptions(b *testing.B) {
	x, n := benchImages(b)
	b.ResetTimer()
	for range b.N {
		for _, c := range All() {
			if c.Source != SourceCIFAR10C {
				continue
			}
			start := time.Now()
			for sev := 1; sev <= Severities; sev++ {
				if _, err := ApplySet(context.Background(), c.Name, sev, x, n, 1, 28, 28, 1, 0); err != nil {
					b.Fatal(err)
				}
			}
			if b.N == 1 {
				b.Logf("%-18s %6.2fs", c.Name, time.Since(start).Seconds())
			}
		}
	}
	b.ReportMetric(float64(19*5*n*b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkCorruption times each corruption (all 27) at severity 3 on 28×28
// grey images, one worker.
func BenchmarkCorruption(b *testing.B) {
	x := synthDigits(64, 98)
	for _, c := range All() {
		b.Run(c.Name, func(b *testing.B) {
			out := make([]float32, 784)
			var s scratch
			for i := range b.N {
				k := i % 64
				c.applyOne(3, x[k*784:(k+1)*784], 1, 28, 28, uint64(i), out, &s)
			}
		})
	}
}
