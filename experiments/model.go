package experiments

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/internal/atomicfile"
	"github.com/purview-lab/purview/models"
)

// trainingCodeVersion changes whenever training would give different weights
// for the same config and data, so stale cache entries are never reused.
const trainingCodeVersion = "models.Train v1 (gorgonia v0.9.18, Adam, drop-last, PCG shuffle)"

func runtimeNumCPU() int { return runtime.NumCPU() }

// modelPlan is what a run knows about its model before any expensive work:
// enough to build and check the detectors before training starts.
type modelPlan struct {
	classes int
	ckpt    []models.Param // weights from model.checkpoint (nil when training)
	train   *datasets.Set  // training set (nil when loading a checkpoint)
	seed    uint64         // initialisation and shuffling seed
	cache   string         // cache entry path of the trained weights
}

// planModel reads model.checkpoint, or loads the training set, and fixes the
// class count.
func planModel(cfg *Config, sources map[string]datasets.Source) (*modelPlan, error) {
	if !cfg.TrainsModel() {
		ps, meta, err := models.ReadCheckpoint(cfg.Model.Checkpoint)
		if err != nil {
			return nil, fmt.Errorf("%s: model.checkpoint: %w", cfg.File, err)
		}
		return &modelPlan{classes: classesOf(ps, meta), ckpt: ps}, nil
	}
	tr := cfg.Train
	c, h, w, err := models.InputShapeOf(cfg.Model.Arch)
	if err != nil {
		return nil, err
	}
	train, err := sources[tr.Dataset].Load(datasets.Request{Split: tr.Split, C: c, H: h, W: w, Seed: cfg.Seed("data:" + tr.Dataset + ":" + tr.Split)})
	if err != nil {
		return nil, err
	}
	train.Name = tr.Dataset + ":" + tr.Split
	if tr.Samples > 0 {
		train = sample(train, tr.Samples, cfg.Seed("train-samples"))
	}
	classes := 0
	for i, l := range train.Labels {
		if l < 0 {
			return nil, fmt.Errorf("%s: train.dataset %q: sample %d has no label; a model can only be trained on labelled data", cfg.File, tr.Dataset, i)
		}
		classes = max(classes, l+1)
	}
	key := Hash(cfg.ModelHash(), fingerprint(train), classes, trainingCodeVersion)
	return &modelPlan{
		classes: classes,
		train:   train,
		seed:    tr.Seed,
		cache:   filepath.Join(cfg.Model.Cache, fmt.Sprintf("%s-%s.safetensors", cfg.Model.Arch, key[:16])),
	}, nil
}

// build returns the network of the plan: the checkpoint's weights, or the
// training cache entry, or weights trained now with [train] and cached. It
// also returns the training log when known, and where the weights came from.
func (pl *modelPlan) build(ctx context.Context, cfg *Config, sources map[string]datasets.Source, workers int, logw io.Writer) (*models.Sequential, []models.EpochStats, string, error) {
	net, err := models.NewNetwork(cfg.Model.Arch, pl.classes, pl.seed)
	if err != nil {
		return nil, nil, "", err
	}
	net.SetWorkers(workers)
	if pl.ckpt != nil {
		if err := net.SetParams(pl.ckpt); err != nil {
			return nil, nil, "", fmt.Errorf("%s: model.checkpoint %s: %w", cfg.File, cfg.Model.Checkpoint, err)
		}
		fmt.Fprintf(logw, "model %s: weights from %s\n", net.Arch(), cfg.Model.Checkpoint)
		return net, nil, cfg.Model.Checkpoint, nil
	}
	path := pl.cache
	if _, err := os.Stat(path); err == nil {
		if err := models.LoadCheckpoint(path, net); err == nil {
			var stats []models.EpochStats
			if b, err := os.ReadFile(path + ".json"); err == nil {
				json.Unmarshal(b, &stats)
			}
			fmt.Fprintf(logw, "model %s: cached weights %s (delete the file to retrain)\n", net.Arch(), path)
			return net, stats, path, nil
		} else {
			fmt.Fprintf(logw, "model %s: cache entry unusable, retraining: %v\n", net.Arch(), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, "", fmt.Errorf("model cache: %w", err)
	}
	tr := cfg.Train
	var test *datasets.Set
	if ref := cfg.Evaluate.InDist; ref.Dataset == tr.Dataset {
		c, h, w := net.InputShape()
		if test, err = sources[ref.Dataset].Load(datasets.Request{Split: ref.Split, C: c, H: h, W: w, Seed: cfg.Seed("data:" + ref.String())}); err != nil {
			return nil, nil, "", err
		}
		test.Name = ref.String()
	}
	fmt.Fprintf(logw, "model %s: training on %s (%d images, %d epochs)\n", net.Arch(), pl.train.Name, pl.train.Len(), tr.Epochs)
	stats, err := net.Train(ctx, pl.train, test, models.TrainConfig{Epochs: tr.Epochs, BatchSize: tr.BatchSize, LearningRate: tr.LearningRate, Seed: pl.seed}, logw)
	if err != nil {
		return nil, nil, "", err
	}
	if err := os.MkdirAll(cfg.Model.Cache, 0o755); err != nil {
		return nil, nil, "", fmt.Errorf("model cache: %w", err)
	}
	// The log first: a checkpoint without its log is still usable, not vice versa.
	b, _ := json.MarshalIndent(stats, "", "  ")
	if err := atomicfile.WriteFile(path+".json", append(b, '\n')); err != nil {
		return nil, nil, "", err
	}
	if err := models.SaveCheckpoint(path, net); err != nil {
		return nil, nil, "", err
	}
	return net, stats, path, nil
}

// classesOf reads the class count from checkpoint metadata, else from the
// length of the last bias tensor in state_dict order.
func classesOf(ps []models.Param, meta map[string]string) int {
	if c, err := strconv.Atoi(meta["classes"]); err == nil && c > 0 {
		return c
	}
	for _, p := range ps {
		if p.Name == "fc3.bias" && len(p.Shape) == 1 {
			return p.Shape[0]
		}
	}
	return 10
}

// fingerprint is a SHA-256 over a set's shape, pixels and labels, so a cached
// model is never reused after the training data changed.
func fingerprint(s *datasets.Set) string {
	h := sha256.New()
	var b [8]byte
	for _, v := range []int{s.C, s.H, s.W, s.Len()} {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	buf := make([]byte, 0, 1<<16)
	for _, v := range s.Images {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		if len(buf) == cap(buf) {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	for _, l := range s.Labels {
		binary.LittleEndian.PutUint64(b[:], uint64(l))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}
