// Package experiments holds the experiment configuration (a strict TOML
// schema), the run directory with its manifest, and the experiment protocols.
package experiments

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/models"

	"github.com/BurntSushi/toml"
)

// Defaults for keys a configuration omits.
const (
	DefaultOut          = "runs"
	DefaultArch         = "lenet5"
	DefaultCache        = "cache"
	DefaultTrainSplit   = "train"
	DefaultEpochs       = 3
	DefaultTrainBatch   = 64
	DefaultLearningRate = 1e-3
	DefaultSamples      = 2000
	DefaultFitSamples   = 2000
	DefaultFolds        = 5
)

// Config is a validated experiment configuration. Parse fills every key the
// file omits with the default named in the field's comment, so a zero value
// never means "unset".
type Config struct {
	// File is the path the configuration was read from, as given to Load or
	// Parse; errors and the manifest name it.
	File string `json:"-"`
	// Raw holds the file's bytes, to be copied into the run directory.
	Raw []byte `json:"-"`

	// Name names the run; the run directory is <Out>/<Name>. It must be a safe
	// directory name (see CreateRunDir). Default: the file's base name without
	// its extension ("mnist" for configs/mnist.toml).
	Name string `json:"name"`
	// Out is the output root, relative to the current directory (not to the
	// file). The CLI's --out overrides it. Default "runs".
	Out string `json:"out"`
	// MasterSeed (key "seed", ≥ 0) is the seed every other seed derives from
	// through Seed. Default 0.
	MasterSeed int64 `json:"seed"`
	// Workers is the number of parallel scoring workers; 0 means one per CPU.
	// Results do not depend on it. Default 0.
	Workers int `json:"workers"`

	Model Model `json:"model"`
	// Train says how to train the model. It is nil when the file has no
	// [train] table, which is allowed only when Model.Weights is set. When
	// both are set the weights win: Train is validated but ignored (see
	// TrainsModel).
	Train *Train `json:"train"`
	// Datasets maps the keys of the [datasets.KEY] tables to their specs;
	// DatasetOrder lists the keys in file order.
	Datasets     map[string]DatasetSpec `json:"datasets"`
	DatasetOrder []string               `json:"-"`
	Evaluate     Evaluate               `json:"evaluate"`
	// Detectors holds the [[detector]] tables in file order.
	Detectors []DetectorSpec `json:"detectors"`
	// Attacks holds the [[attack]] tables in file order (adversarial protocol only).
	Attacks []AttackSpec `json:"attacks,omitempty"`
	// Adversarial is the [adversarial] table; nil unless evaluate.protocol is "adversarial".
	Adversarial *Adversarial `json:"adversarial,omitempty"`
	// Corruption is the [corruption] table; nil unless evaluate.protocol is "corruption".
	Corruption *Corruption `json:"corruption,omitempty"`
	// Paper is the [paper] table; nil when the file has none.
	Paper *Paper `json:"paper,omitempty"`
}

// The protocols evaluate.protocol names.
const (
	// ProtocolOOD tells the in-distribution test samples from each anomaly set.
	ProtocolOOD = "ood"
	// ProtocolAdversarial tells correctly classified clean test samples from
	// their successful adversarial versions, one task per [[attack]].
	ProtocolAdversarial = "adversarial"
	// ProtocolCorruption tells clean test samples from their corrupted
	// versions, one task per corruption and severity.
	ProtocolCorruption = "corruption"
)

// Protocols lists the values evaluate.protocol accepts.
func Protocols() []string { return []string{ProtocolOOD, ProtocolAdversarial, ProtocolCorruption} }

// AttackSpec is one [[attack]] table.
type AttackSpec struct {
	Type string `json:"type"` // attack type or preset (key "type"), required
	// Name is the attack's row label (key "name"); "" = derived from the type.
	Name   string        `json:"name"`
	Params *TableDecoder `json:"params"`
	Index  int           `json:"-"`
}

// Adversarial is the [adversarial] table.
type Adversarial struct {
	// Noisy adds, for every attack, a "noisy" control of each kept clean image
	// (Gaussian noise with the L2 norm of its adversarial perturbation) to the
	// normal samples, as in the KD+BU and LID papers. Default false.
	Noisy bool `toml:"noisy" json:"noisy"`
	// BatchSize is the attack batch size. Default 128.
	BatchSize int `toml:"batch_size" json:"batch_size"`
	// Save writes each attack's adversarial images to adv_<attack>.npy in the
	// run directory. Default false.
	Save bool `toml:"save" json:"save"`
}

// Corruption is the [corruption] table.
type Corruption struct {
	// Names lists the corruptions; "cifar10-c" stands for the 15 benchmark
	// corruptions, "extra" for the 4 extra ones, "mnist-c" for the MNIST-C
	// ones CIFAR-10-C lacks and "all" for every one. Default ["cifar10-c", "extra"].
	Names []string `toml:"corruptions" json:"corruptions"`
	// Severities lists the severities, each 1–5. Default [1, 2, 3, 4, 5].
	Severities []int `toml:"severities" json:"severities"`
}

// Model is the [model] table.
type Model struct {
	// Arch names the architecture: one of models.Archs() or a parameterised
	// form models.ParseArch accepts (resnet18-wN, densenet-bc-D-K, wrn-D-W, …).
	// Default "lenet5".
	Arch string `toml:"arch" json:"arch"`
	// Weights is a safetensors file with PyTorch state_dict names (see
	// models.LoadWeights). When empty the model is trained as [train] says
	// and cached. Default "".
	Weights string `toml:"weights" json:"weights"`
	// NameMap says how the tensor names of Weights map to the harness's:
	// "auto" (the first map under which the file fits), "none", or a name of
	// models.NameMaps() that applies to Arch's family. Ignored when training.
	// Default "auto".
	NameMap string `toml:"name_map" json:"name_map"`
	// Mean and Std (both or neither; one value per input channel of Arch,
	// Std > 0) add an input normalisation layer (x − mean)/std to the network,
	// trained or loaded; images stay in [0,1] everywhere else. Unset for a
	// loaded model: the file's own normalisation metadata, if any. Default: none.
	Mean []float64 `toml:"mean" json:"mean,omitempty"`
	Std  []float64 `toml:"std" json:"std,omitempty"`
	// Cache is the directory holding trained checkpoints, keyed by a hash of
	// [model], [train] and the training data. Default "cache".
	Cache string `toml:"cache" json:"cache"`
}

// Train is the [train] table: an optimizer (Adam by default, or SGD) on the
// mean softmax cross-entropy, as models.TrainConfig describes. Fields added
// after the first release are omitted from the JSON encoding (and so from the
// model's cache key) at their defaults, so older cache entries stay valid.
type Train struct {
	// Dataset is the key of the [datasets] table to train on. Default: the
	// dataset of evaluate.in_dist.
	Dataset string `json:"dataset"`
	// Split is the split to train on; "" for sets without splits. Default "train".
	Split string `json:"split"`
	// Epochs (≥ 1) is the number of passes over the training set. Default 3.
	Epochs int `json:"epochs"`
	// BatchSize (≥ 1) is the minibatch size. Default 64.
	BatchSize int `json:"batch_size"`
	// LearningRate (> 0, finite) is the optimizer's step size. Default 1e-3.
	LearningRate float64 `json:"learning_rate"`
	// Schedule is the learning-rate schedule: "cosine" (annealed to 0 over
	// the run, stepped every batch), "constant" or "step" (multiplied by
	// Gamma at each of Milestones). Default "cosine".
	Schedule string `json:"schedule"`
	// Samples (≥ 0) limits training to that many samples of the split, drawn
	// by a seeded shuffle, for quick experiments. Default 0: all of them.
	Samples int `json:"samples"`
	// Seed seeds initialisation and shuffling. The file's train.seed, or
	// Config.Seed("train") when that is 0 or omitted.
	Seed uint64 `json:"seed"`

	// Optimizer is "adam" (PyTorch's Adam, β = 0.9, 0.999, ε = 1e-8) or "sgd".
	// Default "adam".
	Optimizer string `json:"optimizer,omitempty"`
	// Momentum in [0, 1) is SGD's μ (0: plain SGD). SGD only. Default 0.
	Momentum float64 `json:"momentum,omitempty"`
	// Nesterov selects Nesterov momentum; SGD with Momentum > 0 only. Default false.
	Nesterov bool `json:"nesterov,omitempty"`
	// WeightDecay (≥ 0) adds WeightDecay·θ to every gradient (PyTorch's
	// weight_decay, on all parameters). Default 0.
	WeightDecay float64 `json:"weight_decay,omitempty"`
	// Milestones are the 0-based epochs (≥ 1, increasing, < Epochs) from which
	// the "step" schedule multiplies the learning rate by another Gamma
	// (PyTorch's MultiStepLR). Required with, and only with, schedule "step".
	Milestones []int `json:"milestones,omitempty"`
	// Gamma in (0, 1] is the "step" schedule's factor. Default 0.1 with
	// schedule "step"; 0 (unused) otherwise.
	Gamma float64 `json:"gamma,omitempty"`
	// WarmupEpochs (0 ≤ w ≤ Epochs) ramps the learning rate linearly over the
	// first w epochs, lr·(t+1)/W at step t of W. Default 0.
	WarmupEpochs int `json:"warmup_epochs,omitempty"`
	// Augment lists training augmentations applied in order: "crop"
	// (torchvision's RandomCrop(size, padding=CropPadding)) and "flip"
	// (RandomHorizontalFlip). Default none.
	Augment []string `json:"augment,omitempty"`
	// CropPadding (≥ 1) is the "crop" augmentation's zero padding. Default 4
	// with "crop"; 0 (unused) otherwise.
	CropPadding int `json:"crop_padding,omitempty"`
}

// TrainConfig returns the models.TrainConfig of t (without a StatePath).
func (t *Train) TrainConfig() models.TrainConfig {
	return models.TrainConfig{Epochs: t.Epochs, BatchSize: t.BatchSize, LearningRate: t.LearningRate, Schedule: t.Schedule, Seed: t.Seed,
		Optimizer: t.Optimizer, Momentum: t.Momentum, WeightDecay: t.WeightDecay, Nesterov: t.Nesterov,
		Milestones: slices.Clone(t.Milestones), Gamma: t.Gamma, WarmupEpochs: t.WarmupEpochs,
		Augment: slices.Clone(t.Augment), CropPadding: t.CropPadding}
}

// hashView is t as the model's cache key sees it: the default optimizer is
// left out, so a file that names optimizer = "adam" and one that omits it
// (every file before the key existed) share their trained model.
func (t Train) hashView() Train {
	if t.Optimizer == models.OptimizerAdam {
		t.Optimizer = ""
	}
	return t
}

// Paper is the [paper] table: it makes a run check the paper's headline
// claim for its protocol (see Claim).
type Paper struct {
	// Claim is the protocol whose abstract claim the run reports ("ood",
	// "adversarial" or "corruption"); it must equal evaluate.protocol. Required.
	Claim string `toml:"claim" json:"claim"`
}

// Ref names a set: a key of [datasets] and, for datasets with splits, a
// split. Its text form is "key" or "key:split".
type Ref struct {
	Dataset string
	Split   string // "" for generated sets, which have no split
}

// String returns "key:split", or "key" when Split is empty.
func (r Ref) String() string {
	if r.Split == "" {
		return r.Dataset
	}
	return r.Dataset + ":" + r.Split
}

// MarshalText encodes r as String does (so Hash sees "mnist:test").
func (r Ref) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Evaluate is the [evaluate] table.
type Evaluate struct {
	// InDist is the in-distribution test set (key in_dist). Required.
	InDist Ref `json:"in_dist"`
	// Fit holds in-distribution samples for detectors that fit on normal data;
	// never InDist itself nor an anomaly set. Default: InDist's dataset with
	// split "train"; required when InDist has no split.
	Fit Ref `json:"fit"`
	// FitSamples (≥ 1) is how many Fit samples are used. Default 2000.
	FitSamples int `json:"fit_samples"`
	// Anomalies lists the anomalous sets; at least one, no repeats, none equal
	// to InDist. Required.
	Anomalies []Ref `json:"anomalies"`
	// Samples (≥ 1) is the number of samples taken from every set (InDist and
	// each anomaly set): the first Samples after a seeded shuffle. Default 2000.
	Samples int `json:"samples"`
	// Folds (≥ 2) is the number of cross-validation folds for supervised
	// detectors. Default 5.
	Folds int `json:"folds"`
	// Protocol is "ood", "adversarial" or "corruption". Default "ood".
	Protocol string `json:"protocol"`
	// Repeats (≥ 1) is how many times supervised detectors are
	// cross-validated, each time with new folds; tables average the metrics.
	// Default 1, and 2 for the corruption protocol (the paper's).
	Repeats int `json:"repeats"`
}

// DatasetSpec is one [datasets.KEY] table.
type DatasetSpec struct {
	Kind string `json:"kind"` // the dataset kind (key "kind"), required
	// Adapt lists the steps (key "adapt") that bring the set's images to the
	// model's input shape, e.g. ["channels", "resize"] (see datasets.AdaptSpec);
	// empty = the images must already have the model's shape.
	Adapt []string `json:"adapt,omitempty"`
	// Params decodes the table's other keys into the kind's parameter struct.
	Params *TableDecoder `json:"params"`
}

// DetectorSpec is one [[detector]] table.
type DetectorSpec struct {
	Type string `json:"type"` // the detector type (key "type"), required
	// Name is the detector's column name (key "name"); "" means the name the
	// detector derives from its parameters (e.g. "purview-gauss"). Explicit
	// names are unique within a configuration and safe as file names.
	Name string `json:"name"`
	// Params decodes the table's other keys into the type's parameter struct.
	Params *TableDecoder `json:"params"`
	// Index is the table's position among the [[detector]] tables, from 0, as
	// in the key paths of errors ("detector[2].head").
	Index int `json:"-"`
}

// KeyError returns an error about the value of the dotted key path (e.g.
// "evaluate.anomalies[0]"), located in the file like the parser's own errors.
// Checks made after parsing (against the datasets' splits, say) use it.
func (c *Config) KeyError(path, format string, args ...any) error {
	src := string(c.Raw)
	return newKeyError(c.File, src, newLocator(src), path, atValue, fmt.Sprintf(format, args...))
}

// TrainsModel reports whether the model is trained from [train] (true) or
// loaded from Model.Weights (false). The weights win when both are set.
func (c *Config) TrainsModel() bool { return c.Model.Weights == "" }

// Spec returns the models.Spec of the configured network for classes
// classes and initialisation seed seed: the architecture and the input
// normalisation.
func (c *Config) Spec(classes int, seed uint64) models.Spec {
	return models.Spec{Arch: c.Model.Arch, Classes: classes, Seed: seed, Mean: slices.Clone(c.Model.Mean), Std: slices.Clone(c.Model.Std)}
}

// Seed returns the seed for one named consumer of randomness ("train",
// "sample:mnist:test", "fold", ...). Every purpose gets its own stable seed,
// so adding a consumer never shifts the draws of another:
//
//	Seed(p) = mix(FNV-1a-64(le64(MasterSeed) ‖ p))
//
// where le64 is the 8-byte little-endian encoding and mix is the SplitMix64
// finaliser, which spreads FNV's weakly mixed high bits.
func (c *Config) Seed(purpose string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(c.MasterSeed))
	h.Write(b[:])
	h.Write([]byte(purpose))
	z := h.Sum64()
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// ModelHash is the cache key of the trained model: Hash of the
// architecture, the [train] table (with its resolved seed) and the training
// dataset's spec, and of the input normalisation when model.mean and
// model.std are set (so a file without them keeps the key it always had). It
// does not cover the contents of data files; callers that want that add a
// fingerprint of the data to their own key. Only meaningful when TrainsModel.
func (c *Config) ModelHash() string {
	var data DatasetSpec
	var train Train
	if c.Train != nil {
		train = c.Train.hashView()
		data = c.Datasets[c.Train.Dataset]
	}
	parts := []any{"model", c.Model.Arch, train, data}
	if c.Model.Mean != nil {
		parts = append(parts, map[string][]float64{"mean": c.Model.Mean, "std": c.Model.Std})
	}
	return Hash(parts...)
}

// Hash returns the hex SHA-256 of a canonical encoding of parts, for cache
// keys: a version line, then each part's JSON encoding (encoding/json: struct
// fields in declaration order, map keys sorted, floats in shortest form)
// followed by a newline. Values decoded from TOML hash the same whether written
// as 1 or 1.0. It panics if a part cannot be encoded as JSON (a channel, a
// function): that is a programming error.
func Hash(parts ...any) string {
	h := sha256.New()
	h.Write([]byte("purview/experiments.Hash v1\n"))
	for _, p := range parts {
		b, err := json.Marshal(p)
		if err != nil {
			panic(fmt.Sprintf("experiments: Hash: part of type %T: %v", p, err))
		}
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Load reads and parses the configuration file at path (see Parse).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *fs.PathError names the path: "open x.toml: no such file or directory"
	}
	return Parse(data, path)
}

// Parse decodes and validates a configuration; filename is used in errors and
// for the default run name. Every error is a *ConfigError naming the file, the
// line when known, the dotted key and what was expected. Keys the schema does
// not know are errors, except inside [datasets.KEY] and [[detector]] tables,
// whose keys belong to the dataset kind or detector type and are checked when
// their TableDecoder decodes them.
func Parse(data []byte, filename string) (*Config, error) {
	p := &parser{file: filename, src: string(data)}
	p.loc = newLocator(p.src)

	// Parse once into a generic map: any error here is a syntax error, and the
	// map gives the raw [datasets] and [[detector]] tables.
	var raw map[string]any
	if _, err := toml.Decode(p.src, &raw); err != nil {
		return nil, p.syntaxError(err)
	}
	var f fileConfig
	md, err := toml.Decode(p.src, &f)
	if err != nil {
		return nil, p.decodeError(err, nil)
	}
	if md.IsDefined("model", "checkpoint") {
		// The key's old name: say what it is called now rather than "unknown key".
		v, _ := raw["model"].(map[string]any)["checkpoint"].(string)
		return nil, p.usage(p.errf("model.checkpoint", keyOnly, "renamed to weights: write weights = %q in [model]", v), usageTrain)
	}
	if err := p.checkUndecoded(md); err != nil {
		return nil, err
	}
	c := &Config{File: filename, Raw: slices.Clone(data)}
	if err := p.build(c, &f, &md, raw); err != nil {
		return nil, err
	}
	return c, nil
}

// fileConfig is the file's schema as BurntSushi/toml decodes it. Integers are
// int64 where the file may hold a negative value that a uint would silently
// wrap (toml does not range-check uint64).
type fileConfig struct {
	Name        string                    `toml:"name"`
	Out         string                    `toml:"out"`
	Seed        int64                     `toml:"seed"`
	Workers     int                       `toml:"workers"`
	Model       Model                     `toml:"model"`
	Train       trainTOML                 `toml:"train"`
	Datasets    map[string]toml.Primitive `toml:"datasets"`
	Evaluate    evaluateTOML              `toml:"evaluate"`
	Detector    []toml.Primitive          `toml:"detector"`
	Attack      []toml.Primitive          `toml:"attack"`
	Adversarial Adversarial               `toml:"adversarial"`
	Corruption  Corruption                `toml:"corruption"`
	Paper       Paper                     `toml:"paper"`
}

type trainTOML struct {
	Dataset      string   `toml:"dataset"`
	Split        string   `toml:"split"`
	Epochs       int      `toml:"epochs"`
	BatchSize    int      `toml:"batch_size"`
	LearningRate float64  `toml:"learning_rate"`
	Schedule     string   `toml:"schedule"`
	Samples      int      `toml:"samples"`
	Seed         int64    `toml:"seed"`
	Optimizer    string   `toml:"optimizer"`
	Momentum     float64  `toml:"momentum"`
	Nesterov     bool     `toml:"nesterov"`
	WeightDecay  float64  `toml:"weight_decay"`
	Milestones   []int    `toml:"milestones"`
	Gamma        float64  `toml:"gamma"`
	WarmupEpochs int      `toml:"warmup_epochs"`
	Augment      []string `toml:"augment"`
	CropPadding  int      `toml:"crop_padding"`
}

type evaluateTOML struct {
	InDist     string   `toml:"in_dist"`
	Fit        string   `toml:"fit"`
	FitSamples int      `toml:"fit_samples"`
	Anomalies  []string `toml:"anomalies"`
	Samples    int      `toml:"samples"`
	Folds      int      `toml:"folds"`
	Protocol   string   `toml:"protocol"`
	Repeats    int      `toml:"repeats"`
}

// schemaTables maps each table of the schema to its Go type, for the
// "known keys" hints of unknown-key errors.
var schemaTables = map[string]reflect.Type{
	"":            reflect.TypeFor[fileConfig](),
	"model":       reflect.TypeFor[Model](),
	"train":       reflect.TypeFor[trainTOML](),
	"evaluate":    reflect.TypeFor[evaluateTOML](),
	"adversarial": reflect.TypeFor[Adversarial](),
	"corruption":  reflect.TypeFor[Corruption](),
	"paper":       reflect.TypeFor[Paper](),
}

// parser carries what error messages need while a file is decoded.
type parser struct {
	file string
	src  string
	loc  *locator
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

const safeNameRule = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters"

func (p *parser) build(c *Config, f *fileConfig, md *toml.MetaData, raw map[string]any) error {
	def := func(key ...string) bool { return !md.IsDefined(key...) }

	// Top level.
	c.Name = f.Name
	if def("name") {
		base := filepath.Base(p.file)
		c.Name = strings.TrimSuffix(base, filepath.Ext(base))
		if p.file == "" || !safeName.MatchString(c.Name) {
			return p.errf("name", keyOnly, `missing, and the file name does not give a safe default; set name = "my-run"`)
		}
	}
	if !safeName.MatchString(c.Name) {
		return p.errf("name", atValue, "must be a safe directory name (%s), got %q", safeNameRule, c.Name)
	}
	c.Out = f.Out
	if def("out") {
		c.Out = DefaultOut
	}
	if c.Out == "" {
		return p.errf("out", atValue, `must not be empty; omit it for the default "runs"`)
	}
	if f.Seed < 0 {
		return p.errf("seed", atValue, "must be ≥ 0, got %d", f.Seed)
	}
	c.MasterSeed = f.Seed
	if f.Workers < 0 {
		return p.errf("workers", atValue, "must be ≥ 0 (0 = one per CPU), got %d", f.Workers)
	}
	c.Workers = f.Workers

	// [model]
	c.Model = f.Model
	if def("model", "arch") {
		c.Model.Arch = DefaultArch
	}
	arch, err := models.ParseArch(c.Model.Arch)
	if err != nil {
		return p.errf("model.arch", atValue, "%s", strings.TrimPrefix(err.Error(), "models: "))
	}
	if err := p.buildNormalization(c, md); err != nil {
		return err
	}
	if def("model", "name_map") {
		c.Model.NameMap = models.NameMapAuto
	}
	if err := checkNameMap(c.Model.NameMap, arch); err != nil {
		return p.errf("model.name_map", atValue, "%s", err)
	}
	if def("model", "cache") {
		c.Model.Cache = DefaultCache
	}
	if c.Model.Cache == "" {
		return p.errf("model.cache", atValue, `must not be empty; omit it for the default "cache"`)
	}

	// [[datasets]] come before [train] and [evaluate], which refer to them.
	if err := p.buildDatasets(c, raw); err != nil {
		return err
	}

	// [evaluate]
	e := &f.Evaluate
	if def("evaluate", "in_dist") {
		return p.usage(p.errf("evaluate.in_dist", keyOnly, "missing; name the in-distribution test set"), usageRef)
	}
	if c.Evaluate.InDist, err = p.ref(c, "evaluate.in_dist", e.InDist); err != nil {
		return err
	}
	if def("evaluate", "fit") {
		// Fitting on the samples being scored would leak them; without a
		// split there is no separate training part to default to.
		if c.Evaluate.InDist.Split == "" {
			return p.errf("evaluate.in_dist", atValue, "%q has no split, so evaluate.fit has no default: name a separate set of in-distribution samples", c.Evaluate.InDist)
		}
		c.Evaluate.Fit = Ref{c.Evaluate.InDist.Dataset, "train"}
	} else if c.Evaluate.Fit, err = p.ref(c, "evaluate.fit", e.Fit); err != nil {
		return err
	}
	if c.Evaluate.Fit == c.Evaluate.InDist {
		return p.errf("evaluate.fit", atValue, "%q is the in-distribution test set; fit on other samples (e.g. a train split)", c.Evaluate.Fit)
	}
	c.Evaluate.Protocol = e.Protocol
	if def("evaluate", "protocol") {
		c.Evaluate.Protocol = ProtocolOOD
	}
	if !slices.Contains(Protocols(), c.Evaluate.Protocol) {
		return p.errf("evaluate.protocol", atValue, "unknown protocol %q (want one of %s)", c.Evaluate.Protocol, strings.Join(Protocols(), ", "))
	}
	switch {
	case c.Evaluate.Protocol == ProtocolOOD && len(e.Anomalies) == 0:
		return p.usage(p.errf("evaluate.anomalies", keyOnly, "must list at least one anomaly set"), usageRef)
	case c.Evaluate.Protocol != ProtocolOOD && !def("evaluate", "anomalies"):
		return p.errf("evaluate.anomalies", keyOnly, "the %s protocol makes its own anomalies from evaluate.in_dist; remove evaluate.anomalies", c.Evaluate.Protocol)
	}
	seen := map[Ref]int{}
	for i, s := range e.Anomalies {
		key := fmt.Sprintf("evaluate.anomalies[%d]", i)
		r, err := p.ref(c, key, s)
		if err != nil {
			return err
		}
		if r == c.Evaluate.InDist {
			return p.errf(key, atValue, "%q is the in-distribution set (evaluate.in_dist)", r)
		}
		if j, dup := seen[r]; dup {
			return p.errf(key, atValue, "%q is listed twice (also evaluate.anomalies[%d])", r, j)
		}
		if r == c.Evaluate.Fit {
			return p.errf(key, atValue, "%q is also the fit set (evaluate.fit)", r)
		}
		seen[r] = i
		c.Evaluate.Anomalies = append(c.Evaluate.Anomalies, r)
	}
	for _, n := range []struct {
		key  string
		dst  *int
		val  int
		def  int
		min  int
		hint string
	}{
		{"samples", &c.Evaluate.Samples, e.Samples, DefaultSamples, 1, ""},
		{"fit_samples", &c.Evaluate.FitSamples, e.FitSamples, DefaultFitSamples, 1, ""},
		{"folds", &c.Evaluate.Folds, e.Folds, DefaultFolds, 2, usageFolds},
		{"repeats", &c.Evaluate.Repeats, e.Repeats, defaultRepeats(c.Evaluate.Protocol), 1, ""},
	} {
		*n.dst = n.val
		if def("evaluate", n.key) {
			*n.dst = n.def
		}
		if *n.dst < n.min {
			return p.usage(p.errf("evaluate."+n.key, atValue, "must be ≥ %d, got %d", n.min, *n.dst), n.hint)
		}
	}

	// [train], after [evaluate] because its dataset defaults to in_dist's.
	if md.IsDefined("train") {
		if err := p.buildTrain(c, &f.Train, md); err != nil {
			return err
		}
	} else if c.Model.Weights == "" {
		return p.usage(p.errf("", keyOnly, "no [train] table and model.weights is empty: set one of them"), usageTrain)
	}

	if err := p.buildProtocol(c, f, md, raw); err != nil {
		return err
	}
	if err := p.buildDetectors(c, raw); err != nil {
		return err
	}
	return p.buildPaper(c, f, md)
}

// checkNameMap checks model.name_map against the known maps and the
// architecture's family.
func checkNameMap(name string, arch models.ArchInfo) error {
	if name == models.NameMapAuto {
		return nil
	}
	known := []string{models.NameMapAuto}
	for _, m := range models.NameMaps() {
		if m.Name == name {
			if m.Families != nil && !slices.Contains(m.Families, arch.Family) {
				fam := "family"
				if len(m.Families) > 1 {
					fam = "families"
				}
				return fmt.Errorf("name map %q is for the architecture %s %s, not %s (family %s)", name, fam, strings.Join(m.Families, ", "), arch.Name, arch.Family)
			}
			return nil
		}
		known = append(known, m.Name)
	}
	return fmt.Errorf("unknown name map %q (known: %s; purview list models describes them)", name, strings.Join(known, ", "))
}

// buildNormalization checks model.mean and model.std: both or neither, one
// finite value per input channel of the architecture, std > 0.
func (p *parser) buildNormalization(c *Config, md *toml.MetaData) error {
	hasMean, hasStd := md.IsDefined("model", "mean"), md.IsDefined("model", "std")
	switch {
	case !hasMean && !hasStd:
		c.Model.Mean, c.Model.Std = nil, nil
		return nil
	case !hasStd:
		return p.errf("model.mean", keyOnly, "set model.std too: the input normalisation (x − mean)/std needs both")
	case !hasMean:
		return p.errf("model.std", keyOnly, "set model.mean too: the input normalisation (x − mean)/std needs both")
	}
	ch, _, _, err := models.InputShapeOf(c.Model.Arch)
	if err != nil {
		return p.errf("model.arch", atValue, "%s", strings.TrimPrefix(err.Error(), "models: "))
	}
	for _, k := range []struct {
		key  string
		vals []float64
	}{{"mean", c.Model.Mean}, {"std", c.Model.Std}} {
		if len(k.vals) != ch {
			return p.errf("model."+k.key, atValue, "%s takes %d input channel%s, so give %d value%s, got %d", c.Model.Arch, ch, plural(ch), ch, plural(ch), len(k.vals))
		}
		for i, v := range k.vals {
			switch {
			case math.IsNaN(v) || math.IsInf(v, 0):
				return p.errf(fmt.Sprintf("model.%s[%d]", k.key, i), atValue, "must be a finite number, got %v", v)
			case k.key == "std" && !(v > 0):
				return p.errf(fmt.Sprintf("model.%s[%d]", k.key, i), atValue, "must be > 0, got %v", v)
			}
		}
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// buildTrain checks the [train] table and fills in its defaults.
func (p *parser) buildTrain(c *Config, t *trainTOML, md *toml.MetaData) error {
	def := func(key string) bool { return !md.IsDefined("train", key) }
	c.Train = &Train{Dataset: t.Dataset, Split: t.Split, Epochs: t.Epochs, BatchSize: t.BatchSize, LearningRate: t.LearningRate, Schedule: t.Schedule, Samples: t.Samples}
	tr := c.Train
	if def("schedule") {
		tr.Schedule = models.ScheduleCosine
	} else if !slices.Contains(models.Schedules(), t.Schedule) {
		return p.errf("train.schedule", atValue, "unknown schedule %q (want one of %s)", t.Schedule, strings.Join(models.Schedules(), ", "))
	}
	if t.Samples < 0 {
		return p.errf("train.samples", atValue, "must be ≥ 0 (0 = the whole split), got %d", t.Samples)
	}
	if def("dataset") {
		tr.Dataset = c.Evaluate.InDist.Dataset
	} else if _, ok := c.Datasets[t.Dataset]; !ok {
		return p.errf("train.dataset", atValue, "unknown dataset %q (%s)", t.Dataset, p.knownDatasets(c))
	}
	if def("split") {
		tr.Split = DefaultTrainSplit
	}
	for _, n := range []struct {
		key string
		dst *int
		def int
	}{{"epochs", &tr.Epochs, DefaultEpochs}, {"batch_size", &tr.BatchSize, DefaultTrainBatch}} {
		if def(n.key) {
			*n.dst = n.def
		}
		if *n.dst < 1 {
			return p.errf("train."+n.key, atValue, "must be ≥ 1, got %d", *n.dst)
		}
	}
	if def("learning_rate") {
		tr.LearningRate = DefaultLearningRate
	}
	if lr := tr.LearningRate; !(lr > 0) || math.IsInf(lr, 0) {
		return p.errf("train.learning_rate", atValue, "must be a finite number > 0, got %v", lr)
	}
	if t.Seed < 0 {
		return p.errf("train.seed", atValue, "must be ≥ 0 (0 = derived from seed), got %d", t.Seed)
	}
	tr.Seed = uint64(t.Seed)
	if t.Seed == 0 {
		tr.Seed = c.Seed("train")
	}

	// The optimizer.
	tr.Optimizer = t.Optimizer
	if def("optimizer") {
		tr.Optimizer = models.OptimizerAdam
	} else if !slices.Contains(models.Optimizers(), t.Optimizer) {
		return p.errf("train.optimizer", atValue, "unknown optimizer %q (want one of %s)", t.Optimizer, strings.Join(models.Optimizers(), ", "))
	}
	sgd := tr.Optimizer == models.OptimizerSGD
	if !def("momentum") {
		if !sgd {
			return p.errf("train.momentum", keyOnly, `is an SGD setting, but optimizer is %q (Adam's momentum is its fixed β₁ = 0.9); set optimizer = "sgd"`, tr.Optimizer)
		}
		if m := t.Momentum; !(m >= 0 && m < 1) {
			return p.errf("train.momentum", atValue, "must be in [0, 1), got %v", m)
		}
		tr.Momentum = t.Momentum
	}
	if !def("nesterov") && t.Nesterov {
		if !sgd {
			return p.errf("train.nesterov", keyOnly, `is an SGD setting, but optimizer is %q; set optimizer = "sgd"`, tr.Optimizer)
		}
		if tr.Momentum == 0 {
			return p.errf("train.nesterov", atValue, "Nesterov momentum needs train.momentum > 0 (e.g. 0.9)")
		}
		tr.Nesterov = true
	}
	if wd := t.WeightDecay; !(wd >= 0) || math.IsInf(wd, 0) {
		return p.errf("train.weight_decay", atValue, "must be a finite number ≥ 0, got %v", wd)
	}
	tr.WeightDecay = t.WeightDecay

	// The schedule's own keys.
	step := tr.Schedule == models.ScheduleStep
	for _, k := range []string{"milestones", "gamma"} {
		if !def(k) && !step {
			return p.errf("train."+k, keyOnly, `belongs to schedule = "step", but schedule is %q`, tr.Schedule)
		}
	}
	if step {
		if len(t.Milestones) == 0 {
			key := "train.milestones"
			if def("milestones") {
				key = "train.schedule"
			}
			return p.errf(key, atValue, `schedule "step" needs milestones: the 0-based epochs from which the learning rate is multiplied by another gamma, e.g. milestones = [100, 150]`)
		}
		for i, m := range t.Milestones {
			key := fmt.Sprintf("train.milestones[%d]", i)
			switch {
			case m < 1:
				return p.errf(key, atValue, "must be ≥ 1 (a 0-based epoch after the first), got %d", m)
			case i > 0 && m <= t.Milestones[i-1]:
				return p.errf(key, atValue, "must be larger than milestones[%d] = %d, got %d", i-1, t.Milestones[i-1], m)
			case m >= tr.Epochs:
				return p.errf(key, atValue, "epoch %d is never reached: train.epochs is %d (0-based epochs 0–%d)", m, tr.Epochs, tr.Epochs-1)
			}
		}
		tr.Milestones = slices.Clone(t.Milestones)
		tr.Gamma = 0.1
		if !def("gamma") {
			if g := t.Gamma; !(g > 0 && g <= 1) {
				return p.errf("train.gamma", atValue, "must be in (0, 1], got %v", g)
			}
			tr.Gamma = t.Gamma
		}
	}
	if w := t.WarmupEpochs; w < 0 || w > tr.Epochs {
		return p.errf("train.warmup_epochs", atValue, "must be in [0, epochs = %d], got %d", tr.Epochs, w)
	}
	tr.WarmupEpochs = t.WarmupEpochs

	// Augmentation.
	for i, a := range t.Augment {
		key := fmt.Sprintf("train.augment[%d]", i)
		if !slices.Contains(models.Augmentations(), a) {
			return p.errf(key, atValue, "unknown augmentation %q (want %s)", a, strings.Join(models.Augmentations(), ", "))
		}
		if j := slices.Index(t.Augment, a); j < i {
			return p.errf(key, atValue, "%q is listed twice (also train.augment[%d])", a, j)
		}
	}
	if len(t.Augment) > 0 {
		tr.Augment = slices.Clone(t.Augment)
	}
	crop := slices.Contains(tr.Augment, models.AugmentCrop)
	if !def("crop_padding") {
		if !crop {
			return p.errf("train.crop_padding", keyOnly, `is the padding of the "crop" augmentation, which train.augment does not list`)
		}
		if t.CropPadding < 1 {
			return p.errf("train.crop_padding", atValue, "must be ≥ 1, got %d", t.CropPadding)
		}
		tr.CropPadding = t.CropPadding
	} else if crop {
		tr.CropPadding = models.DefaultCropPadding
	}
	// The checks above name the key; this one guards against drift from
	// the models package's own rules.
	if err := tr.TrainConfig().Validate(); err != nil {
		return p.errf("train", keyOnly, "%s", strings.TrimPrefix(err.Error(), "models: training config: "))
	}
	return nil
}

// buildPaper checks the [paper] table: its claim names the run's protocol,
// and there is a purview detector and a baseline to compare.
func (p *parser) buildPaper(c *Config, f *fileConfig, md *toml.MetaData) error {
	if !md.IsDefined("paper") {
		return nil
	}
	pp := f.Paper
	if !md.IsDefined("paper", "claim") {
		return p.errf("paper", keyOnly, `missing claim: write claim = %q (the protocol whose headline claim to check)`, c.Evaluate.Protocol)
	}
	if !slices.Contains(Protocols(), pp.Claim) {
		return p.errf("paper.claim", atValue, "unknown claim %q (want one of %s)", pp.Claim, strings.Join(Protocols(), ", "))
	}
	if pp.Claim != c.Evaluate.Protocol {
		return p.errf("paper.claim", atValue, "the %s claim is measured by the %s protocol, but evaluate.protocol is %q", pp.Claim, pp.Claim, c.Evaluate.Protocol)
	}
	var purview, other bool
	for _, d := range c.Detectors {
		if d.Type == PurviewType {
			purview = true
		} else {
			other = true
		}
	}
	if !purview || !other {
		return p.errf("paper.claim", atValue, "the claim compares the best purview detector with the best baseline: list at least one [[detector]] of type %q and one of another type", PurviewType)
	}
	c.Paper = &pp
	return nil
}

func defaultRepeats(protocol string) int {
	if protocol == ProtocolCorruption {
		return 2
	}
	return 1
}

// buildProtocol checks the tables of the adversarial and corruption
// protocols: each is allowed only with its protocol.
func (p *parser) buildProtocol(c *Config, f *fileConfig, md *toml.MetaData, raw map[string]any) error {
	def := func(key ...string) bool { return !md.IsDefined(key...) }
	proto := c.Evaluate.Protocol
	for _, t := range []struct{ key, protocol string }{{"adversarial", ProtocolAdversarial}, {"attack", ProtocolAdversarial}, {"corruption", ProtocolCorruption}} {
		if md.IsDefined(t.key) && proto != t.protocol {
			return p.errf(t.key, keyOnly, "[%s] belongs to the %s protocol, but evaluate.protocol is %q", t.key, t.protocol, proto)
		}
	}
	switch proto {
	case ProtocolAdversarial:
		a := f.Adversarial
		if def("adversarial", "batch_size") {
			a.BatchSize = 128
		}
		if a.BatchSize < 1 {
			return p.errf("adversarial.batch_size", atValue, "must be ≥ 1, got %d", a.BatchSize)
		}
		c.Adversarial = &a
		elems, err := p.namedTables(raw, "attack", "the adversarial protocol needs at least one [[attack]] table", usageAttack)
		if err != nil {
			return err
		}
		for i, e := range elems {
			path := fmt.Sprintf("attack[%d]", i)
			typ, name, m := e.typ, e.name, e.m
			c.Attacks = append(c.Attacks, AttackSpec{Type: typ, Name: name, Index: i,
				Params: p.table(fmt.Sprintf("Attack type %q", typ), path, "attack", "", i, m, "type", "name")})
		}
	case ProtocolCorruption:
		k := f.Corruption
		if def("corruption", "corruptions") {
			k.Names = []string{"cifar10-c", "extra"}
		}
		if len(k.Names) == 0 {
			return p.errf("corruption.corruptions", atValue, `must list at least one corruption (or "all")`)
		}
		if def("corruption", "severities") {
			k.Severities = []int{1, 2, 3, 4, 5}
		}
		if len(k.Severities) == 0 {
			return p.errf("corruption.severities", atValue, "must list at least one severity")
		}
		seen := map[int]bool{}
		for i, s := range k.Severities {
			if s < 1 || s > 5 {
				return p.errf(fmt.Sprintf("corruption.severities[%d]", i), atValue, "severity must be 1–5, got %d", s)
			}
			if seen[s] {
				return p.errf(fmt.Sprintf("corruption.severities[%d]", i), atValue, "severity %d is listed twice", s)
			}
			seen[s] = true
		}
		c.Corruption = &k
	}
	return nil
}

func (p *parser) buildDatasets(c *Config, raw map[string]any) error {
	c.Datasets = map[string]DatasetSpec{}
	tbl, _ := raw["datasets"].(map[string]any)
	for _, k := range p.loc.childOrder("datasets", tbl) {
		path := "datasets." + keyPart(k)
		m, ok := tbl[k].(map[string]any)
		if !ok {
			return p.usage(p.errf(path, atValue, "expected a table, got %s", tomlTypeName(tbl[k])), usageDataset)
		}
		if strings.Contains(k, ":") {
			return p.errf(path, keyOnly, `dataset keys cannot contain ':', which separates the split in references`)
		}
		kind, err := p.stringKey(path, "kind", m)
		if err != nil {
			return p.usage(err, usageDataset)
		}
		adapt, err := p.adapt(path, m)
		if err != nil {
			return err
		}
		c.Datasets[k] = DatasetSpec{Kind: kind, Adapt: adapt,
			Params: p.table(fmt.Sprintf("Dataset kind %q", kind), path, "datasets", k, -1, m, "kind", "adapt")}
		c.DatasetOrder = append(c.DatasetOrder, k)
	}
	return nil
}

func (p *parser) buildDetectors(c *Config, raw map[string]any) error {
	// Only explicit names are checked here; Run checks the names that
	// detectors derive from their parameters (e.g. "purview-gauss").
	elems, err := p.namedTables(raw, "detector", "at least one [[detector]] table is required", usageDetector)
	if err != nil {
		return err
	}
	for i, e := range elems {
		path := fmt.Sprintf("detector[%d]", i)
		typ, name, m := e.typ, e.name, e.m
		c.Detectors = append(c.Detectors, DetectorSpec{Type: typ, Name: name, Index: i,
			Params: p.table(fmt.Sprintf("Detector type %q", typ), path, "detector", "", i, m, "type", "name")})
	}
	return nil
}

// adapt reads the adapt key of dataset table path: a list of steps.
func (p *parser) adapt(path string, m map[string]any) ([]string, error) {
	v, ok := m["adapt"]
	if !ok {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, p.errf(path+".adapt", atValue, `expected an array of steps such as ["channels", "resize"], got %s`, tomlTypeName(v))
	}
	var steps []string
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, p.errf(path+".adapt", atValue, `expected an array of steps such as ["channels", "resize"], got an element of type %s`, tomlTypeName(e))
		}
		steps = append(steps, s)
	}
	if err := (datasets.AdaptSpec{Steps: steps}).Validate(); err != nil {
		return nil, p.errf(path+".adapt", atValue, "%s", strings.TrimPrefix(err.Error(), "datasets: adapt: "))
	}
	return steps, nil
}

// namedTable is one table of an array of tables such as [[detector]]: its
// required type, its optional name and its keys.
type namedTable struct {
	typ, name string
	m         map[string]any
}

// namedTables reads the array of tables key ("detector", "attack"): at least
// one, each a table with a string type and an optional name that is safe as
// a file name and unique among them. none is the error when there are none.
func (p *parser) namedTables(raw map[string]any, key, none, usage string) ([]namedTable, error) {
	var elems []map[string]any
	switch v := raw[key].(type) {
	case []map[string]any:
		elems = v
	case []any:
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, p.usage(p.errf(fmt.Sprintf("%s[%d]", key, i), atValue, "expected a table, got %s", tomlTypeName(e)), usage)
			}
			elems = append(elems, m)
		}
	}
	if len(elems) == 0 {
		return nil, p.usage(p.errf(key, keyOnly, "%s", none), usage)
	}
	var out []namedTable
	names := map[string]int{}
	for i, m := range elems {
		path := fmt.Sprintf("%s[%d]", key, i)
		typ, err := p.stringKey(path, "type", m)
		if err != nil {
			return nil, p.usage(err, usage)
		}
		var name string
		if _, set := m["name"]; set {
			if name, err = p.stringKey(path, "name", m); err != nil {
				return nil, err
			}
			if !safeName.MatchString(name) {
				return nil, p.errf(path+".name", atValue, "%s name %q is not safe as a file name (%s)", key, name, safeNameRule)
			}
			if j, dup := names[name]; dup {
				return nil, p.errf(path+".name", atValue, `duplicate %s name %q (also %s[%d]); give one a distinct name = "..."`, key, name, key, j)
			}
			names[name] = i
		}
		out = append(out, namedTable{typ, name, m})
	}
	return out, nil
}

// stringKey returns the required string key of table path.
func (p *parser) stringKey(path, key string, m map[string]any) (string, error) {
	v, ok := m[key]
	if !ok {
		return "", p.errf(path, keyOnly, "missing %s", key)
	}
	s, ok := v.(string)
	if !ok {
		return "", p.errf(path+"."+key, atValue, "expected string, got %s", tomlTypeName(v))
	}
	if s == "" {
		return "", p.errf(path+"."+key, atValue, "must not be empty")
	}
	return s, nil
}

// ref parses and resolves a "key" or "key:split" reference.
func (p *parser) ref(c *Config, key, s string) (Ref, error) {
	d, split, hasSplit := strings.Cut(s, ":")
	if d == "" || (hasSplit && (split == "" || strings.Contains(split, ":"))) {
		return Ref{}, p.usage(p.errf(key, atValue, `malformed reference %q, expected "key" or "key:split"`, s), usageRef)
	}
	if _, ok := c.Datasets[d]; !ok {
		return Ref{}, p.errf(key, atValue, "unknown dataset %q (%s)", d, p.knownDatasets(c))
	}
	return Ref{Dataset: d, Split: split}, nil
}

func (p *parser) knownDatasets(c *Config) string {
	if len(c.Datasets) == 0 {
		return "no [datasets.KEY] tables are defined"
	}
	keys := slices.Sorted(maps.Keys(c.Datasets))
	return "known: " + strings.Join(keys, ", ")
}

func (p *parser) table(owner, path, top, name string, index int, m map[string]any, reserved ...string) *TableDecoder {
	return &TableDecoder{file: p.file, src: p.src, loc: p.loc, path: path, top: top, name: name,
		index: index, raw: m, reserved: reserved, owner: owner}
}

// checkUndecoded reports every key the schema does not know, outside the
// free-form [datasets.KEY] and [[detector]] tables.
func (p *parser) checkUndecoded(md toml.MetaData) error {
	undecoded := map[string]bool{}
	var keys []toml.Key
	for _, k := range md.Undecoded() {
		if (k[0] == "datasets" && len(k) >= 3) || ((k[0] == "detector" || k[0] == "attack") && len(k) >= 2) {
			continue
		}
		undecoded[k.String()] = true
		keys = append(keys, k)
	}
	var unknown []unknownKey
	for _, k := range keys {
		if len(k) > 1 && undecoded[toml.Key(k[:len(k)-1]).String()] {
			continue // report only the outermost unknown key
		}
		parent := toml.Key(k[:len(k)-1]).String()
		if len(k) == 1 {
			parent = ""
		}
		var known []string
		if t, ok := schemaTables[parent]; ok {
			known = tomlFields(t)
		}
		unknown = append(unknown, unknownKey{path: k.String(), parent: parent, last: k[len(k)-1], known: known})
	}
	if len(unknown) == 0 {
		return nil
	}
	return p.unknownError(unknown)
}
