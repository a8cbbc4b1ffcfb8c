package detectors

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/purview-lab/purview/models"
)

// TestGradNormMatchesAutodiff: the closed form GradNorm(x) = ‖h‖₁·Σ_j|C·p_j − 1|
// (anchors §3.2, T = 1) equals the L1 norm of the last-layer weight gradient of
// −Σ_c log softmax(z)_c computed by autodiff through LeNet-5, batch 1 per sample.
// That loss is the softmax BCE confounding loss with the all-ones label.
func TestGradNormMatchesAutodiff(t *testing.T) {
	net, err := models.NewNetwork(models.ArchLeNet5, 10, 4)
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	r := rand.New(rand.NewPCG(8, 8))
	x := make([]float32, n*784)
	for i := range x {
		x[i] = r.Float32()
	}
	ones := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	grads, err := net.SampleGrads(x, n, models.Confound{Label: ones, Act: models.Softmax})
	if err != nil {
		t.Fatal(err)
	}
	names := net.GradNames()
	fc3 := -1
	for i, nm := range names {
		if nm == "fc3.weight" {
			fc3 = i
		}
	}
	det, err := New("gradnorm", Env{Classes: 10}, tomlDecoder(""))
	if err != nil {
		t.Fatal(err)
	}
	scores, err := det.Score(NewProbe(net, x, n))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		var l1 float64
		for _, g := range grads[i][fc3] {
			l1 += math.Abs(g)
		}
		if got := -scores[i]; math.Abs(got-l1) > 1e-4*l1 {
			t.Errorf("sample %d: closed-form GradNorm %.8g, autodiff ‖∂J/∂W_fc3‖₁ %.8g", i, got, l1)
		}
	}
}
