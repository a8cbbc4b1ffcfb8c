package attacks

import "context"

// ascend runs steps iterations of gradient ascent on the cross-entropy of the
// batch's images b.Adv: at every step it computes g_i = ∇ₓCE(f(x_i), y_i)
// for the samples still active and calls update(i, x_i, g_i), which
// overwrites x_i (a row of b.Adv) in place. With stopOnSuccess a sample whose
// current image is already misclassified (arg-max ≠ y) is left as it is and
// drops out (BIM-A); otherwise all samples take every step.
func ascend(ctx context.Context, m Model, b *Batch, steps int, stopOnSuccess bool, update func(i int, x, g []float32)) error {
	n, d, c, y := b.Len(), b.Dim(), m.Classes(), b.Y
	r := newGradRunner(m, b)
	active := all(n)
	for range steps {
		if len(active) == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		logits, grad, err := r.run(b.Adv, active, func(_, i int, z, g []float32) float64 { return crossEntropy(z, y[i], g) })
		if err != nil {
			return err
		}
		next := active[:0] // filtering in place: k only grows, so row k is read before it could be overwritten
		for k, i := range active {
			if stopOnSuccess && argmax(logits[k*c:(k+1)*c]) != y[i] {
				continue
			}
			update(i, b.Adv[i*d:(i+1)*d], grad[k*d:(k+1)*d])
			next = append(next, i)
		}
		active = next
	}
	return nil
}
