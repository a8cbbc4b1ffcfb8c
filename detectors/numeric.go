package detectors

import (
	"fmt"
	"math"
)

// decodeParams decodes a detector's parameter table into v. A nil Decoder
// means the configuration has no parameters, so v keeps its defaults.
func decodeParams(typ string, params Decoder, v any) error {
	if params == nil {
		return nil
	}
	if err := params.Decode(v); err != nil {
		return fmt.Errorf("detectors: %s: %w", typ, err)
	}
	return nil
}

// checkTemperature validates a temperature parameter: finite and positive.
func checkTemperature(typ string, t float64) error {
	if !(t > 0) || math.IsInf(t, 0) {
		return fmt.Errorf("detectors: %s: key \"temperature\": want a finite positive number, got %v", typ, t)
	}
	return nil
}

// finite reports whether every value of v is neither NaN nor ±Inf.
func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// checkFinite returns an error naming the first sample of m with a NaN or
// ±Inf entry; what names the quantity, e.g. "logits".
func checkFinite(typ, what string, m Matrix) error {
	for i := 0; i < m.Rows; i++ {
		if !finite(m.Row(i)) {
			return fmt.Errorf("detectors: %s: %s of sample %d are not finite: %v", typ, what, i, m.Row(i))
		}
	}
	return nil
}

// formatFloat formats a parameter value for a detector's name, shortest form.
func formatFloat(v float64) string { return fmt.Sprintf("%g", v) }
