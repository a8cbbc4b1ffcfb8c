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
	"slices"

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
	loaded  *models.Sequential // the network with model.weights (nil when training)
	nameMap string             // the name map model.weights loaded under
	train   *datasets.Set      // training set (nil when loading weights)
	seed    uint64             // initialisation and shuffling seed
	key     cache.Key          // cache key of the trained weights
}

// modelSource says where a network's weights came from, for the manifest.
type modelSource struct {
	weights string // the safetensors file
	sha256  string // of its bytes, hex
	nameMap string // the name map it was loaded under ("" for a trained model)
}

// planModel reads model.weights, or loads the training set, and fixes the
// class count.
func planModel(cfg *Config, load loadFunc) (*modelPlan, error) {
	if !cfg.TrainsModel() {
		return planWeights(cfg, load)
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
	section, err := modelSection(cfg, classes)
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

// modelSection is the config part of the trained model's cache key: the
// architecture, [train] (see Train.hashView), the training set's table, the
// class count and, only when set, the input normalisation — so the keys of
// files written before model.mean existed did not change.
func modelSection(cfg *Config, classes int) ([]byte, error) {
	return json.Marshal(struct {
		Arch    string
		Train   Train
		Data    DatasetSpec
		Classes int
		Mean    []float64 `json:",omitempty"`
		Std     []float64 `json:",omitempty"`
	}{cfg.Model.Arch, cfg.Train.hashView(), cfg.Datasets[cfg.Train.Dataset], classes, cfg.Model.Mean, cfg.Model.Std})
}

// planWeights loads model.weights (models.LoadWeights, under model.name_map)
// with the class count of its classifier, which must match the
// in-distribution set's when that is labelled.
func planWeights(cfg *Config, load loadFunc) (*modelPlan, error) {
	path := cfg.Model.Weights
	net, used, err := models.LoadWeights(path, cfg.Spec(0, 0), cfg.Model.NameMap)
	if err != nil {
		return nil, cfg.KeyError("model.weights", "%v", err)
	}
	in, err := load("evaluate.in_dist", cfg.Evaluate.InDist)
	if err != nil {
		return nil, err
	}
	if k, ok := classCount(in); ok && k != net.Classes() {
		return nil, cfg.KeyError("model.weights", "%s holds a %d-class classifier, but the in-distribution set %s has %d classes (labels 0–%d)",
			path, net.Classes(), in.Name, k, k-1)
	}
	return &modelPlan{classes: net.Classes(), loaded: net, nameMap: used}, nil
}

// classCount is 1 + the largest label of s; false when s is empty or has an
// unlabelled sample.
func classCount(s *datasets.Set) (int, bool) {
	k := 0
	for _, l := range s.Labels {
		if l < 0 {
			return 0, false
		}
		k = max(k, l+1)
	}
	return k, k > 0
}

// trainStatePath is where training keeps its resumable state
// (models.TrainConfig.StatePath) while the model of key is being trained:
// <cache>/.train/<kind>-<key>.state, beside the cache's entries but not one
// of them (cache ls and gc skip dot directories). Only the holder of the
// key's compute lock touches it.
func trainStatePath(store *cache.Store, key cache.Key) string {
	return filepath.Join(store.Dir(), cache.StateDir, key.Kind()+"-"+key.String()+".state")
}

// build returns the network of the plan: model.weights, or the training
// cache entry, or weights trained now with [train] and cached. It also
// returns the training log when known, and where the weights came from.
//
// Training is resumable: the state after every epoch is kept at
// trainStatePath, so a run that was interrupted (or killed) continues from
// its last finished epoch and ends with the weights of an uninterrupted run.
// The state file goes once the model is in the cache.
func (pl *modelPlan) build(ctx context.Context, cfg *Config, store *cache.Store, inAll *datasets.Set, workers int, logw io.Writer) (*models.Sequential, []models.EpochStats, modelSource, error) {
	if pl.loaded != nil {
		pl.loaded.SetWorkers(workers)
		path := cfg.Model.Weights
		sum, err := fileSHA256(path)
		if err != nil {
			return nil, nil, modelSource{}, cfg.KeyError("model.weights", "%v", err)
		}
		fmt.Fprintf(logw, "model %s: weights from %s (name map %s)\n", pl.loaded.Arch(), path, pl.nameMap)
		return pl.loaded, nil, modelSource{weights: path, sha256: sum, nameMap: pl.nameMap}, nil
	}
	net, err := models.New(cfg.Spec(pl.classes, pl.seed))
	if err != nil {
		return nil, nil, modelSource{}, err
	}
	net.SetWorkers(workers)
	if store == nil {
		return nil, nil, modelSource{}, errors.New("model: no cache to keep the trained weights in")
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
		return nil, nil, modelSource{}, err
	} else if ok {
		if stats, ok := load(e); ok {
			return net, stats, entrySource(e), nil
		}
	}
	// One process trains; others (shards sharing the cache) wait for it.
	lock, err := store.Lock(ctx, pl.key)
	if err != nil {
		return nil, nil, modelSource{}, err
	}
	defer lock.Unlock()
	if e, ok, err := store.Get(pl.key); err != nil {
		return nil, nil, modelSource{}, err
	} else if ok {
		if stats, ok := load(e); ok {
			return net, stats, entrySource(e), nil
		}
	}
	tr := cfg.Train
	var test *datasets.Set
	if inAll != nil && cfg.Evaluate.InDist.Dataset == tr.Dataset && !slices.Contains(inAll.Labels, -1) {
		test = inAll // monitoring only: no choice depends on it
	}
	tc := tr.TrainConfig()
	tc.Seed = pl.seed
	tc.StatePath = trainStatePath(store, pl.key)
	if err := os.MkdirAll(filepath.Dir(tc.StatePath), 0o755); err != nil {
		return nil, nil, modelSource{}, fmt.Errorf("model: training state: %w", err)
	}
	// The stats of epochs run by earlier, interrupted calls (Train returns
	// only those it runs itself).
	logPath := tc.StatePath + ".log.json"
	var earlier []models.EpochStats
	if b, err := os.ReadFile(logPath); err == nil {
		json.Unmarshal(b, &earlier)
	}
	fmt.Fprintf(logw, "model %s: training on %s (%d images, %d epochs)\n", net.Arch(), pl.train.Name, pl.train.Len(), tr.Epochs)
	stats, err := net.Train(ctx, pl.train, test, tc, logw)
	stats = mergeStats(earlier, stats)
	if err != nil {
		if b, jerr := json.Marshal(stats); jerr == nil && len(stats) > 0 {
			atomicfile.WriteFile(logPath, b) // best effort: only the log of a resumed run depends on it
		}
		return nil, nil, modelSource{}, err
	}
	b, err := json.MarshalIndent(stats, "", "  ")
	if err != nil {
		return nil, nil, modelSource{}, fmt.Errorf("training log: %w", err)
	}
	e, err := store.PutDir(pl.key, fmt.Sprintf("%s trained on %s (%d images, %d epochs)", net.Arch(), pl.train.Name, pl.train.Len(), tr.Epochs), func(dir string) error {
		if err := atomicfile.WriteFile(filepath.Join(dir, "train_log.json"), append(b, '\n')); err != nil {
			return err
		}
		return models.SaveCheckpoint(filepath.Join(dir, "model.safetensors"), net)
	})
	if err != nil {
		return nil, nil, modelSource{}, err
	}
	for _, f := range []string{tc.StatePath, logPath} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(logw, "model %s: could not remove the training state: %v\n", net.Arch(), err)
		}
	}
	return net, stats, entrySource(e), nil
}

// mergeStats puts the epochs of earlier calls before those of the last one,
// each epoch once (the last call's wins).
func mergeStats(earlier, last []models.EpochStats) []models.EpochStats {
	first := math.MaxInt
	if len(last) > 0 {
		first = last[0].Epoch
	}
	var out []models.EpochStats
	for _, s := range earlier {
		if s.Epoch < first && (len(out) == 0 || s.Epoch > out[len(out)-1].Epoch) {
			out = append(out, s)
		}
	}
	return append(out, last...)
}

// entrySource describes the weights of a training cache entry.
func entrySource(e *cache.Entry) modelSource {
	src := modelSource{weights: e.Path("model.safetensors")}
	for _, f := range e.Manifest.Files {
		if f.Name == "model.safetensors" {
			src.sha256 = f.SHA256
		}
	}
	if src.sha256 == "" {
		src.sha256, _ = fileSHA256(src.weights)
	}
	return src
}

// fileSHA256 is the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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
