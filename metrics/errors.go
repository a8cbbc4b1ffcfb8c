package metrics

import (
	"errors"
	"fmt"
	"math"
)

// ErrNeedBothClasses is returned when the normal or the anomalous set is
// empty: AUROC, FPR95 and the rest are undefined without both classes.
var ErrNeedBothClasses = errors.New("metrics: need at least one normal and one anomalous score")

// NonFiniteError reports a NaN or ±Inf score. Scores are rejected rather
// than skipped because a NaN sorts nowhere and would silently change every
// metric; the caller usually wraps the error with the detector's name.
type NonFiniteError struct {
	// Set names the input slice: "normal" or "anomalous" (for
	// AveragePrecision: "positive" or "negative", after the sample's label).
	Set string
	// Index is the position in the caller's slice (for AveragePrecision, in
	// scores).
	Index int
	// Value is the offending score: NaN, +Inf or -Inf.
	Value float64
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("metrics: %s score %d is %v", e.Set, e.Index, e.Value)
}

// checkFinite returns a *NonFiniteError for the first non-finite score.
func checkFinite(set string, scores []float64) error {
	for i, s := range scores {
		if !finite(s) {
			return &NonFiniteError{Set: set, Index: i, Value: s}
		}
	}
	return nil
}

// validate checks the two sets of scores that every two-set function takes.
func validate(normal, anomalous []float64) error {
	if len(normal) == 0 || len(anomalous) == 0 {
		return ErrNeedBothClasses
	}
	if err := checkFinite("normal", normal); err != nil {
		return err
	}
	return checkFinite("anomalous", anomalous)
}

func finite(s float64) bool { return !math.IsNaN(s) && !math.IsInf(s, 0) }
