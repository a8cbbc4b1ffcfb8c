package datasets

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Adapters bring a set to a model's input shape. Each returns a new set (or
// the set itself when nothing changes, as documented) with the same Name,
// Labels and Index (copied), and panics on impossible arguments (a
// non-positive size, a crop larger than the image): those are caller bugs.
// Adapt checks a declared chain against the set and returns errors instead.

// axisWeights maps an axis of length in to one of length out: output i is
// Σ_k w[k]·input[idx[k]] over k in off[i]..off[i+1]-1.
type axisWeights struct {
	idx []int
	w   []float64
	off []int
}

// resizeWeights returns the weights of Resize along one axis (see Resize).
func resizeWeights(in, out int) axisWeights {
	a := axisWeights{off: make([]int, 0, out+1)}
	a.off = append(a.off, 0)
	add := func(i int, w float64) {
		a.idx = append(a.idx, i)
		a.w = append(a.w, w)
	}
	for i := range out {
		switch {
		case out == in:
			add(i, 1)
		case out < in: // adaptive average pooling: [floor(i·in/out), ceil((i+1)·in/out))
			start := i * in / out
			end := ((i+1)*in + out - 1) / out
			for k := start; k < end; k++ {
				add(k, 1/float64(end-start))
			}
		default: // bilinear, align_corners=False, PyTorch's source-index rule
			src := (float64(i)+0.5)*float64(in)/float64(out) - 0.5
			if src < 0 {
				src = 0
			}
			i0 := int(src)
			l1 := src - float64(i0)
			i1 := min(i0+1, in-1)
			if i1 == i0 || l1 == 0 {
				add(i0, 1)
			} else {
				add(i0, 1-l1)
				add(i1, l1)
			}
		}
		a.off = append(a.off, len(a.idx))
	}
	return a
}

// Resize returns a copy of set with every image resized to h×w, each axis on
// its own: an axis that shrinks is area-averaged, one that grows is
// interpolated bilinearly, one that keeps its length is copied.
//
// Shrinking n → m samples output i as the mean of inputs
// floor(i·n/m) .. ceil((i+1)·n/m)−1: PyTorch's adaptive_avg_pool2d, which is
// F.interpolate(mode="area") (no antialiasing beyond that box; for an integer
// factor it is plain block averaging). Growing n → m samples output i at the
// input coordinate s = (i+0.5)·n/m − 0.5 (clamped at 0), between inputs
// ⌊s⌋ and min(⌊s⌋+1, n−1) with weights 1−(s−⌊s⌋) and s−⌊s⌋: PyTorch's
// F.interpolate(mode="bilinear", align_corners=False). When both axes shrink
// or both grow the result equals PyTorch's up to float32 rounding (the sums
// run in float64, widths first); when one shrinks and the other grows, each
// axis follows its own rule, which PyTorch has no single mode for. Values
// stay in [0,1]. It panics if h or w is not positive.
func Resize(set *Set, h, w int) *Set {
	if h <= 0 || w <= 0 {
		panic(fmt.Sprintf("datasets: Resize to %d×%d (want positive sizes)", h, w))
	}
	out := &Set{Name: set.Name, C: set.C, H: h, W: w, Images: make([]float32, set.Len()*set.C*h*w),
		Labels: append([]int(nil), set.Labels...), Index: append([]int(nil), set.Index...)}
	if set.H == h && set.W == w {
		copy(out.Images, set.Images)
		return out
	}
	ax, ay := resizeWeights(set.W, w), resizeWeights(set.H, h)
	rows := make([]float64, set.H*w) // one plane resized along the width
	for p := range set.Len() * set.C {
		src := set.Images[p*set.H*set.W : (p+1)*set.H*set.W]
		for y := range set.H {
			line := src[y*set.W : (y+1)*set.W]
			for x := range w {
				var s float64
				for k := ax.off[x]; k < ax.off[x+1]; k++ {
					s += ax.w[k] * float64(line[ax.idx[k]])
				}
				rows[y*w+x] = s
			}
		}
		dst := out.Images[p*h*w : (p+1)*h*w]
		for y := range h {
			for x := range w {
				var s float64
				for k := ay.off[y]; k < ay.off[y+1]; k++ {
					s += ay.w[k] * rows[ay.idx[k]*w+x]
				}
				dst[y*w+x] = float32(min(1, max(0, s)))
			}
		}
	}
	return out
}

// CenterCrop returns a copy of set with the central h×w window of every
// image. The window starts at row round((H−h)/2) and column round((W−w)/2),
// rounding halves to even as torchvision's center_crop does (Python's round).
// It panics if h or w is not positive or exceeds the image (torchvision would
// pad with zeros instead).
func CenterCrop(set *Set, h, w int) *Set {
	if h <= 0 || w <= 0 || h > set.H || w > set.W {
		panic(fmt.Sprintf("datasets: CenterCrop of %d×%d images to %d×%d (want 1..%d × 1..%d)", set.H, set.W, h, w, set.H, set.W))
	}
	top := int(math.RoundToEven(float64(set.H-h) / 2))
	left := int(math.RoundToEven(float64(set.W-w) / 2))
	out := &Set{Name: set.Name, C: set.C, H: h, W: w, Images: make([]float32, set.Len()*set.C*h*w),
		Labels: append([]int(nil), set.Labels...), Index: append([]int(nil), set.Index...)}
	for p := range set.Len() * set.C {
		src := set.Images[p*set.H*set.W:]
		dst := out.Images[p*h*w:]
		for y := range h {
			copy(dst[y*w:(y+1)*w], src[(top+y)*set.W+left:])
		}
	}
	return out
}

// Luma weights of ITU-R BT.601, as PIL's convert("L") uses them (PIL then
// rounds to 8 bits; torchvision's tensor rgb_to_grayscale uses 0.2989 for
// red instead of 0.299).
const (
	lumaR = 0.299
	lumaG = 0.587
	lumaB = 0.114
)

// ToGrey returns set with one channel, Y = 0.299·R + 0.587·G + 0.114·B
// (ITU-R BT.601 luma, computed in float64, clamped to [0,1]). A set that
// already has one channel is returned as it is. It panics if C is not 1 or 3.
func ToGrey(set *Set) *Set {
	switch set.C {
	case 1:
		return set
	case 3:
	default:
		panic(fmt.Sprintf("datasets: ToGrey of %d-channel images (want 1 or 3)", set.C))
	}
	hw := set.H * set.W
	out := &Set{Name: set.Name, C: 1, H: set.H, W: set.W, Images: make([]float32, set.Len()*hw),
		Labels: append([]int(nil), set.Labels...), Index: append([]int(nil), set.Index...)}
	for i := range set.Len() {
		img := set.Image(i)
		r, g, b := img[:hw], img[hw:2*hw], img[2*hw:]
		dst := out.Images[i*hw : (i+1)*hw]
		for p := range dst {
			dst[p] = float32(min(1, max(0, lumaR*float64(r[p])+lumaG*float64(g[p])+lumaB*float64(b[p]))))
		}
	}
	return out
}

// ToRGB returns set with three channels, each a copy of the grey one. A set
// that already has three channels is returned as it is. It panics if C is not
// 1 or 3.
func ToRGB(set *Set) *Set {
	switch set.C {
	case 3:
		return set
	case 1:
	default:
		panic(fmt.Sprintf("datasets: ToRGB of %d-channel images (want 1 or 3)", set.C))
	}
	hw := set.H * set.W
	out := &Set{Name: set.Name, C: 3, H: set.H, W: set.W, Images: make([]float32, 3*set.Len()*hw),
		Labels: append([]int(nil), set.Labels...), Index: append([]int(nil), set.Index...)}
	for i := range set.Len() {
		src := set.Image(i)
		dst := out.Image(i)
		for ch := range 3 {
			copy(dst[ch*hw:(ch+1)*hw], src)
		}
	}
	return out
}

// AdaptSpec declares how a set is brought to the model's input shape: Steps
// run in order, each one of
//
//	"grey"        ToGrey (3 channels → 1 by BT.601 luma)
//	"rgb"         ToRGB (1 channel → 3 by replication)
//	"channels"    "grey" or "rgb", whichever gives the model's channel count
//	"square"      CenterCrop to the largest centred square, min(H, W) a side
//	"center-crop" CenterCrop to the model's height and width
//	"resize"      Resize to the model's height and width (area down, bilinear up)
//
// e.g. ["channels", "resize"] feeds 32×32 RGB CIFAR images to a 28×28 grey
// model. No steps means the set must already have the model's shape.
type AdaptSpec struct {
	Steps []string `toml:"steps" json:"steps"`
}

var adaptSteps = []string{"grey", "rgb", "channels", "square", "center-crop", "resize"}

// Validate reports the first unknown step.
func (a AdaptSpec) Validate() error {
	for i, s := range a.Steps {
		if !slices.Contains(adaptSteps, s) {
			return fmt.Errorf("datasets: adapt: step %d is %q (want one of %s)", i, s, strings.Join(adaptSteps, ", "))
		}
	}
	return nil
}

// Adapt applies spec's steps to set in order and checks that the result has
// c channels of h×w. An unknown step, a step that cannot apply (a crop larger
// than the image, "grey" on 4 channels) or a final shape other than c×h×w is
// an error that names the set and the shapes. The set itself is returned
// when no step changes it.
func Adapt(set *Set, c, h, w int, spec AdaptSpec) (*Set, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("datasets: adapt: target shape %d×%d×%d (want positive sizes)", c, h, w)
	}
	cur := set
	for _, step := range spec.Steps {
		shape := fmt.Sprintf("%d×%d×%d", cur.C, cur.H, cur.W)
		switch step {
		case "grey", "rgb", "channels":
			if cur.C != 1 && cur.C != 3 {
				return nil, fmt.Errorf("datasets: adapt: set %q: step %q on %s images (want 1 or 3 channels)", set.Name, step, shape)
			}
			switch {
			case step == "grey" || step == "channels" && c == 1:
				cur = ToGrey(cur)
			case step == "rgb" || step == "channels" && c == 3:
				cur = ToRGB(cur)
			default:
				return nil, fmt.Errorf("datasets: adapt: set %q: step \"channels\" cannot make %d channels (only 1 or 3)", set.Name, c)
			}
		case "square":
			side := min(cur.H, cur.W)
			if side != cur.H || side != cur.W {
				cur = CenterCrop(cur, side, side)
			}
		case "center-crop":
			if h > cur.H || w > cur.W {
				return nil, fmt.Errorf("datasets: adapt: set %q: step \"center-crop\" to %d×%d on %s images (crop larger than the image; use \"resize\")", set.Name, h, w, shape)
			}
			if h != cur.H || w != cur.W {
				cur = CenterCrop(cur, h, w)
			}
		case "resize":
			if h != cur.H || w != cur.W {
				cur = Resize(cur, h, w)
			}
		}
	}
	if cur.C != c || cur.H != h || cur.W != w {
		hint := "add adapt steps, e.g. [\"channels\", \"resize\"]"
		if len(spec.Steps) > 0 {
			hint = fmt.Sprintf("after steps [%s]", strings.Join(spec.Steps, ", "))
		}
		return nil, fmt.Errorf("datasets: adapt: set %q has %d×%d×%d images, the model takes %d×%d×%d (%s)", set.Name, cur.C, cur.H, cur.W, c, h, w, hint)
	}
	return cur, nil
}
