package corruptions

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Sources of a corruption's definition.
const (
	SourceCIFAR10C = "cifar10-c" // hendrycks/robustness make_cifar_c.py
	SourceMNISTC   = "mnist-c"   // google-research/mnist-c corruptions.py
)

// Severities is the number of severity levels of every corruption (1..5).
const Severities = 5

// Corruption describes one registered corruption.
type Corruption struct {
	Name   string // e.g. "gaussian_noise"
	Group  string // noise, blur, weather, digital (CIFAR-10-C); affine, overlay, digital (MNIST-C)
	Source string // SourceCIFAR10C or SourceMNISTC
	// Benchmark is true for the 15 corruptions of the CIFAR-10-C benchmark,
	// false for the 4 extra (validation) ones and the MNIST-C ones.
	Benchmark bool
	// MNISTCSeverity is the severity that reproduces MNIST-C's single fixed
	// setting (Source == SourceMNISTC only; 0 otherwise).
	MNISTCSeverity int
	// Random is true when the result depends on the seed; deterministic
	// corruptions (blurs without random draws, colour and resampling
	// operations) ignore it.
	Random bool
	// Params describes the parameters of severities 1..5 at the reference size
	// (32 px for CIFAR-10-C, 28 px for MNIST-C).
	Params [Severities]string
	// Summary is a one-line description of the operation.
	Summary string

	fn applyFunc
}

// applyFunc corrupts src at severity sev (1..5) into dst (same shape, never
// aliasing src), drawing every random number from r.
type applyFunc func(sev int, src image3, dst []float32, r *rand.Rand, s *scratch)

// image3 is one CHW image.
type image3 struct {
	c, h, w int
	pix     []float32
}

func (m image3) plane(ch int) []float32 { n := m.h * m.w; return m.pix[ch*n : (ch+1)*n] }

var registry []Corruption

// All returns every corruption in canonical order: the 15 CIFAR-10-C
// benchmark corruptions in make_cifar_c.py's order, its 4 extra ones
// (speckle_noise, gaussian_blur, spatter, saturate), then the MNIST-C
// corruptions CIFAR-10-C lacks, in MNIST-C's order.
func All() []Corruption { return append([]Corruption(nil), registry...) }

// Names returns the names of All() in the same order.
func Names() []string {
	out := make([]string, len(registry))
	for i, c := range registry {
		out[i] = c.Name
	}
	return out
}

// Lookup returns the corruption called name. The error of an unknown name
// suggests the closest known name and lists all of them.
func Lookup(name string) (Corruption, error) {
	for _, c := range registry {
		if c.Name == name {
			return c, nil
		}
	}
	best, bestD := "", 1<<30
	for _, c := range registry {
		if d := editDistance(strings.ToLower(name), c.Name); d < bestD {
			best, bestD = c.Name, d
		}
	}
	hint := ""
	if bestD <= max(2, len(name)/3) {
		hint = fmt.Sprintf(" (did you mean %q?)", best)
	}
	return Corruption{}, fmt.Errorf("corruptions: unknown corruption %q%s; known: %s", name, hint, strings.Join(Names(), ", "))
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// MinSize is the smallest image height and width accepted.
const MinSize = 4

func (c Corruption) check(severity, ch, h, w int) error {
	if severity < 1 || severity > Severities {
		return fmt.Errorf("corruptions: %s: severity %d out of range, want 1..%d", c.Name, severity, Severities)
	}
	if ch != 1 && ch != 3 {
		return fmt.Errorf("corruptions: %s severity %d: %d channels, want 1 (grey) or 3 (RGB)", c.Name, severity, ch)
	}
	if h < MinSize || w < MinSize {
		return fmt.Errorf("corruptions: %s severity %d: image %dx%d, want height and width >= %d", c.Name, severity, h, w, MinSize)
	}
	return nil
}

// Apply corrupts one CHW image img (c = 1 or 3 channels, values in [0,1]) at
// severity 1..5 into dst, which must have the same length (dst may be img).
// Every random draw comes from a stream determined by (seed, name,
// severity), so equal arguments give identical bytes. Output values lie in
// [0,1].
func Apply(name string, severity int, img []float32, c, h, w int, seed uint64, dst []float32) error {
	cor, err := Lookup(name)
	if err != nil {
		return err
	}
	return cor.Apply(severity, img, c, h, w, seed, dst)
}

// Apply is the method form of the package-level Apply.
func (cor Corruption) Apply(severity int, img []float32, c, h, w int, seed uint64, dst []float32) error {
	if err := cor.check(severity, c, h, w); err != nil {
		return err
	}
	n := c * h * w
	if len(img) != n {
		return fmt.Errorf("corruptions: %s severity %d: image has %d values, want c*h*w = %d*%d*%d = %d", cor.Name, severity, len(img), c, h, w, n)
	}
	if len(dst) != n {
		return fmt.Errorf("corruptions: %s severity %d: dst has %d values, want %d", cor.Name, severity, len(dst), n)
	}
	var s scratch
	cor.applyOne(severity, img, c, h, w, seed, dst, &s)
	return nil
}

// applyOne runs the corruption with validated arguments.
func (cor Corruption) applyOne(severity int, img []float32, c, h, w int, seed uint64, dst []float32, s *scratch) {
	src := img
	if &img[0] == &dst[0] { // in place: keep the input intact while writing dst
		src = s.get(len(img))
		copy(src, img)
		defer s.put(src)
	}
	r := newRNG(seed, cor.Name, severity)
	cor.fn(severity, image3{c, h, w, src}, dst, r, s)
	for i, v := range dst { // guarantee [0,1] and no NaN whatever the corruption did
		dst[i] = clip01(v)
	}
}

// ApplySet corrupts the n images of x (NCHW, values in [0,1]) at one
// severity and returns the corrupted copy. Image i gets the random stream of
// Apply with seed ImageSeed(seed, i), so the result is identical for any
// number of workers; workers <= 0 means GOMAXPROCS. A cancelled ctx stops the
// work and returns ctx's error.
func ApplySet(ctx context.Context, name string, severity int, x []float32, n, c, h, w int, seed uint64, workers int) ([]float32, error) {
	cor, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if err := cor.check(severity, c, h, w); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("corruptions: %s severity %d: negative image count %d", name, severity, n)
	}
	d := c * h * w
	if len(x) != n*d {
		return nil, fmt.Errorf("corruptions: %s severity %d: %d values for %d images of %dx%dx%d, want %d", name, severity, len(x), n, c, h, w, n*d)
	}
	out := make([]float32, len(x))
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, n))
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			var s scratch
			for {
				if err := gctx.Err(); err != nil {
					return err
				}
				i := int(next.Add(1) - 1)
				if i >= n {
					return nil
				}
				cor.applyOne(severity, x[i*d:(i+1)*d], c, h, w, ImageSeed(seed, i), out[i*d:(i+1)*d], &s)
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func register(c Corruption) { registry = append(registry, c) }

func init() {
	// Order: make_cifar_c.py's dict, then MNIST-C's CORRUPTIONS list.
	for _, c := range []Corruption{
		gaussianNoise, shotNoise, impulseNoise,
		defocusBlur, glassBlur, motionBlur, zoomBlur,
		snow, frost, fog,
		brightness, contrast, elasticTransform, pixelate, jpegCompression,
		speckleNoise, gaussianBlur, spatter, saturate,
		shear, scale, rotate, translate, stripe, dottedLine, zigzag, cannyEdges,
	} {
		register(c)
	}
}
