package models

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestShiftImage(t *testing.T) {
	// Two 3×3 channels: 1…9 and 11…19.
	src := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	for _, c := range []struct {
		dy, dx int
		want   []float32
	}{
		{0, 0, src},
		// RandomCrop offset (i, j) = (0, 0) of the image padded by 1: out[y][x] = in[y−1][x−1].
		{-1, -1, []float32{0, 0, 0, 0, 1, 2, 0, 4, 5, 0, 0, 0, 0, 11, 12, 0, 14, 15}},
		// (i, j) = (2, 1): out[y][x] = in[y+1][x].
		{1, 0, []float32{4, 5, 6, 7, 8, 9, 0, 0, 0, 14, 15, 16, 17, 18, 19, 0, 0, 0}},
		{0, 2, []float32{3, 0, 0, 6, 0, 0, 9, 0, 0, 13, 0, 0, 16, 0, 0, 19, 0, 0}},
		{-2, 1, []float32{0, 0, 0, 0, 0, 0, 2, 3, 0, 0, 0, 0, 0, 0, 0, 12, 13, 0}},
		{3, 0, make([]float32, 18)},  // padding ≥ the image: all zero
		{0, -4, make([]float32, 18)}, // likewise
	} {
		dst := slices.Repeat([]float32{-1}, 18)
		shiftImage(dst, src, 2, 3, 3, c.dy, c.dx)
		if !slices.Equal(dst, c.want) {
			t.Errorf("shift (%d, %d) = %v, want %v", c.dy, c.dx, dst, c.want)
		}
	}
}

func TestFlipImage(t *testing.T) {
	img := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12} // 2 channels × 2×3
	flipImage(img, 2, 2, 3)
	if want := []float32{3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10}; !slices.Equal(img, want) {
		t.Errorf("flip = %v, want %v", img, want)
	}
	one := []float32{1, 2, 3, 4} // 1×4×1: a single column is its own mirror
	flipImage(one, 1, 4, 1)
	if !slices.Equal(one, []float32{1, 2, 3, 4}) {
		t.Errorf("flip of a column = %v", one)
	}
}

// refAugment applies ops to a c×h×w image the way torchvision does, with
// explicit padding and index arithmetic, drawing as augmenter.apply documents.
func refAugment(img []float32, ops []string, pad, c, h, w int, rng *rand.Rand) []float32 {
	out := slices.Clone(img)
	for _, op := range ops {
		switch op {
		case AugmentCrop:
			i, j := rng.IntN(2*pad+1), rng.IntN(2*pad+1)
			H, W := h+2*pad, w+2*pad
			padded := make([]float32, c*H*W)
			for ch := 0; ch < c; ch++ {
				for y := 0; y < h; y++ {
					for x := 0; x < w; x++ {
						padded[(ch*H+y+pad)*W+x+pad] = out[(ch*h+y)*w+x]
					}
				}
			}
			for ch := 0; ch < c; ch++ {
				for y := 0; y < h; y++ {
					for x := 0; x < w; x++ {
						out[(ch*h+y)*w+x] = padded[(ch*H+y+i)*W+x+j]
					}
				}
			}
		case AugmentFlip:
			if rng.Float64() < 0.5 {
				prev := slices.Clone(out)
				for r := 0; r < c*h; r++ {
					for x := 0; x < w; x++ {
						out[r*w+x] = prev[r*w+w-1-x]
					}
				}
			}
		}
	}
	return out
}

// TestAugmenter: crop and flip, in either order, equal the reference draw
// for draw; every crop offset and both flip outcomes occur; the same seed
// gives the same images.
func TestAugmenter(t *testing.T) {
	const c, h, w, pad = 2, 4, 5, 2
	img := make([]float32, c*h*w)
	for i := range img {
		img[i] = float32(i + 1)
	}
	for _, ops := range [][]string{{AugmentCrop}, {AugmentFlip}, {AugmentCrop, AugmentFlip}, {AugmentFlip, AugmentCrop}} {
		a := newAugmenter(ops, pad, c, h, w)
		rng, ref := rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(1, 2))
		seen := map[string]bool{}
		for n := 0; n < 400; n++ {
			got := slices.Clone(img)
			a.apply(got, rng)
			want := refAugment(img, ops, pad, c, h, w, ref)
			if !slices.Equal(got, want) {
				t.Fatalf("%v, draw %d: %v, want %v", ops, n, got, want)
			}
			seen[fmt.Sprint(got)] = true
		}
		// Distinct outcomes: 25 crop offsets, 2 flips (this image has no symmetry).
		wantOutcomes := 1
		for _, op := range ops {
			wantOutcomes *= map[string]int{AugmentCrop: (2*pad + 1) * (2*pad + 1), AugmentFlip: 2}[op]
		}
		if len(seen) != wantOutcomes {
			t.Errorf("%v: %d distinct images in 400 draws, want %d", ops, len(seen), wantOutcomes)
		}
		if rng.Uint64() != ref.Uint64() {
			t.Errorf("%v: apply drew a different number of values than documented", ops)
		}
	}
	if newAugmenter(nil, 4, c, h, w) != nil {
		t.Error("an empty list gives an augmenter")
	}
}
