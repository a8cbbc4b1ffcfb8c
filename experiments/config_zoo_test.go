package experiments

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/purview-lab/purview/models"
)

// trainHead is a valid file up to an open [train] table: the keys of each
// case below start on line 9.
const trainHead = `[datasets.mnist]
kind = "mnist"
[datasets.noise]
kind = "uniform-noise"
[evaluate]
in_dist = "mnist:test"
anomalies = ["noise"]
[train]
`

// TestParseModelAndTrainErrors covers the keys of the model zoo and the
// training recipes: every error names the file, line and key.
func TestParseModelAndTrainErrors(t *testing.T) {
	cases := []struct {
		name, toml, want string
	}{
		{"checkpoint was renamed", "[model]\ncheckpoint = \"w.safetensors\"\n",
			`x.toml:2: model.checkpoint: renamed to weights: write weights = "w.safetensors" in [model]`},
		{"unknown name map", "[model]\nweights = \"w.safetensors\"\nname_map = \"tv\"\n",
			`x.toml:3: model.name_map: unknown name map "tv" (known: auto, none, torchvision, chenyaofo; purview list models describes them)`},
		{"name map of another family", "[model]\narch = \"resnet34\"\nname_map = \"chenyaofo\"\n",
			`x.toml:3: model.name_map: name map "chenyaofo" is for the architecture family resnet20, not resnet34 (family resnet)`},
		{"malformed parameterised arch", "[model]\narch = \"wrn-27-10\"\n",
			`x.toml:2: model.arch: architecture "wrn-27-10": want wrn-D-W with depth D ≥ 10, D ≡ 4 (mod 6), and widen factor W ≥ 1 (known: lenet5, lenet5-dropout, resnet20, resnet18, resnet34, densenet100, wrn-28-10, or resnet18-wN, resnet34-wN, densenet-bc-D-K, wrn-D-W)`},
		{"mean without std", "[model]\narch = \"resnet20\"\nmean = [0.5, 0.5, 0.5]\n",
			`x.toml:3: model.mean: set model.std too: the input normalisation (x − mean)/std needs both`},
		{"std without mean", "[model]\nstd = [0.5]\n",
			`x.toml:2: model.std: set model.mean too: the input normalisation (x − mean)/std needs both`},
		{"one mean for three channels", "[model]\narch = \"resnet20\"\nmean = [0.5]\nstd = [0.2, 0.2, 0.2]\n",
			`x.toml:3: model.mean: resnet20 takes 3 input channels, so give 3 values, got 1`},
		{"zero std", "[model]\narch = \"resnet18\"\nmean = [0.4914, 0.4822, 0.4465]\nstd = [0.2023, 0, 0.2010]\n",
			`x.toml:4: model.std[1]: must be > 0, got 0`},
		{"non-finite mean", "[model]\nmean = [nan]\nstd = [1.0]\n",
			`x.toml:2: model.mean[0]: must be a finite number, got NaN`},

		{"unknown optimizer", trainHead + "optimizer = \"adamw\"\n",
			`x.toml:9: train.optimizer: unknown optimizer "adamw" (want one of adam, sgd)`},
		{"momentum with Adam", trainHead + "momentum = 0.9\n",
			`x.toml:9: train.momentum: is an SGD setting, but optimizer is "adam" (Adam's momentum is its fixed β₁ = 0.9); set optimizer = "sgd"`},
		{"momentum of 1", trainHead + "optimizer = \"sgd\"\nmomentum = 1\n",
			`x.toml:10: train.momentum: must be in [0, 1), got 1`},
		{"nesterov without momentum", trainHead + "optimizer = \"sgd\"\nnesterov = true\n",
			`x.toml:10: train.nesterov: Nesterov momentum needs train.momentum > 0 (e.g. 0.9)`},
		{"nesterov with Adam", trainHead + "nesterov = true\n",
			`x.toml:9: train.nesterov: is an SGD setting, but optimizer is "adam"; set optimizer = "sgd"`},
		{"negative weight decay", trainHead + "weight_decay = -5e-4\n",
			`x.toml:9: train.weight_decay: must be a finite number ≥ 0, got -0.0005`},
		{"milestones without the step schedule", trainHead + "milestones = [2]\n",
			`x.toml:9: train.milestones: belongs to schedule = "step", but schedule is "cosine"`},
		{"gamma without the step schedule", trainHead + "schedule = \"constant\"\ngamma = 0.1\n",
			`x.toml:10: train.gamma: belongs to schedule = "step", but schedule is "constant"`},
		{"step schedule without milestones", trainHead + "schedule = \"step\"\n",
			`x.toml:9: train.schedule: schedule "step" needs milestones: the 0-based epochs from which the learning rate is multiplied by another gamma, e.g. milestones = [100, 150]`},
		{"milestones not increasing", trainHead + "epochs = 200\nschedule = \"step\"\nmilestones = [100, 100]\n",
			`x.toml:11: train.milestones[1]: must be larger than milestones[0] = 100, got 100`},
		{"milestone never reached", trainHead + "epochs = 200\nschedule = \"step\"\nmilestones = [100, 200]\n",
			`x.toml:11: train.milestones[1]: epoch 200 is never reached: train.epochs is 200 (0-based epochs 0–199)`},
		{"milestone zero", trainHead + "schedule = \"step\"\nmilestones = [0]\n",
			`x.toml:10: train.milestones[0]: must be ≥ 1 (a 0-based epoch after the first), got 0`},
		{"gamma above 1", trainHead + "epochs = 4\nschedule = \"step\"\nmilestones = [2]\ngamma = 2.0\n",
			`x.toml:12: train.gamma: must be in (0, 1], got 2`},
		{"warmup longer than the run", trainHead + "epochs = 3\nwarmup_epochs = 4\n",
			`x.toml:10: train.warmup_epochs: must be in [0, epochs = 3], got 4`},
		{"unknown augmentation", trainHead + "augment = [\"flip\", \"rotate\"]\n",
			`x.toml:9: train.augment[1]: unknown augmentation "rotate" (want crop, flip)`},
		{"augmentation twice", trainHead + "augment = [\"flip\", \"flip\"]\n",
			`x.toml:9: train.augment[1]: "flip" is listed twice (also train.augment[0])`},
		{"crop padding without crop", trainHead + "augment = [\"flip\"]\ncrop_padding = 4\n",
			`x.toml:10: train.crop_padding: is the padding of the "crop" augmentation, which train.augment does not list`},
		{"zero crop padding", trainHead + "augment = [\"crop\"]\ncrop_padding = 0\n",
			`x.toml:10: train.crop_padding: must be ≥ 1, got 0`},
		{"augment not a list", trainHead + "augment = \"crop\"\n",
			`x.toml:9: train.augment: expected array, got string`},

		{"paper without claim", minimal + "[paper]\n",
			`x.toml:12: paper: missing claim: write claim = "ood" (the protocol whose headline claim to check)`},
		{"paper claim of another protocol", minimal + "[paper]\nclaim = \"corruption\"\n",
			`x.toml:13: paper.claim: the corruption claim is measured by the corruption protocol, but evaluate.protocol is "ood"`},
		{"unknown paper claim", minimal + "[paper]\nclaim = \"all\"\n",
			`x.toml:13: paper.claim: unknown claim "all" (want one of ood, adversarial, corruption)`},
		{"paper claim without a purview detector", minimal + "[paper]\nclaim = \"ood\"\n",
			`x.toml:13: paper.claim: the claim compares the best purview detector with the best baseline: list at least one [[detector]] of type "purview" and one of another type`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(c.toml), "x.toml")
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want error %q", cfg, c.want)
			}
			if got := err.Error(); got != c.want {
				t.Errorf("error\n got %s\nwant %s", got, c.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *ConfigError", err)
			}
		})
	}
}

// recipe is a complete SGD recipe with every new [train] key.
const recipe = `[model]
arch = "resnet18"
mean = [0.4914, 0.4822, 0.4465]
std = [0.2023, 0.1994, 0.2010]
[datasets.cifar10]
kind = "cifar10"
[datasets.svhn]
kind = "svhn"
[train]
epochs = 300
batch_size = 64
learning_rate = 0.1
optimizer = "sgd"
momentum = 0.9
nesterov = true
weight_decay = 1e-4
schedule = "step"
milestones = [150, 225]
warmup_epochs = 1
augment = ["crop", "flip"]
seed = 3
[evaluate]
in_dist = "cifar10:test"
anomalies = ["svhn:test"]
[[detector]]
type = "msp"
[[detector]]
type = "purview"
[paper]
claim = "ood"
`

func TestParseRecipe(t *testing.T) {
	c, err := Parse([]byte(recipe), "r.toml")
	if err != nil {
		t.Fatal(err)
	}
	wantModel := Model{Arch: "resnet18", NameMap: "auto", Mean: []float64{0.4914, 0.4822, 0.4465}, Std: []float64{0.2023, 0.1994, 0.2010}, Cache: "cache"}
	if !reflect.DeepEqual(c.Model, wantModel) {
		t.Errorf("model = %+v, want %+v", c.Model, wantModel)
	}
	// gamma and crop_padding take their defaults (0.1, 4) because the
	// schedule is "step" and augment lists "crop".
	wantTrain := Train{Dataset: "cifar10", Split: "train", Epochs: 300, BatchSize: 64, LearningRate: 0.1, Schedule: "step", Seed: 3,
		Optimizer: "sgd", Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4, Milestones: []int{150, 225}, Gamma: 0.1, WarmupEpochs: 1,
		Augment: []string{"crop", "flip"}, CropPadding: 4}
	if !reflect.DeepEqual(*c.Train, wantTrain) {
		t.Errorf("train = %+v, want %+v", *c.Train, wantTrain)
	}
	wantTC := models.TrainConfig{Epochs: 300, BatchSize: 64, LearningRate: 0.1, Schedule: "step", Seed: 3, Optimizer: "sgd", Momentum: 0.9,
		WeightDecay: 1e-4, Nesterov: true, Milestones: []int{150, 225}, Gamma: 0.1, WarmupEpochs: 1, Augment: []string{"crop", "flip"}, CropPadding: 4}
	if tc := c.Train.TrainConfig(); !reflect.DeepEqual(tc, wantTC) {
		t.Errorf("TrainConfig = %+v, want %+v", tc, wantTC)
	}
	if c.Paper == nil || c.Paper.Claim != "ood" {
		t.Errorf("paper = %+v", c.Paper)
	}
	if sp := c.Spec(10, 7); !reflect.DeepEqual(sp, models.Spec{Arch: "resnet18", Classes: 10, Seed: 7, Mean: wantModel.Mean, Std: wantModel.Std}) {
		t.Errorf("Spec = %+v", sp)
	}
	// Parameterised architectures are accepted.
	if _, err := Parse([]byte(strings.Replace(recipe, `"resnet18"`, `"densenet-bc-40-12"`, 1)), "r.toml"); err != nil {
		t.Errorf("densenet-bc-40-12: %v", err)
	}
}

// TestModelKeyUnchanged: the cache key of a model trained before the zoo's
// keys existed is what it was. The literals were printed by the code before
// this change (model.go's section and Config.ModelHash of configs/mnist.toml).
func TestModelKeyUnchanged(t *testing.T) {
	c, err := Load("../configs/mnist.toml")
	if err != nil {
		t.Fatal(err)
	}
	sec, err := modelSection(c, 10)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"Arch":"lenet5","Train":{"dataset":"mnist","split":"train","epochs":4,"batch_size":64,"learning_rate":0.001,"schedule":"cosine","samples":0,"seed":14628335061905875578},"Data":{"kind":"mnist","params":{}},"Classes":10}`
	if string(sec) != want {
		t.Errorf("model section\n got %s\nwant %s", sec, want)
	}
	if got, want := c.ModelHash(), "a50c5fe70a5ab72e747c31d9a303a3674b0ad181561b8401f56afad9cfec6990"; got != want {
		t.Errorf("ModelHash = %s, want %s", got, want)
	}

	base := c.ModelHash()
	parse := func(src string) *Config {
		t.Helper()
		c, err := Parse([]byte(src), "mnist.toml")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	raw := string(c.Raw)
	// Naming the defaults changes nothing.
	same := parse(strings.Replace(raw, "seed = 0 ", "optimizer = \"adam\"\nweight_decay = 0.0\nwarmup_epochs = 0\nseed = 0 ", 1))
	if same.ModelHash() != base {
		t.Errorf("ModelHash changed by naming the default optimizer")
	}
	if s, _ := modelSection(same, 10); string(s) != want {
		t.Errorf("model section changed by naming the defaults: %s", s)
	}
	// Every recipe key and the normalisation do change it.
	for _, edit := range []string{
		"optimizer = \"sgd\"\n", "weight_decay = 1e-4\n", "warmup_epochs = 1\n", "augment = [\"flip\"]\n",
		"schedule = \"step\"\nmilestones = [2]\n", "schedule = \"step\"\nmilestones = [2]\ngamma = 0.2\n",
		"augment = [\"crop\"]\ncrop_padding = 2\n", "optimizer = \"sgd\"\nmomentum = 0.9\n",
	} {
		src := strings.Replace(raw, "seed = 0 ", edit+"seed = 0 ", 1)
		src = strings.Replace(src, "schedule = \"cosine\"", "", 1)
		if !strings.Contains(edit, "schedule") {
			src = strings.Replace(src, "seed = 0 ", "schedule = \"cosine\"\nseed = 0 ", 1)
		}
		if parse(src).ModelHash() == base {
			t.Errorf("ModelHash unchanged by %q", edit)
		}
	}
	norm := parse(strings.Replace(raw, "cache = \"cache\"", "mean = [0.1307]\nstd = [0.3081]\ncache = \"cache\"", 1))
	if norm.ModelHash() == base {
		t.Errorf("ModelHash unchanged by model.mean/std")
	}
	if s, _ := modelSection(norm, 10); !strings.HasSuffix(string(s), `"Classes":10,"Mean":[0.1307],"Std":[0.3081]}`) {
		t.Errorf("model section with normalisation: %s", s)
	}
}
