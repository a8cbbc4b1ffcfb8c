package experiments

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"codeberg.org/sbinet/npyio"
	"github.com/purview-lab/purview/attacks"
	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/detectors"
	"github.com/purview-lab/purview/internal/atomicfile"
	"github.com/purview-lab/purview/internal/cache"
	"github.com/purview-lab/purview/metrics"
	"github.com/purview-lab/purview/models"
	"github.com/purview-lab/purview/report"
	"gonum.org/v1/gonum/mat"
)

// RunOptions are the command-line choices that override the config.
type RunOptions struct {
	Out     string // output root; "" = the config's out
	Workers int    // 0 = the config's workers
	Cache   string // cache directory; "" = the config's model.cache
	// Shard, when Shard.N > 1, makes this process compute only part I of the
	// per-sample work (a contiguous range of whole blocks of every set) into
	// the cache, for Merge to assemble; it writes a receipt instead of a run
	// directory.
	Shard  Shard
	Stdout io.Writer
	Stderr io.Writer // progress and log lines
}

// setup is everything Run checks before expensive work starts.
type setup struct {
	plan      *modelPlan
	build     func(DetectorSpec) (detectors.Detector, error)
	names     []string // column names, in config order
	dets      []detectors.Detector
	confounds []models.Confound // of the purview detectors, in config order
	inAll     *datasets.Set     // the whole in-distribution split
	in, fit   *datasets.Set     // the evaluated in-distribution samples, the fit samples
	anoms     []*datasets.Set   // the evaluated samples of each anomaly set

	attacks     []attacks.Attack // adversarial protocol: the [[attack]]s
	attackNames []string         // and their row labels
	corruptions []string         // corruption protocol: the corruptions, in order
	sharded     bool             // computing one shard: tolerate sets too small to evaluate
}

// loadFunc reads the whole set ref, named in errors by its config key.
type loadFunc func(key string, ref Ref) (*datasets.Set, error)

// newLoader builds every dataset source of cfg (decoding their tables
// strictly) and returns the function that loads a set in the model's input
// shape, each set once: the training and fit sets are usually the same split.
// Sets are never modified after loading (sample copies), so sharing is safe.
func newLoader(cfg *Config) (loadFunc, error) {
	sources, err := buildSources(cfg)
	if err != nil {
		return nil, err
	}
	c, h, w, err := models.InputShapeOf(cfg.Model.Arch)
	if err != nil {
		return nil, cfg.KeyError("model.arch", "%v", err)
	}
	loaded := map[Ref]*datasets.Set{}
	return func(key string, ref Ref) (*datasets.Set, error) {
		if set, ok := loaded[ref]; ok {
			return set, nil
		}
		set, err := loadRef(cfg, sources[ref.Dataset], key, ref, c, h, w)
		if err != nil {
			return nil, err
		}
		loaded[ref] = set
		return set, nil
	}, nil
}

// newSetup builds every dataset source and detector of cfg (decoding their
// tables strictly), loads every set it names, checking splits and image
// shapes, and reads model.weights or the training set to learn the class
// count: everything a configuration can get wrong is reported before a model
// trains.
func newSetup(cfg *Config) (*setup, error) {
	load, err := newLoader(cfg)
	if err != nil {
		return nil, err
	}
	st := &setup{}
	if st.plan, err = planModel(cfg, load); err != nil {
		return nil, err
	}
	ev := cfg.Evaluate
	if st.inAll, err = load("evaluate.in_dist", ev.InDist); err != nil {
		return nil, err
	}
	st.in = sample(st.inAll, ev.Samples, cfg.Seed("eval:"+ev.InDist.String()))
	fit, err := load("evaluate.fit", ev.Fit)
	if err != nil {
		return nil, err
	}
	st.fit = sample(fit, ev.FitSamples, cfg.Seed("fit:"+ev.Fit.String()))
	for i, ref := range ev.Anomalies {
		set, err := load(fmt.Sprintf("evaluate.anomalies[%d]", i), ref)
		if err != nil {
			return nil, err
		}
		st.anoms = append(st.anoms, sample(set, ev.Samples, cfg.Seed("eval:"+ref.String())))
	}

	env := detectors.Env{Classes: st.plan.classes}
	switch ev.Protocol {
	case ProtocolAdversarial:
		if st.attacks, st.attackNames, err = buildAttacks(cfg); err != nil {
			return nil, err
		}
	case ProtocolCorruption:
		if st.corruptions, err = expandCorruptions(cfg); err != nil {
			return nil, err
		}
	}
	st.build = func(spec DetectorSpec) (detectors.Detector, error) {
		d, err := detectors.New(spec.Type, env, spec.Params)
		if err == nil {
			err = spec.Params.CheckUsed()
		}
		if err != nil {
			return nil, spec.Params.WrapError(err)
		}
		return d, nil
	}
	for _, spec := range cfg.Detectors {
		d, err := st.build(spec)
		if err != nil {
			return nil, err
		}
		name := spec.Name
		if name == "" {
			name = d.Name()
		}
		if slices.Contains(st.names, name) {
			return nil, fmt.Errorf("%s: detector[%d]: two detectors are named %q; set name = \"...\" on one", cfg.File, spec.Index, name)
		}
		if d.Kind() == detectors.Supervised {
			for _, s := range append([]*datasets.Set{st.in}, st.anoms...) {
				if s.Len() < ev.Folds {
					return nil, cfg.KeyError("evaluate.folds", "%d-fold cross-validation of %s needs at least %d samples per set; %s has %d", ev.Folds, name, ev.Folds, s.Name, s.Len())
				}
			}
		}
		st.names = append(st.names, name)
		st.dets = append(st.dets, d)
		if cf, ok := d.(interface{ Confound() models.Confound }); ok {
			st.confounds = append(st.confounds, cf.Confound())
		}
	}
	return st, nil
}

// buildSources builds every [datasets.KEY] table's source, decoding its
// parameters strictly.
func buildSources(cfg *Config) (map[string]datasets.Source, error) {
	sources := map[string]datasets.Source{}
	for _, key := range cfg.DatasetOrder {
		spec := cfg.Datasets[key]
		src, err := datasets.New(spec.Kind, spec.Params)
		if err == nil {
			err = spec.Params.CheckUsed()
		}
		if err != nil {
			return nil, spec.Params.WrapError(err)
		}
		sources[key] = src
	}
	return sources, nil
}

// CheckOffline checks what can be checked without data or a model: every
// dataset, detector and attack table decodes strictly into its parameters,
// and every corruption is known. Detectors are built for classes classes
// (the model's class count is not known without its weights or data).
// It reads no data file.
func CheckOffline(cfg *Config, classes int) error {
	if _, err := buildSources(cfg); err != nil {
		return err
	}
	switch cfg.Evaluate.Protocol {
	case ProtocolAdversarial:
		if _, _, err := buildAttacks(cfg); err != nil {
			return err
		}
	case ProtocolCorruption:
		if _, err := expandCorruptions(cfg); err != nil {
			return err
		}
	}
	env := detectors.Env{Classes: classes}
	var names []string
	for _, spec := range cfg.Detectors {
		d, err := detectors.New(spec.Type, env, spec.Params)
		if err == nil {
			err = spec.Params.CheckUsed()
		}
		if err != nil {
			return spec.Params.WrapError(err)
		}
		name := spec.Name
		if name == "" {
			name = d.Name()
		}
		if slices.Contains(names, name) {
			return fmt.Errorf("%s: detector[%d]: two detectors are named %q; set name = \"...\" on one", cfg.File, spec.Index, name)
		}
		names = append(names, name)
	}
	return nil
}

// InDistSet loads the whole in-distribution set of cfg (evaluate.in_dist),
// adapted to the model's input shape as its dataset table says.
func InDistSet(cfg *Config) (*datasets.Set, error) {
	sources, err := buildSources(cfg)
	if err != nil {
		return nil, err
	}
	c, h, w, err := models.InputShapeOf(cfg.Model.Arch)
	if err != nil {
		return nil, cfg.KeyError("model.arch", "%v", err)
	}
	ref := cfg.Evaluate.InDist
	return loadRef(cfg, sources[ref.Dataset], "evaluate.in_dist", ref, c, h, w)
}

// loadRef reads the set ref (named by config key) from src, checking its
// split, applies its dataset's adapt steps and checks that it has the
// model's c×h×w images.
func loadRef(cfg *Config, src datasets.Source, key string, ref Ref, c, h, w int) (*datasets.Set, error) {
	switch splits := src.Splits(); {
	case len(splits) == 0 && ref.Split != "":
		return nil, cfg.KeyError(key, "dataset %q (%s) has no splits; refer to it as %q", ref.Dataset, src.Kind(), ref.Dataset)
	case len(splits) > 0 && !slices.Contains(splits, ref.Split):
		return nil, cfg.KeyError(key, "dataset %q (%s) has no split %q; its splits are %s (write e.g. \"%s:%s\")",
			ref.Dataset, src.Kind(), ref.Split, strings.Join(splits, ", "), ref.Dataset, splits[len(splits)-1])
	}
	set, err := src.Load(datasets.Request{Split: ref.Split, C: c, H: h, W: w, Seed: cfg.Seed("data:" + ref.String())})
	if err != nil {
		return nil, cfg.KeyError(key, "%v", err)
	}
	set.Name = ref.String()
	if adapt := cfg.Datasets[ref.Dataset].Adapt; len(adapt) > 0 {
		if set, err = datasets.Adapt(set, c, h, w, datasets.AdaptSpec{Steps: adapt}); err != nil {
			return nil, cfg.KeyError("datasets."+ref.Dataset+".adapt", "%v", err)
		}
	}
	if set.C != c || set.H != h || set.W != w {
		return nil, cfg.KeyError(key, "%s has %dx%dx%d images; model %s takes %dx%dx%d (add e.g. adapt = [\"channels\", \"resize\"] to [datasets.%s])", set.Name, set.C, set.H, set.W, cfg.Model.Arch, c, h, w, ref.Dataset)
	}
	return set, nil
}

// Check does everything Run does before training: it builds every dataset
// and detector from its table and reads model.weights or the training set.
// It writes nothing.
func Check(cfg *Config) error {
	_, err := newSetup(cfg)
	return err
}

// Run executes the experiment of cfg: it trains (or loads from the cache, or
// from cfg.Model.Weights) the model, draws the evaluation sets, runs every
// detector, computes the metrics and writes the run directory. It ends by
// printing the AUROC table on opts.Stdout.
func Run(ctx context.Context, cfg *Config, opts RunOptions) error {
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	log := opts.Stderr
	out := cfg.Out
	if opts.Out != "" {
		out = opts.Out
	}
	workers := opts.workers(cfg)
	st, err := newSetup(cfg)
	if err != nil {
		return err
	}
	plan, names, dets := st.plan, st.names, st.dets
	store, err := cache.Open(opts.cacheDir(cfg))
	if err != nil {
		return err
	}
	sharded := opts.Shard.N > 1
	st.sharded = sharded
	if sharded {
		if err := opts.Shard.check(); err != nil {
			return err
		}
		st.in = shardSet(st.in, opts.Shard)
		st.fit = shardSet(st.fit, opts.Shard)
		for i, s := range st.anoms {
			st.anoms[i] = shardSet(s, opts.Shard)
		}
	}

	var rd *RunDir
	var dir string
	if sharded {
		// A shard's outputs are its cache entries; the tables and figures it
		// would draw from a part of the data are thrown away.
		if dir, err = os.MkdirTemp("", "purview-shard-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else {
		if rd, err = CreateRunDir(out, cfg.Name); err != nil {
			return err
		}
		dir = rd.Path
	}
	committed := false
	defer func() {
		if !committed && rd != nil {
			rd.Discard()
		}
	}()
	man := NewManifest(cfg, time.Now())
	write := func(name string, data []byte) error {
		man.AddOutput(name)
		return atomicfile.WriteFile(filepath.Join(dir, name), data)
	}
	if err := write("config.toml", cfg.Raw); err != nil {
		return err
	}
	if sharded {
		fmt.Fprintf(log, "purview: run %q, shard %s, into the cache %s (%d workers)\n", cfg.Name, opts.Shard, store.Dir(), workers)
	} else {
		fmt.Fprintf(log, "purview: run %q → %s (%d workers)\n", cfg.Name, rd.Final(), workers)
	}

	// The model.
	phase := time.Now()
	raw, trainLog, src, err := plan.build(ctx, cfg, store, st.inAll, workers, log)
	if err != nil {
		return err
	}
	man.AddPhase("train", time.Since(phase))
	net := newCachedNet(raw, store)
	if trainLog != nil {
		b, err := json.MarshalIndent(trainLog, "", "  ")
		if err != nil {
			return fmt.Errorf("training log: %w", err)
		}
		if err := write("train_log.json", append(b, '\n')); err != nil {
			return err
		}
	}
	ckpt := filepath.Join(dir, "model.safetensors")
	if err := models.SaveCheckpoint(ckpt, raw); err != nil {
		return err
	}
	man.AddOutput("model.safetensors")

	// The model's accuracy is measured on the whole in-distribution split,
	// the detectors see a sample of it.
	phase = time.Now()
	inAll, inSet, fitSet, anomSets := st.inAll, st.in, st.fit, st.anoms
	man.Model = newModelSummary(raw, src)
	man.Model.AccuracyOn = inAll.Name
	testAcc := math.NaN()
	if sharded {
		// A shard computes its part of the accuracy's forward passes, for
		// the merge to read back.
		part := shardSet(inAll, opts.Shard)
		if _, _, err := net.Forward(part.Images, part.Len()); err != nil {
			return err
		}
	} else if !slices.Contains(inAll.Labels, -1) {
		if testAcc, err = accuracyOf(net, inAll); err != nil {
			return err
		}
		man.Model.Accuracy = &testAcc
		fmt.Fprintf(log, "model %s: accuracy on %s %.2f%%\n", net.Arch(), inAll.Name, 100*testAcc)
	}

	// The detection tasks, then the detectors on probes that compute each
	// model quantity once.
	fitProbe := detectors.NewSetProbe(net, fitSet)
	inEval := &evalSet{set: inSet, probe: detectors.NewSetProbe(net, inSet)}
	sc := newScorer(cfg, st, scoreOptions{folds: cfg.Evaluate.Folds, repeats: cfg.Evaluate.Repeats, fit: fitProbe, fitName: fitSet.Name, log: log,
		quiet: cfg.Evaluate.Protocol == ProtocolCorruption})
	var (
		pairs       []pair
		results     map[string][]scored
		featureSets []*evalSet
		summary     *report.Grid // printed instead of the detector × pair table
		extra       []*report.Grid
		cr          *corruptionRun
	)
	switch cfg.Evaluate.Protocol {
	case ProtocolOOD:
		for _, s := range anomSets {
			pairs = append(pairs, pair{name: s.Name, normal: inEval, anom: &evalSet{set: s, probe: detectors.NewSetProbe(net, s)}})
		}
		if results, err = sc.score(ctx, pairs); err != nil {
			return err
		}
		featureSets = distinctSets(pairs)
	case ProtocolAdversarial:
		var attackGrid *report.Grid
		var files []string
		if pairs, attackGrid, files, err = adversarialPairs(ctx, cfg, st, net, inEval, log, dir, man); err != nil {
			return err
		}
		man.AddOutput(files...)
		if err := writeGrid(filepath.Join(dir, "attacks"), attackGrid); err != nil {
			return err
		}
		man.AddOutput("attacks.md", "attacks.csv")
		extra = append(extra, attackGrid)
		if results, err = sc.score(ctx, pairs); err != nil {
			return err
		}
		featureSets = distinctSets(pairs)
	case ProtocolCorruption:
		if cr, err = runCorruptions(ctx, cfg, st, net, inEval, sc, workers, log); err != nil {
			return err
		}
		pairs, results = cr.pairs, cr.result
		featureSets = append([]*evalSet{inEval}, cr.worst...)
	}
	if cr != nil {
		sc.report()
	}
	man.AddPhase("score", time.Since(phase))
	fmt.Fprintf(log, "cache: %d blocks of model quantities reused, %d computed\n", net.hits.Load(), net.misses.Load())
	if sharded {
		return writeReceipt(out, cfg, opts.Shard, store.Dir(), net)
	}

	// Metrics.
	phase = time.Now()
	table := &report.Table{
		Title:     fmt.Sprintf("%s: %s, in-distribution %s (%d samples per set)", cfg.Name, net.Arch(), inSet.Name, inSet.Len()),
		InDist:    inSet.Name,
		Detectors: names,
	}
	switch cfg.Evaluate.Protocol {
	case ProtocolAdversarial:
		table.Title = fmt.Sprintf("%s: %s, clean %s images vs their successful adversarial versions (one column per attack)", cfg.Name, net.Arch(), inSet.Name)
		table.InDist = "clean " + inSet.Name
	case ProtocolCorruption:
		table.Title = fmt.Sprintf("%s: %s, clean %s images vs their corrupted versions (%d + %d samples per task)", cfg.Name, net.Arch(), inSet.Name, inSet.Len(), inSet.Len())
		table.InDist = "clean " + inSet.Name
	}
	if table.Cells, err = pairCells(pairs, names, dets, results); err != nil {
		return err
	}
	for _, p := range pairs {
		table.Sets = append(table.Sets, p.name)
	}
	var claim *Claim
	if cfg.Paper != nil {
		family := map[string]bool{}
		for i, n := range names {
			family[n] = cfg.Detectors[i].Type == PurviewType
		}
		if claim, err = ComputeClaim(cfg.Paper.Claim, table, func(d string) bool { return family[d] }); err != nil {
			return err
		}
		man.Claim = claim
	}
	man.AddPhase("metrics", time.Since(phase))

	// Outputs.
	phase = time.Now()
	if err := table.WriteAll(dir); err != nil {
		return err
	}
	man.AddOutput("table.md", "table.csv", "table.json", "table.tex")
	if claim != nil {
		if err := write("claims.md", []byte(claim.Markdown(cfg.Name))); err != nil {
			return err
		}
		if err := write("claims.json", claim.JSON()); err != nil {
			return err
		}
	}
	scores, err := scoresCSV(names, pairs, results)
	if err != nil {
		return err
	}
	if err := write("scores.csv", scores); err != nil {
		return err
	}
	if cr == nil { // the corruption protocol draws AUROC against severity instead
		rocs, err := writeROCs(dir, net.Arch(), names, pairs, results)
		if err != nil {
			return err
		}
		man.AddOutput(rocs...)
	} else {
		files, sum, err := writeCorruptionReports(dir, cfg, st, net, inEval, cr)
		if err != nil {
			return err
		}
		man.AddOutput(files...)
		summary = sum
	}
	conf := models.Confound{Label: onesLabel(net.Classes()), Act: models.Sigmoid}
	if len(st.confounds) > 0 {
		conf = st.confounds[0]
	}
	ff, err := writeFeatures(dir, net, conf, featureSets)
	if err != nil {
		return err
	}
	man.AddOutput(ff...)
	man.AddPhase("report", time.Since(phase))
	man.AddOutput(ManifestFile)
	man.Finish(time.Now())
	if err := man.Write(dir); err != nil {
		return err
	}
	if err := rd.Commit(); err != nil {
		return err
	}
	committed = true
	if !math.IsNaN(testAcc) {
		fmt.Fprintf(opts.Stdout, "model accuracy on %s: %.2f%%\n", cfg.Evaluate.InDist, 100*testAcc)
	}
	for _, g := range extra {
		if err := g.Terminal(opts.Stdout); err != nil {
			return err
		}
	}
	if summary != nil {
		if err := summary.Terminal(opts.Stdout); err != nil {
			return err
		}
	} else if err := table.Terminal(opts.Stdout); err != nil {
		return err
	}
	if claim != nil {
		fmt.Fprintln(opts.Stdout, claim.Summary())
	}
	fmt.Fprintf(opts.Stdout, "results in %s\n", rd.Final())
	return nil
}

// workers is the number of workers a run of cfg uses.
func (opts RunOptions) workers(cfg *Config) int {
	w := cfg.Workers
	if opts.Workers > 0 {
		w = opts.Workers
	}
	if w <= 0 {
		w = runtime.NumCPU()
	}
	return w
}

// cacheDir is the cache directory a run of cfg uses.
func (opts RunOptions) cacheDir(cfg *Config) string {
	if opts.Cache != "" {
		return opts.Cache
	}
	return cfg.Model.Cache
}

// LoadModel returns the network of cfg exactly as Run gets it — loaded from
// model.weights, read from the training cache entry, or trained now (and
// cached, resumably) as [train] says — with where its weights came from. It
// reads only the training and in-distribution sets and builds no detector.
// Only opts.Cache, opts.Workers and opts.Stderr (the training log) matter.
func LoadModel(ctx context.Context, cfg *Config, opts RunOptions) (*models.Sequential, *ModelSummary, error) {
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	load, err := newLoader(cfg)
	if err != nil {
		return nil, nil, err
	}
	plan, err := planModel(cfg, load)
	if err != nil {
		return nil, nil, err
	}
	var inAll *datasets.Set
	if cfg.TrainsModel() && cfg.Evaluate.InDist.Dataset == cfg.Train.Dataset {
		// For the training log's accuracy, as Run reports it.
		if inAll, err = load("evaluate.in_dist", cfg.Evaluate.InDist); err != nil {
			return nil, nil, err
		}
	}
	var store *cache.Store
	if cfg.TrainsModel() {
		if store, err = cache.Open(opts.cacheDir(cfg)); err != nil {
			return nil, nil, err
		}
	}
	net, _, src, err := plan.build(ctx, cfg, store, inAll, opts.workers(cfg), opts.Stderr)
	if err != nil {
		return nil, nil, err
	}
	return net, newModelSummary(net, src), nil
}

// sample returns n samples of set drawn without replacement by a seeded
// shuffle (the whole set, in source order, when it has at most n).
func sample(set *datasets.Set, n int, seed uint64) *datasets.Set {
	if set.Len() <= n {
		return set
	}
	r := rand.New(rand.NewPCG(seed, 0))
	idx := r.Perm(set.Len())[:n]
	return set.Subset(idx)
}

func describeMetricError(err error, detector string, in, anom *datasets.Set) error {
	var nf *metrics.NonFiniteError
	if errors.As(err, &nf) {
		set := in
		if nf.Set == "anomalous" {
			set = anom
		}
		return fmt.Errorf("detector %s gave a %v score to sample %d of %s (dataset index %d)", detector, nf.Value, nf.Index, set.Name, set.Index[nf.Index])
	}
	return fmt.Errorf("detector %s on %s: %w", detector, anom.Name, err)
}

// pairCells computes the metrics of every detector on every pair.
func pairCells(pairs []pair, names []string, dets []detectors.Detector, results map[string][]scored) ([]report.Cell, error) {
	var cells []report.Cell
	for di, name := range names {
		for i, p := range pairs {
			r := results[name][i]
			m, err := evaluatePair(name, p, r)
			if err != nil {
				return nil, err
			}
			cells = append(cells, report.Cell{Detector: name, Supervised: dets[di].Kind() == detectors.Supervised, Set: p.name, Metrics: m, FoldAUROC: r.folds})
		}
	}
	return cells, nil
}

// writeROCs draws one ROC figure per pair, roc_<pair>.png and .svg.
func writeROCs(dir, arch string, names []string, pairs []pair, results map[string][]scored) ([]string, error) {
	var files []string
	for i, p := range pairs {
		normal, anom := map[string][]float64{}, map[string][]float64{}
		for _, name := range names {
			normal[name], anom[name] = results[name][i].normal, results[name][i].anomalous
		}
		curves, err := report.ROCCurves(names, normal, anom)
		if err != nil {
			return nil, err
		}
		base := "roc_" + fileSafe(p.name)
		title := fmt.Sprintf("%s vs %s (%s)", p.normal.set.Name, p.anom.set.Name, arch)
		if err := report.ROCFigure(title, curves, filepath.Join(dir, base)); err != nil {
			return nil, err
		}
		files = append(files, base+".png", base+".svg")
	}
	return files, nil
}

// scoresCSV lays out every score the metrics were computed from. For each
// pair it lists the normal samples then the anomalous ones, so filtering on
// pair reproduces every cell of the table; supervised detectors give a sample
// shared by several pairs a different (out-of-fold) score in each.
func scoresCSV(names []string, pairs []pair, res map[string][]scored) ([]byte, error) {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write(append([]string{"pair", "set", "index", "label", "anomalous"}, names...))
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for i, p := range pairs {
		for part, s := range []*datasets.Set{p.normal.set, p.anom.set} {
			for j := 0; j < s.Len(); j++ {
				row := []string{p.name, s.Name, strconv.Itoa(s.Index[j]), strconv.Itoa(s.Labels[j]), strconv.Itoa(part)}
				for _, n := range names {
					if part == 0 {
						row = append(row, f(res[n][i].normal[j]))
					} else {
						row = append(row, f(res[n][i].anomalous[j]))
					}
				}
				w.Write(row)
			}
		}
	}
	w.Flush()
	return []byte(b.String()), w.Error()
}

// writeFeatures writes the purview features of every evaluated sample for
// confound c: features.npy (float64, one row per sample: the sets in order,
// the first being the normal set of the first pair; one column per parameter
// tensor), features.json (column names, confound, row ranges and source
// indices) and the per-layer profile figure features.png / features.svg.
func writeFeatures(dir string, net models.Network, c models.Confound, sets []*evalSet) ([]string, error) {
	type rows struct {
		Set   string `json:"set"`
		Start int    `json:"start"`
		Count int    `json:"count"`
		Index []int  `json:"index"`
	}
	side := struct {
		Columns    []string  `json:"columns"`
		Label      []float32 `json:"confounding_label"`
		Activation string    `json:"activation"`
		Rows       []rows    `json:"rows"`
	}{Columns: net.GradNames(), Label: c.Label, Activation: c.Act.String()}
	var all []float64
	var mats []report.NamedMatrix
	for _, e := range sets {
		m, err := e.probe.GradNorms(c)
		if err != nil {
			return nil, err
		}
		side.Rows = append(side.Rows, rows{Set: e.set.Name, Start: len(all) / m.Cols, Count: m.Rows, Index: e.set.Index})
		all = append(all, m.Data...)
		mats = append(mats, report.NamedMatrix{Name: e.set.Name, Rows: m.Rows, Cols: m.Cols, Data: m.Data})
	}
	P := len(side.Columns)
	dense := mat.NewDense(len(all)/P, P, all)
	if err := atomicfile.Write(filepath.Join(dir, "features.npy"), func(w io.Writer) error { return npyio.Write(w, dense) }); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(side, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "features.json"), append(b, '\n')); err != nil {
		return nil, err
	}
	title := fmt.Sprintf("purview features, %s, label %s", c.Act, labelString(c.Label))
	if err := report.FeatureFigure(title, side.Columns, mats[0], mats[1:], filepath.Join(dir, "features")); err != nil {
		return nil, err
	}
	return []string{"features.npy", "features.json", "features.png", "features.svg"}, nil
}

func onesLabel(c int) []float32 {
	l := make([]float32, c)
	for i := range l {
		l[i] = 1
	}
	return l
}

func labelString(l []float32) string {
	var b strings.Builder
	for _, v := range l {
		b.WriteByte('0' + byte(v))
	}
	return b.String()
}

// fileSafe turns a set name such as "fashion-mnist:test" into a file name part.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}
