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
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/internal/atomicfile"
	"github.com/purview-lab/purview/internal/cache"
	"github.com/purview-lab/purview/models"
)

// trainingCodeVersion changes whenever training would give different weights
// for the same config and data, so stale cache entries are never reused.
const trainingCodeVersion = "models.Train v3 (native engine, Adam, lr schedule, drop-last, PCG shuffle, seeded dropout)"

// modelPlan is what a run knows about its model before any expensive work:
// enough to build and check the detectors before training starts.
type modelPlan struct {
	classes int
	ckpt    *models.Sequential // the network with model.checkpoint's weights (nil when training)
	train   *datasets.Set      // training set (nil when loading a checkpoint)
	seed    uint64             // initialisation and shuffling seed
	key     cache.Key          // cache key of the trained weights
}

// planModel reads model.checkpoint, or loads the training set, and fixes the
// class count.
func planModel(cfg *Config, load func(key string, ref Ref) (*datasets.Set, error)) (*modelPlan, error) {
	if !cfg.TrainsModel() {
		ps, meta, err := models.ReadCheckpoint(cfg.Model.Checkpoint)
		if err != nil {
			return nil, cfg.KeyError("model.checkpoint", "%v", err)
		}
		net, err := models.NewNetwork(cfg.Model.Arch, classesOf(ps, meta), 0)
		if err != nil {
			return nil, err
		}
		if err := net.SetParams(ps); err != nil {
			return nil, cfg.KeyError("model.checkpoint", "%s: %v", cfg.Model.Checkpoint, err)
		}
		return &modelPlan{classes: net.Classes(), ckpt: net}, nil
	}
	tr := cfg.Train
	train, err := load("train.dataset", Ref{tr.Dataset, tr.Split})
	if err != nil {
		return nil, err
	}
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
	section, err := json.Marshal(struct {
		Arch    string
		Train   Train
		Data    DatasetSpec
		Classes int
	}{cfg.Model.Arch, *tr, cfg.Datasets[tr.Dataset], classes})
	if err != nil {
		return nil, err
	}
	return &modelPlan{
		classes: classes,
		train:   train,
		seed:    tr.Seed,
		key:     cache.NewKey(cache.KindModel, section, trainingCodeVersion, cache.Input{Name: "train-set", Checksum: fingerprint(train)}),
	}, nil
}

// build returns the network of the plan: the checkpoint's weights, or the
// training cache entry, or weights trained now with [train] and cached. It
// also returns the training log when known, and where the weights came from.
func (pl *modelPlan) build(ctx context.Context, cfg *Config, store *cache.Store, inAll *datasets.Set, workers int, logw io.Writer) (*models.Sequential, []models.EpochStats, string, error) {
	if pl.ckpt != nil {
		pl.ckpt.SetWorkers(workers)
		fmt.Fprintf(logw, "model %s: weights from %s\n", pl.ckpt.Arch(), cfg.Model.Checkpoint)
		return pl.ckpt, nil, cfg.Model.Checkpoint, nil
	}
	net, err := models.NewNetwork(cfg.Model.Arch, pl.classes, pl.seed)
	if err != nil {
		return nil, nil, "", err
	}
	net.SetWorkers(workers)
	if store == nil {
		return nil, nil, "", errors.New("model: no cache to keep the trained weights in")
	}
	load := func(e *cache.Entry) ([]models.EpochStats, bool) {
		if err := models.LoadCheckpoint(e.Path("model.safetensors"), net); err != nil {
			fmt.Fprintf(logw, "model %s: cache entry %s unusable, retraining: %v\n", net.Arch(), e.Dir, err)
			return nil, false
		}
		var stats []models.EpochStats
		if b, err := os.ReadFile(e.Path("train_log.json")); err == nil {
			json.Unmarshal(b, &stats)
		}
		fmt.Fprintf(logw, "model %s: cached weights %s\n", net.Arch(), e.Dir)
		return stats, true
	}
	if e, ok, err := store.Get(pl.key); err != nil {
		return nil, nil, "", err
	} else if ok {
		if stats, ok := load(e); ok {
			return net, stats, e.Dir, nil
		}
	}
	// One process trains; others (shards sharing the cache) wait for it.
	lock, err := store.Lock(ctx, pl.key)
	if err != nil {
		return nil, nil, "", err
	}
	defer lock.Unlock()
	if e, ok, err := store.Get(pl.key); err != nil {
		return nil, nil, "", err
	} else if ok {
		if stats, ok := load(e); ok {
			return net, stats, e.Dir, nil
		}
	}
	tr := cfg.Train
	var test *datasets.Set
	if inAll != nil && cfg.Evaluate.InDist.Dataset == tr.Dataset && !slices.Contains(inAll.Labels, -1) {
		test = inAll // monitoring only: no choice depends on it
	}
	fmt.Fprintf(logw, "model %s: training on %s (%d images, %d epochs)\n", net.Arch(), pl.train.Name, pl.train.Len(), tr.Epochs)
	stats, err := net.Train(ctx, pl.train, test, models.TrainConfig{Epochs: tr.Epochs, BatchSize: tr.BatchSize, LearningRate: tr.LearningRate, Schedule: tr.Schedule, Seed: pl.seed}, logw)
	if err != nil {
		return nil, nil, "", err
	}
	b, err := json.MarshalIndent(stats, "", "  ")
	if err != nil {
		return nil, nil, "", fmt.Errorf("training log: %w", err)
	}
	e, err := store.PutDir(pl.key, fmt.Sprintf("%s trained on %s (%d images, %d epochs)", net.Arch(), pl.train.Name, pl.train.Len(), tr.Epochs), func(dir string) error {
		if err := atomicfile.WriteFile(filepath.Join(dir, "train_log.json"), append(b, '\n')); err != nil {
			return err
		}
		return models.SaveCheckpoint(filepath.Join(dir, "model.safetensors"), net)
	})
	if err != nil {
		return nil, nil, "", err
	}
	return net, stats, e.Dir, nil
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
