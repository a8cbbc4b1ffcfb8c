package models

import "math/rand/v2"

// Training-set augmentations (TrainConfig.Augment).
const (
	// AugmentCrop is torchvision's RandomCrop(size, padding=p) at the image's
	// own size: zero-pad p pixels on every side, then cut out an h×w window
	// at a uniformly drawn offset.
	AugmentCrop = "crop"
	// AugmentFlip is torchvision's RandomHorizontalFlip(0.5): mirror the
	// image left–right with probability ½.
	AugmentFlip = "flip"
)

// DefaultCropPadding is AugmentCrop's padding when TrainConfig.CropPadding
// is 0: 4 pixels, the usual CIFAR recipe's RandomCrop(32, padding=4).
const DefaultCropPadding = 4

// Augmentations lists the valid TrainConfig.Augment entries.
func Augmentations() []string { return []string{AugmentCrop, AugmentFlip} }

// augmenter applies a list of augmentations to single NCHW images in place.
type augmenter struct {
	ops     []string
	pad     int
	c, h, w int
	tmp     []float32 // one image, for the crop
}

// newAugmenter returns nil when there is nothing to do, so the zero recipe
// draws nothing. ops must be valid (TrainConfig.normalized checks them).
func newAugmenter(ops []string, pad, c, h, w int) *augmenter {
	if len(ops) == 0 {
		return nil
	}
	return &augmenter{ops: ops, pad: pad, c: c, h: h, w: w, tmp: make([]float32, c*h*w)}
}

// apply augments img (c×h×w) in place, the operations in list order (as
// torchvision's Compose), each drawing from rng:
//
//	crop: i = rng.IntN(2p+1), then j = rng.IntN(2p+1) (row, then column offset
//	      into the padded image, as RandomCrop.get_params); out[y][x] = in[y+i−p][x+j−p], 0 outside
//	flip: mirror when rng.Float64() < 0.5
func (a *augmenter) apply(img []float32, rng *rand.Rand) {
	for _, op := range a.ops {
		switch op {
		case AugmentCrop:
			i := rng.IntN(2*a.pad + 1)
			j := rng.IntN(2*a.pad + 1)
			if i == a.pad && j == a.pad {
				continue // the window is the image
			}
			copy(a.tmp, img)
			shiftImage(img, a.tmp, a.c, a.h, a.w, i-a.pad, j-a.pad)
		case AugmentFlip:
			if rng.Float64() < 0.5 {
				flipImage(img, a.c, a.h, a.w)
			}
		}
	}
}

// shiftImage sets dst[ch][y][x] = src[ch][y+dy][x+dx], zero where that falls
// outside the h×w image. dst and src must not overlap.
func shiftImage(dst, src []float32, c, h, w, dy, dx int) {
	xLo, xHi := max(0, -dx), min(w, w-dx) // x with 0 ≤ x+dx < w
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			row := dst[(ch*h+y)*w:][:w]
			sy := y + dy
			if sy < 0 || sy >= h || xLo >= xHi {
				clear(row)
				continue
			}
			clear(row[:xLo])
			clear(row[xHi:])
			copy(row[xLo:xHi], src[(ch*h+sy)*w+xLo+dx:])
		}
	}
}

// flipImage mirrors every row of the c×h×w image img in place.
func flipImage(img []float32, c, h, w int) {
	for r := 0; r < c*h; r++ {
		row := img[r*w:][:w]
		for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
			row[i], row[j] = row[j], row[i]
		}
	}
}
