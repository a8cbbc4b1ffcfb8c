package models

import (
	"testing"
)

// cifarMean and cifarStd are the normalisation of the Mahalanobis code's
// CIFAR-10 models.
var (
	cifarMean = []float64{0.4914, 0.4822, 0.4465}
	cifarStd  = []float64{0.2023, 0.1994, 0.2010}
)

// TestZooMatchesReference runs matchReference on narrow members of each zoo
// family, with input normalisation: the native engine's concatenation,
// average pooling, pre-activation blocks and normalisation against gorgonia's
// autodiff.
func TestZooMatchesReference(t *testing.T) {
	for _, c := range []struct {
		arch string
		taps []tapReduce
	}{
		{"resnet18-w2", []tapReduce{{"layer2", ChannelMean}, {"bn1", Flatten}}},
		{"densenet-bc-10-2", []tapReduce{{"trans1", Flatten}, {"conv1", ChannelMean}, {"bn1", Flatten}}},
		{"wrn-10-1", []tapReduce{{"block2", ChannelMean}}},
		{"wrn-16-1", []tapReduce{{"block1", Flatten}}},
	} {
		t.Run(c.arch, func(t *testing.T) {
			net, err := New(Spec{Arch: c.arch, Classes: 10, Seed: 7, Mean: cifarMean, Std: cifarStd})
			if err != nil {
				t.Fatal(err)
			}
			randomizeBN(t, net, 8)
			matchReference(t, net, 9, c.taps)
		})
	}
}
