// Package datasets reads image datasets and generates synthetic ones. Every set
// is held as float32 NCHW images with values in [0,1].
package datasets

import "fmt"

// Set is a set of images, NCHW float32 in [0,1], with optional class labels.
type Set struct {
	Name    string    // name used in tables and files, e.g. "fashion-mnist:test"
	C, H, W int       // channels, height, width of every image
	Images  []float32 // N·C·H·W values, sample-major
	Labels  []int     // class of each sample; -1 where the set has no labels
	Index   []int     // index of each sample in its source dataset
}

// Len returns the number of samples.
func (s *Set) Len() int { return len(s.Labels) }

// Dim returns the number of values per image, C·H·W.
func (s *Set) Dim() int { return s.C * s.H * s.W }

// Image returns sample i's pixels (a view, not a copy).
func (s *Set) Image(i int) []float32 {
	d := s.Dim()
	return s.Images[i*d : (i+1)*d]
}

// Subset returns a new set holding copies of the samples at idx, in that order.
// It panics if an index is out of range: that is a programming error.
func (s *Set) Subset(idx []int) *Set {
	d := s.Dim()
	out := &Set{Name: s.Name, C: s.C, H: s.H, W: s.W,
		Images: make([]float32, len(idx)*d), Labels: make([]int, len(idx)), Index: make([]int, len(idx))}
	for k, i := range idx {
		if i < 0 || i >= s.Len() {
			panic(fmt.Sprintf("datasets: Subset index %d out of range [0,%d)", i, s.Len()))
		}
		copy(out.Images[k*d:(k+1)*d], s.Image(i))
		out.Labels[k] = s.Labels[i]
		out.Index[k] = s.Index[i]
	}
	return out
}

// Check reports whether the set is internally consistent: slice lengths agree
// with N·C·H·W and every pixel lies in [0,1].
func (s *Set) Check() error {
	n := s.Len()
	if s.C <= 0 || s.H <= 0 || s.W <= 0 {
		return fmt.Errorf("datasets: set %q: non-positive image shape %dx%dx%d", s.Name, s.C, s.H, s.W)
	}
	if len(s.Images) != n*s.Dim() {
		return fmt.Errorf("datasets: set %q: %d pixel values for %d images of %dx%dx%d", s.Name, len(s.Images), n, s.C, s.H, s.W)
	}
	if len(s.Index) != n {
		return fmt.Errorf("datasets: set %q: %d indices for %d images", s.Name, len(s.Index), n)
	}
	for i, v := range s.Images {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("datasets: set %q: image %d has pixel value %v outside [0,1]", s.Name, i/s.Dim(), v)
		}
	}
	return nil
}
