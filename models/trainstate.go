package models

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nlpodyssey/safetensors"
	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/internal/atomicfile"
)

// A training state file (TrainConfig.StatePath) is safetensors:
//
//	tensors   the state dict, as SaveCheckpoint names it (F32);
//	          optim.m1.<param>, optim.m2.<param> (Adam) or
//	          optim.momentum.<param> (SGD with μ > 0) (F32, the param's shape);
//	          train.perm: the shuffle order after the last epoch (I64 [n])
//	metadata  format = purview-train-state, version = 1, arch, classes,
//	          epoch (epochs done), step (optimizer steps taken),
//	          recipe (one key=value a line: TrainConfig.recipe),
//	          fingerprint (SHA-256 of recipe, hex),
//	          rng.shuffle, rng.dropout, rng.augment (hex of the PCG sources' MarshalBinary)
const (
	stateFormat  = "purview-train-state"
	stateVersion = "1"
	statePerm    = "train.perm"
)

// runState is what a resumable run saves besides the trainer's own state.
type runState struct {
	path    string
	recipe  []string // key=value lines
	sources []namedSource
	perm    []int
}

type namedSource struct {
	name string
	pcg  *rand.PCG
}

// recipe describes everything a normalized config, the network and the data
// contribute to a run's trajectory, one key=value a line; a state file only
// resumes a run with the same recipe. init is a hash of the weights Train
// starts from, so a resumed run must start from the same network.
func (cfg TrainConfig) recipe(s *Sequential, train *datasets.Set) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	r := []string{
		"arch=" + s.arch,
		"classes=" + strconv.Itoa(s.classes),
		"initial_weights=" + stateDictHash(s),
		"data=" + strconv.Quote(train.Name),
		"samples=" + strconv.Itoa(train.Len()),
		fmt.Sprintf("shape=%dx%dx%d", train.C, train.H, train.W),
		"epochs=" + strconv.Itoa(cfg.Epochs),
		"batch_size=" + strconv.Itoa(cfg.BatchSize),
		"learning_rate=" + f(cfg.LearningRate),
		"schedule=" + cfg.Schedule,
	}
	if cfg.Schedule == ScheduleStep {
		r = append(r, fmt.Sprintf("milestones=%v", cfg.Milestones), "gamma="+f(cfg.Gamma))
	}
	r = append(r, "warmup_epochs="+strconv.Itoa(cfg.WarmupEpochs),
		"seed="+strconv.FormatUint(cfg.Seed, 10),
		"optimizer="+cfg.Optimizer)
	if cfg.Optimizer == OptimizerAdam {
		r = append(r, "beta1="+f(cfg.Beta1), "beta2="+f(cfg.Beta2), "eps="+f(cfg.Eps))
	} else {
		r = append(r, "momentum="+f(cfg.Momentum), "nesterov="+strconv.FormatBool(cfg.Nesterov))
	}
	r = append(r, "weight_decay="+f(cfg.WeightDecay), "augment="+cmp.Or(strings.Join(cfg.Augment, ","), "none"))
	if slices.Contains(cfg.Augment, AugmentCrop) {
		r = append(r, "crop_padding="+strconv.Itoa(cfg.CropPadding))
	}
	return r
}

// stateDictHash is the SHA-256 (hex, first 16 digits) of the state dict's names, shapes and bits.
func stateDictHash(s *Sequential) string {
	h := sha256.New()
	var b []byte
	for _, p := range s.StateDict() {
		b = fmt.Appendf(b[:0], "%s%v", p.Name, p.Shape)
		for _, v := range p.Data {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func fingerprint(recipe []string) string {
	sum := sha256.Sum256([]byte(strings.Join(recipe, "\n")))
	return hex.EncodeToString(sum[:])
}

// optimBuffers names the trainer's optimizer buffers, one per parameter and
// kind, each with its parameter's shape.
func (tr *trainer) optimBuffers() (names []string, shapes [][]int, bufs [][]float32) {
	for _, kind := range []struct {
		name string
		b    [][]float32
	}{{"m1", tr.m1}, {"m2", tr.m2}, {"momentum", tr.mom}} {
		for pi, b := range kind.b {
			names = append(names, "optim."+kind.name+"."+tr.s.params[pi].Name)
			shapes = append(shapes, tr.s.params[pi].Shape)
			bufs = append(bufs, b)
		}
	}
	return names, shapes, bufs
}

// saveState writes run's state after epoch epochs atomically to run.path.
func (tr *trainer) saveState(run *runState, epoch int) error {
	views := map[string]safetensors.TensorView{}
	add := func(name string, dt safetensors.DType, shape []int, data []byte) error {
		sh := make([]uint64, len(shape))
		for i, d := range shape {
			sh[i] = uint64(d)
		}
		tv, err := safetensors.NewTensorView(dt, sh, data)
		if err != nil {
			return fmt.Errorf("models: training state %s: tensor %s: %w", run.path, name, err)
		}
		views[name] = tv
		return nil
	}
	for _, p := range tr.s.StateDict() {
		if err := add(p.Name, safetensors.F32, p.Shape, f32Bytes(p.Data)); err != nil {
			return err
		}
	}
	names, shapes, bufs := tr.optimBuffers()
	for i, name := range names {
		if err := add(name, safetensors.F32, shapes[i], f32Bytes(bufs[i])); err != nil {
			return err
		}
	}
	perm := make([]byte, 0, 8*len(run.perm))
	for _, v := range run.perm {
		perm = binary.LittleEndian.AppendUint64(perm, uint64(v))
	}
	if err := add(statePerm, safetensors.I64, []int{len(run.perm)}, perm); err != nil {
		return err
	}
	meta := map[string]string{
		"format": stateFormat, "version": stateVersion,
		"arch": tr.s.arch, "classes": strconv.Itoa(tr.s.classes),
		"epoch": strconv.Itoa(epoch), "step": strconv.Itoa(tr.t),
		"recipe": strings.Join(run.recipe, "\n"), "fingerprint": fingerprint(run.recipe),
	}
	for _, src := range run.sources {
		b, err := src.pcg.MarshalBinary()
		if err != nil {
			return fmt.Errorf("models: training state %s: random source %s: %w", run.path, src.name, err)
		}
		meta["rng."+src.name] = hex.EncodeToString(b)
	}
	data, err := safetensors.Serialize(views, meta)
	if err != nil {
		return fmt.Errorf("models: training state %s: %w", run.path, err)
	}
	if err := atomicfile.WriteFile(run.path, data); err != nil {
		return fmt.Errorf("models: training state: %w", err)
	}
	return nil
}

func f32Bytes(d []float32) []byte {
	b := make([]byte, 0, 4*len(d))
	for _, v := range d {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// loadState restores run's state from run.path into the trainer, the network,
// run.perm and run.sources, and returns the number of epochs it completed.
// A missing file gives 0 and no change. Nothing is changed unless the whole
// file checks out: format, recipe fingerprint, epoch and step counts, every
// tensor's presence, dtype and shape, the shuffle order and the random sources.
func (tr *trainer) loadState(run *runState, epochs, steps int) (epoch int, err error) {
	raw, err := os.ReadFile(run.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("models: training state: %w", err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("models: training state %s: "+format, append([]any{run.path}, args...)...)
	}
	st, meta, err := parseSafetensors(raw)
	if err != nil {
		return 0, bad("not a safetensors file: %v", err)
	}
	if meta["format"] != stateFormat {
		return 0, bad("not a training state (format %q, want %q)", meta["format"], stateFormat)
	}
	if meta["version"] != stateVersion {
		return 0, bad("unsupported version %q (this build reads %s)", meta["version"], stateVersion)
	}
	if a := meta["arch"]; a != tr.s.arch {
		return 0, bad("holds a %s, the network is a %s", a, tr.s.arch)
	}
	if fp := meta["fingerprint"]; fp != fingerprint(run.recipe) {
		return 0, bad("written by another run (%s); delete it to start over", recipeDiff(strings.Split(meta["recipe"], "\n"), run.recipe))
	}
	epoch, err = strconv.Atoi(meta["epoch"])
	if err != nil || epoch < 1 || epoch > epochs {
		return 0, bad("epoch %q, want 1…%d", meta["epoch"], epochs)
	}
	step, err := strconv.Atoi(meta["step"])
	if err != nil || step != epoch*steps {
		return 0, bad("step %q, want %d after %d epochs of %d steps", meta["step"], epoch*steps, epoch, steps)
	}

	// Tensors: exactly the expected names, dtypes and shapes.
	type want struct {
		dt    safetensors.DType
		shape []int
	}
	wants := map[string]want{}
	sd := tr.s.StateDict()
	for _, p := range sd {
		wants[p.Name] = want{safetensors.F32, p.Shape}
	}
	names, shapes, bufs := tr.optimBuffers()
	for i, name := range names {
		wants[name] = want{safetensors.F32, shapes[i]}
	}
	wants[statePerm] = want{safetensors.I64, []int{len(run.perm)}}
	var problems []string
	for _, name := range st.Names() {
		w, ok := wants[name]
		if !ok {
			problems = append(problems, "unexpected "+name)
			continue
		}
		tv, _ := st.Tensor(name)
		if tv.DType() != w.dt || !shapeIs(tv.Shape(), w.shape) {
			problems = append(problems, fmt.Sprintf("%s is %v %v, want %v %v", name, tv.DType(), tv.Shape(), w.dt, w.shape))
		}
	}
	for name := range wants {
		if _, ok := st.Tensor(name); !ok {
			problems = append(problems, "missing "+name)
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return 0, bad("tensors do not fit: %s", strings.Join(problems, "; "))
	}
	tensor := func(name string) []byte { tv, _ := st.Tensor(name); return tv.Data() }

	perm := make([]int, len(run.perm))
	seen := make([]bool, len(perm))
	pb := tensor(statePerm)
	for i := range perm {
		v := binary.LittleEndian.Uint64(pb[8*i:])
		if v >= uint64(len(perm)) || seen[v] {
			return 0, bad("%s is not a permutation of 0…%d", statePerm, len(perm)-1)
		}
		perm[i], seen[v] = int(v), true
	}
	srcs := make([]*rand.PCG, len(run.sources))
	for i, src := range run.sources {
		key := "rng." + src.name
		b, err := hex.DecodeString(meta[key])
		srcs[i] = new(rand.PCG)
		if err == nil {
			err = srcs[i].UnmarshalBinary(b)
		}
		if err != nil {
			return 0, bad("metadata %s: not a PCG state: %v", key, err)
		}
	}

	// Everything checks out: commit.
	for i := range sd {
		sd[i].Data = f32From(tensor(sd[i].Name))
	}
	if err := tr.s.SetParams(sd); err != nil {
		return 0, fmt.Errorf("%w (file %s)", err, run.path)
	}
	for i, name := range names {
		copy(bufs[i], f32From(tensor(name)))
	}
	copy(run.perm, perm)
	for i, src := range run.sources {
		*src.pcg = *srcs[i]
	}
	tr.t = step
	return epoch, nil
}

// parseSafetensors parses a safetensors file, turning any panic of the
// parser on hostile input into an error.
func parseSafetensors(raw []byte) (st safetensors.SafeTensors, meta map[string]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed: %v", r)
		}
	}()
	_, header, err := safetensors.ReadMetadata(raw)
	if err != nil {
		return st, nil, err
	}
	st, err = safetensors.Deserialize(raw)
	if err != nil {
		return st, nil, err
	}
	// Touch every tensor now, inside the recover.
	for _, name := range st.Names() {
		st.Tensor(name)
	}
	return st, header.Metadata(), nil
}

func shapeIs(got []uint64, want []int) bool {
	if len(got) != len(want) {
		return false
	}
	for i, d := range want {
		if got[i] != uint64(d) {
			return false
		}
	}
	return true
}

func f32From(b []byte) []float32 {
	d := make([]float32, len(b)/4)
	for i := range d {
		d[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return d
}

// recipeDiff names the recipe keys whose values differ, "key old → new".
func recipeDiff(old, cur []string) string {
	split := func(lines []string) (keys []string, vals map[string]string) {
		vals = map[string]string{}
		for _, l := range lines {
			k, v, _ := strings.Cut(l, "=")
			if _, dup := vals[k]; !dup {
				keys = append(keys, k)
			}
			vals[k] = v
		}
		return keys, vals
	}
	ok, ov := split(old)
	ck, cv := split(cur)
	var diffs []string
	for _, k := range ck {
		o, had := ov[k]
		switch {
		case !had:
			diffs = append(diffs, fmt.Sprintf("%s unset → %s", k, cv[k]))
		case o != cv[k]:
			diffs = append(diffs, fmt.Sprintf("%s %s → %s", k, o, cv[k]))
		}
	}
	for _, k := range ok {
		if _, has := cv[k]; !has {
			diffs = append(diffs, fmt.Sprintf("%s %s → unset", k, ov[k]))
		}
	}
	if len(diffs) == 0 {
		return "fingerprint mismatch"
	}
	return "differs in " + strings.Join(diffs, ", ")
}
