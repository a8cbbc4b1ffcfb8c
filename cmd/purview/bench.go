package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/purview-lab/purview/internal/atomicfile"
	"github.com/purview-lab/purview/models"
)

func newBenchCommand(e *env) *Command {
	cmd := &Command{
		Name:      "bench",
		UsageLine: "purview bench [--models lenet,resnet20,resnet34] [--threads N] [--seconds S] [--json FILE]",
		Short:     "measure the engine's throughput on the peer benchmark's workloads",
		Long: `
Bench measures images per second of the workloads of the PyTorch peer
benchmark (../shared/bench/torch_ref.py) — a training step, a forward pass
of 256 images, the batched purview features of 64 images and the
cross-entropy input gradient of 64 images — for LeNet-5 and ResNet-20, and
the forward pass of 64, purview features and input gradient of 32 images for
ResNet-34 (the paper's model; its PyTorch side is in scripts/bench.py), on
random inputs, with --threads cores. --json writes the results under the same
keys as torch_ref.py --json (plus <model>/<workload>/alloc_bytes_per_batch),
so scripts/bench.py can print the ratios:

	/usr/bin/python3 scripts/bench.py --run
`,
		Flag: flag.NewFlagSet("bench", flag.ContinueOnError),
	}
	which := cmd.Flag.String("models", "lenet,resnet20", "comma-separated `models`: lenet, resnet20, resnet34")
	threads := cmd.Flag.Int("threads", 2, "cores `N` to use (GOMAXPROCS), like torch_ref.py --threads")
	seconds := cmd.Flag.Float64("seconds", 3, "minimum `S` seconds per workload, like torch_ref.py")
	jsonOut := cmd.Flag.String("json", "", "write the results to `FILE`")
	cmd.Run = func(args []string) error {
		if len(args) != 0 {
			return usagef("want no arguments, got %q", args)
		}
		if *threads < 1 {
			return usagef("--threads must be ≥ 1, got %d", *threads)
		}
		if !(*seconds > 0) {
			return usagef("--seconds must be > 0, got %v", *seconds)
		}
		var known []string
		for _, key := range models.BenchKeys() {
			if m, _, _ := strings.Cut(key, "/"); !slices.Contains(known, m) {
				known = append(known, m)
			}
		}
		want := strings.Split(*which, ",")
		for _, m := range want {
			if !slices.Contains(known, m) {
				return usagef("--models: unknown model %q (want %s)", m, strings.Join(known, ", "))
			}
		}
		prev := runtime.GOMAXPROCS(*threads)
		defer runtime.GOMAXPROCS(prev)
		res := map[string]float64{}
		for _, key := range models.BenchKeys() {
			model, _, _ := strings.Cut(key, "/")
			if !slices.Contains(want, model) {
				continue
			}
			r, err := models.Bench(e.ctx, key, time.Duration(*seconds*float64(time.Second)))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%-28s %10.1f img/s %10.0f KiB/batch\n", key, r.ImagesPerSec, r.BytesPerBatch/1024)
			res[key] = r.ImagesPerSec
			res[key+"/alloc_bytes_per_batch"] = r.BytesPerBatch
		}
		if *jsonOut != "" {
			b, err := json.MarshalIndent(res, "", " ")
			if err != nil {
				return err
			}
			if err := atomicfile.WriteFile(*jsonOut, append(b, '\n')); err != nil {
				return err
			}
		}
		return nil
	}
	return cmd
}
