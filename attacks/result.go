package attacks

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Result is the outcome of Run: the adversarial images and, per sample, the
// model's predictions and the perturbation norms.
type Result struct {
	Attack     string    // the attack's Name
	N, C, H, W int       // number of samples and image shape
	Adv        []float32 // adversarial images, N×C×H×W in [0,1]
	Labels     []int     // true labels y
	CleanPred  []int     // arg-max prediction on the clean image
	Pred       []int     // arg-max prediction on the adversarial image
	Success    []bool    // Pred ≠ Labels (true as well for samples already misclassified when clean)
	Linf, L2   []float64 // ‖x' − x‖∞ and ‖x' − x‖₂ per sample
	Elapsed    time.Duration
}

// Summary condenses a Result.
type Summary struct {
	Attack        string
	N             int
	CleanAccuracy float64 // fraction with CleanPred = y
	Accuracy      float64 // accuracy under attack: fraction with Pred = y
	Correct       int     // samples classified correctly when clean
	Fooled        int     // of those, samples with Pred ≠ y
	// SuccessRate is Fooled/Correct: the success rate over the initially
	// correct samples (NaN if there are none).
	SuccessRate float64
	// Mean and maximum perturbation norms over the Fooled samples (NaN if none).
	MeanLinf, MaxLinf, MeanL2, MaxL2 float64
	Elapsed                          time.Duration
}

// Summary computes the summary of r.
func (r *Result) Summary() Summary {
	s := Summary{Attack: r.Attack, N: r.N, Elapsed: r.Elapsed}
	var clean, adv int
	var sumInf, sum2 float64
	s.MaxLinf, s.MaxL2 = math.Inf(-1), math.Inf(-1)
	for i, y := range r.Labels {
		if r.CleanPred[i] == y {
			clean++
		}
		if r.Pred[i] == y {
			adv++
		}
		if r.CleanPred[i] == y && r.Pred[i] != y {
			s.Fooled++
			sumInf += r.Linf[i]
			sum2 += r.L2[i]
			s.MaxLinf = math.Max(s.MaxLinf, r.Linf[i])
			s.MaxL2 = math.Max(s.MaxL2, r.L2[i])
		}
	}
	s.Correct = clean
	s.CleanAccuracy = ratio(clean, r.N)
	s.Accuracy = ratio(adv, r.N)
	s.SuccessRate = ratio(s.Fooled, clean)
	if s.Fooled == 0 {
		s.MaxLinf, s.MaxL2 = math.NaN(), math.NaN()
	}
	s.MeanLinf = sumInf / float64(s.Fooled) // 0/0 = NaN when none
	s.MeanL2 = sum2 / float64(s.Fooled)
	return s
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// String is a one-line form for logs, e.g.
// "pgd: 500 images, accuracy 98.4% → 0.0%, success 100.0% of 492, L∞ mean 0.0314 max 0.0314, L2 mean 1.23 max 1.71, 2.1 s".
func (s Summary) String() string {
	return fmt.Sprintf("%s: %d images, accuracy %s → %s, success %s of %d, L∞ mean %.4g max %.4g, L2 mean %.4g max %.4g, %.1f s",
		s.Attack, s.N, pct(s.CleanAccuracy), pct(s.Accuracy), pct(s.SuccessRate), s.Correct,
		s.MeanLinf, s.MaxLinf, s.MeanL2, s.MaxL2, s.Elapsed.Seconds())
}

// SummaryHeader names the columns of Summary.Row.
func SummaryHeader() []string {
	return []string{"attack", "n", "clean acc", "adv acc", "success", "mean L∞", "max L∞", "mean L2", "max L2", "time (s)"}
}

// Row returns the summary as table cells, in SummaryHeader's order.
func (s Summary) Row() []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
	return []string{s.Attack, strconv.Itoa(s.N), pct(s.CleanAccuracy), pct(s.Accuracy), pct(s.SuccessRate),
		f(s.MeanLinf), f(s.MaxLinf), f(s.MeanL2), f(s.MaxL2), strconv.FormatFloat(s.Elapsed.Seconds(), 'f', 2, 64)}
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return strconv.FormatFloat(100*v, 'f', 1, 64) + "%"
}
