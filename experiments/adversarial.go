package experiments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/purview-lab/purview/attacks"
	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/detectors"
	"github.com/purview-lab/purview/internal/cache"
	"github.com/purview-lab/purview/report"
)

// buildAttacks builds every [[attack]] of cfg (decoding its table strictly)
// and returns them with their row labels.
func buildAttacks(cfg *Config) ([]attacks.Attack, []string, error) {
	var out []attacks.Attack
	var names []string
	for _, spec := range cfg.Attacks {
		a, err := attacks.New(spec.Type, spec.Params)
		if err == nil {
			err = spec.Params.CheckUsed()
		}
		if err != nil {
			return nil, nil, spec.Params.WrapError(err)
		}
		name := spec.Name
		if name == "" {
			name = a.Name()
		}
		if slices.Contains(names, name) {
			return nil, nil, cfg.KeyError(fmt.Sprintf("attack[%d]", spec.Index), "two attacks are named %q; set name = \"...\" on one", name)
		}
		out = append(out, a)
		names = append(names, name)
	}
	return out, names, nil
}

// attackCode versions cached adversarial blocks: bump it when an attack
// would produce different images for the same parameters, model and inputs.
const attackCode = "purview attacks v1"

// attackSet attacks every sample of in (true labels) block by block. Each
// block of blockRows samples is one cache entry, keyed by the attack's
// table, the batch size, the weights, the block's pixels and labels and the
// seed; its random draws come from Seed("attack:"+name+"#"+the first 16 hex
// digits of its pixels' SHA-256), so a shard (whole blocks) crafts exactly the
// examples an unsharded run does, and a killed run resumes block by block.
func attackSet(ctx context.Context, cfg *Config, k int, a attacks.Attack, name string, net *cachedNet, in *datasets.Set) ([]float32, error) {
	spec := cfg.Attacks[k]
	section, err := json.Marshal(struct {
		Type, Name string
		Params     *TableDecoder
		BatchSize  int
	}{spec.Type, name, spec.Params, cfg.Adversarial.BatchSize})
	if err != nil {
		return nil, err
	}
	d := in.Dim()
	adv := make([]float32, len(in.Images))
	err = blocks(in.Len(), func(lo, hi int) error {
		x, y := in.Images[lo*d:hi*d], in.Labels[lo:hi]
		pix := pixelsChecksum(x)
		seed := cfg.Seed("attack:" + name + "#" + pix[:16])
		var key cache.Key
		if net.store != nil {
			lb, _ := json.Marshal(y)
			ls := sha256.Sum256(lb)
			key = cache.NewKey(cache.KindAdversarial, section, attackCode,
				cache.Input{Name: "model", Checksum: net.model}, cache.Input{Name: "pixels", Checksum: pix},
				cache.Input{Name: "labels", Checksum: hex.EncodeToString(ls[:])}, cache.Input{Name: "seed", Checksum: strconv.FormatUint(seed, 16)})
			if e, ok, err := net.store.Get(key); err != nil {
				return err
			} else if ok {
				if b, err := os.ReadFile(e.Path("adv.bin")); err == nil && len(b) == 4*len(x) {
					bytesF32(b, adv[lo*d:hi*d])
					return nil
				}
			}
		}
		res, err := attacks.Run(ctx, a, net.Inspector, x, y, attacks.Options{BatchSize: cfg.Adversarial.BatchSize, Workers: 1, Seed: seed})
		if err != nil {
			return fmt.Errorf("attack[%d] %s: %w", spec.Index, name, err)
		}
		copy(adv[lo*d:hi*d], res.Adv)
		if net.store != nil {
			if _, err := net.store.Put(key, fmt.Sprintf("%s on %d images", name, hi-lo), map[string]func(io.Writer) error{
				"adv.bin": func(w io.Writer) error { _, err := w.Write(f32bytes(res.Adv)); return err },
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return adv, err
}

// adversarialPairs attacks the evaluated in-distribution samples with every
// [[attack]] and returns one pair per attack — normal: the clean images
// that the model classifies correctly and whose attack succeeded (plus their
// noisy controls when asked), anomalous: those adversarial images — and the
// attack summary grid.
//
// This is the protocol of the KD+BU, LID and Mahalanobis papers: samples the
// model misclassifies before the attack, and attacks that fail, are left out,
// so every pair compares the same images before and after a successful
// attack. (Misclassified samples are attacked too — it keeps the work
// per-block — and then dropped.)
func adversarialPairs(ctx context.Context, cfg *Config, st *setup, net *cachedNet, in *evalSet, log io.Writer, dir string, man *Manifest) ([]pair, *report.Grid, []string, error) {
	s := in.set
	n, d, C := s.Len(), s.Dim(), net.Classes()
	if slices.Contains(s.Labels, -1) {
		return nil, nil, nil, fmt.Errorf("adversarial protocol: %s has unlabelled samples; attacks need the true labels", s.Name)
	}
	logits, _, err := net.Forward(s.Images, n)
	if err != nil {
		return nil, nil, nil, err
	}
	cleanPred := make([]int, n)
	correct := 0
	for i := range cleanPred {
		cleanPred[i] = argmax32(logits[i*C : (i+1)*C])
		if cleanPred[i] == s.Labels[i] {
			correct++
		}
	}
	fmt.Fprintf(log, "adversarial: the model classifies %d of %d samples of %s correctly\n", correct, n, s.Name)

	grid := &report.Grid{
		Title:  fmt.Sprintf("%s: attacks on %s (%d of %d samples of %s classified correctly)", cfg.Name, net.Arch(), correct, n, s.Name),
		Corner: "attack",
		Cols:   []string{"accuracy", "success", "kept", "mean L∞", "max L∞", "mean L2", "max L2"},
		Units:  []report.Unit{report.Percent, report.Percent, report.Plain, report.Plain, report.Plain, report.Plain, report.Plain},
		Note: "accuracy: the model's accuracy under attack on all evaluated samples (×100); success: share of the correctly " +
			"classified samples the attack made misclassified (×100); kept: those successful adversarial examples, the " +
			"anomalies of the detection task; norms over the kept examples, in [0,1] pixel units.",
	}
	var pairs []pair
	var files []string
	for k := range cfg.Attacks {
		a, name := st.attacks[k], st.attackNames[k]
		start := time.Now()
		advAll, err := attackSet(ctx, cfg, k, a, name, net, s)
		if err != nil {
			return nil, nil, nil, err
		}
		advLogits, _, err := net.Forward(advAll, n)
		if err != nil {
			return nil, nil, nil, err
		}
		res := &attacks.Result{Attack: name, N: n, C: s.C, H: s.H, W: s.W, Adv: advAll, Labels: s.Labels, CleanPred: cleanPred,
			Pred: make([]int, n), Success: make([]bool, n), Linf: make([]float64, n), L2: make([]float64, n)}
		var ok []int
		for i := range n {
			res.Pred[i] = argmax32(advLogits[i*C : (i+1)*C])
			res.Success[i] = res.Pred[i] != s.Labels[i]
			res.Linf[i], res.L2[i] = attacks.Distances(s.Image(i), advAll[i*d:(i+1)*d])
			if res.Success[i] && cleanPred[i] == s.Labels[i] {
				ok = append(ok, i)
			}
		}
		res.Elapsed = time.Since(start)
		man.AddPhase("attack "+name, res.Elapsed) // times go to the manifest, not attacks.md, which reruns must reproduce
		sum := res.Summary()
		fmt.Fprintf(log, "attack %s\n", sum)
		res.Elapsed = 0 // saved files hold no timings, so a rerun writes the same bytes
		grid.Rows = append(grid.Rows, name)
		grid.Values = append(grid.Values, []float64{sum.Accuracy, sum.SuccessRate, float64(sum.Fooled), sum.MeanLinf, sum.MaxLinf, sum.MeanL2, sum.MaxL2})
		if cfg.Adversarial.Save {
			base := "adv_" + fileSafe(name)
			if err := attacks.Save(filepath.Join(dir, base), res); err != nil {
				return nil, nil, nil, err
			}
			files = append(files, base+".npy", base+".json")
		}
		if len(ok) < cfg.Evaluate.Folds {
			if !st.sharded {
				fmt.Fprintf(log, "attack %s: only %d successful adversarial examples; left out of the detection table\n", name, len(ok))
			}
			continue
		}
		advSet := &datasets.Set{Name: name, C: s.C, H: s.H, W: s.W,
			Images: make([]float32, len(ok)*d), Labels: make([]int, len(ok)), Index: make([]int, len(ok))}
		for j, i := range ok {
			copy(advSet.Images[j*d:(j+1)*d], advAll[i*d:(i+1)*d])
			advSet.Labels[j] = s.Labels[i]
			advSet.Index[j] = s.Index[i]
		}
		normal := &evalSet{set: s.Subset(ok), probe: in.probe.Subset(ok)}
		if cfg.Adversarial.Noisy {
			noisy := attacks.NoisyLike(normal.set.Images, advSet.Images, len(ok), s.C, s.H, s.W, cfg.Seed("noisy:"+name))
			both := &datasets.Set{Name: s.Name + "+noisy", C: s.C, H: s.H, W: s.W,
				Images: append(slices.Clone(normal.set.Images), noisy...),
				Labels: append(slices.Clone(normal.set.Labels), normal.set.Labels...),
				Index:  append(slices.Clone(normal.set.Index), normal.set.Index...)}
			normal = &evalSet{set: both, probe: detectors.NewSetProbe(net, both)}
		}
		pairs = append(pairs, pair{name: name, normal: normal, anom: &evalSet{set: advSet, probe: detectors.NewSetProbe(net, advSet)}})
	}
	if len(pairs) == 0 && !st.sharded {
		return nil, nil, nil, fmt.Errorf("adversarial protocol: no attack produced at least %d successful adversarial examples (evaluate.folds)", cfg.Evaluate.Folds)
	}
	return pairs, grid, files, nil
}

func argmax32(v []float32) int {
	b := 0
	for i, x := range v {
		if x > v[b] {
			b = i
		}
	}
	return b
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
