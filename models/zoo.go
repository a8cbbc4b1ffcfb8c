package models

import (
	"fmt"
	"strconv"
	"strings"
)

// ArchInfo is a parsed architecture name.
type ArchInfo struct {
	Name   string // as given
	Family string // "lenet5", "resnet20", "resnet", "densenet-bc", "wrn"
	// Canonical is the fully parameterised name: two names build the same
	// network exactly when their canonical names are equal
	// ("densenet100" and "densenet-bc-100-12").
	Canonical string
	in        shape
	build     func(Spec) *builder
}

// ParseArch resolves an architecture name. Besides the names of Archs it
// accepts the zoo's parameterised forms, all for 3×32×32 inputs:
//
//	resnet18-wN, resnet34-wN   ResNet-18/34 with base width N (64 for the published ones)
//	densenet-bc-D-K            DenseNet-BC of depth D (D ≡ 4 mod 6) and growth rate K
//	wrn-D-W                    WideResNet of depth D (D ≡ 4 mod 6) and widen factor W
func ParseArch(name string) (ArchInfo, error) {
	cifar := shape{3, 32, 32}
	a := ArchInfo{Name: name, in: cifar}
	bad := func(why string) (ArchInfo, error) {
		return ArchInfo{}, fmt.Errorf("models: architecture %q: %s (known: %s, or resnet18-wN, resnet34-wN, densenet-bc-D-K, wrn-D-W)", name, why, strings.Join(Archs(), ", "))
	}
	switch name {
	case ArchLeNet5, ArchLeNet5Dropout:
		p := 0.0
		if name == ArchLeNet5Dropout {
			p = 0.5
		}
		a.Family, a.in, a.Canonical = "lenet5", shape{1, 28, 28}, name
		a.build = func(sp Spec) *builder { return lenet5(sp, p) }
		return a, nil
	case ArchResNet20:
		a.Family, a.build, a.Canonical = "resnet20", resnet20, name
		return a, nil
	case ArchDenseNet100:
		name = "densenet-bc-100-12"
	}
	ints := func(s string) ([]int, bool) {
		var out []int
		for _, f := range strings.Split(s, "-") {
			v, err := strconv.Atoi(f)
			if err != nil || v < 1 || f != strconv.Itoa(v) {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	}
	switch {
	case name == ArchResNet18 || name == ArchResNet34 || strings.HasPrefix(name, "resnet18-w") || strings.HasPrefix(name, "resnet34-w"):
		blocks := []int{2, 2, 2, 2}
		if strings.HasPrefix(name, "resnet34") {
			blocks = []int{3, 4, 6, 3}
		}
		width := 64
		if len(name) > len("resnet18") {
			v, ok := ints(name[len("resnet18-w"):])
			if !ok || len(v) != 1 {
				return bad("want resnet18-wN with a positive width N")
			}
			width = v[0]
		}
		a.Family, a.Canonical = "resnet", fmt.Sprintf("%s-w%d", name[:len("resnet18")], width)
		a.build = func(sp Spec) *builder { return resnetCIFAR(sp, blocks, width) }
		return a, nil
	case strings.HasPrefix(name, "densenet-bc-"):
		v, ok := ints(name[len("densenet-bc-"):])
		if !ok || len(v) != 2 || v[0] < 10 || (v[0]-4)%6 != 0 {
			return bad("want densenet-bc-D-K with depth D ≥ 10, D ≡ 4 (mod 6), and growth rate K ≥ 1")
		}
		a.Family, a.Canonical = "densenet-bc", fmt.Sprintf("densenet-bc-%d-%d", v[0], v[1])
		a.build = func(sp Spec) *builder { return denseNetBC(sp, v[0], v[1]) }
		return a, nil
	case strings.HasPrefix(name, "wrn-"):
		v, ok := ints(name[len("wrn-"):])
		if !ok || len(v) != 2 || v[0] < 10 || (v[0]-4)%6 != 0 {
			return bad("want wrn-D-W with depth D ≥ 10, D ≡ 4 (mod 6), and widen factor W ≥ 1")
		}
		a.Family, a.Canonical = "wrn", fmt.Sprintf("wrn-%d-%d", v[0], v[1])
		a.build = func(sp Spec) *builder { return wideResNet(sp, v[0], v[1]) }
		return a, nil
	}
	return bad("unknown")
}

// resnetCIFAR is the CIFAR ResNet of kuangliu/pytorch-cifar, which the
// Mahalanobis detector's ResNet-34 uses, with its module names: conv1 3×3
// (width channels, no bias) → bn1 → ReLU → layer1…layer4 of basic blocks
// (width·1, 2, 4, 8 channels; the first block of layers 2–4 has stride 2) →
// global average pool (F.avg_pool2d(·, 4) on the 4×4 maps) → linear. A block
// computes ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + shortcut(x)), the shortcut
// a 1×1 conv + BN ("shortcut.0", "shortcut.1") where the shape changes.
// Taps, as the Mahalanobis code's feature_list: "bn1" (the stem after ReLU),
// "layer1" … "layer4", and "avgpool" (the penultimate features).
func resnetCIFAR(sp Spec, blocks []int, width int) *builder {
	b := newBuilder(shape{3, 32, 32}, sp)
	h := b.relu(b.bn("bn1", b.conv("conv1", b.x, width, 3, 1, 1, false)))
	b.tap("bn1", h)
	cin := width
	for s, nb := range blocks {
		planes := width << s
		for i := 0; i < nb; i++ {
			stride := 1
			if i == 0 && s > 0 {
				stride = 2
			}
			name := fmt.Sprintf("layer%d.%d", s+1, i)
			y := b.relu(b.bn(name+".bn1", b.conv(name+".conv1", h, planes, 3, stride, 1, false)))
			y = b.bn(name+".bn2", b.conv(name+".conv2", y, planes, 3, 1, 1, false))
			sc := h
			if stride != 1 || cin != planes {
				sc = b.bn(name+".shortcut.1", b.conv(name+".shortcut.0", h, planes, 1, stride, 0, false))
			}
			h = b.relu(b.add(y, sc))
			cin = planes
		}
		b.tap(fmt.Sprintf("layer%d", s+1), h)
	}
	h = b.gap(h)
	b.tap("avgpool", h)
	b.finish(b.linear("linear", h, sp.Classes))
	return b
}

// denseNetBC is the DenseNet-BC (bottleneck, compression 0.5) of the ODIN
// and Mahalanobis code ("DenseNet3"), with its module names: conv1 3×3 to
// 2K channels → three dense blocks of (D−4)/6 bottleneck layers, each
// x ← [x, conv2(ReLU(bn2(conv1(ReLU(bn1(x))))))] (conv1 1×1 to 4K, conv2
// 3×3 to K channels; "blockB.layer.N"), with a transition ⌊C/2⌋-channel
// 1×1 conv after BN and ReLU and a 2×2 average pool between blocks
// ("transB") → bn1 → ReLU → global average pool → fc. No convolution has a
// bias. Taps, as its feature_list: "conv1", "trans1", "trans2", "bn1" (after
// the final ReLU), and "avgpool" (the penultimate features).
func denseNetBC(sp Spec, depth, growth int) *builder {
	b := newBuilder(shape{3, 32, 32}, sp)
	n := (depth - 4) / 6
	c := 2 * growth
	h := b.conv("conv1", b.x, c, 3, 1, 1, false)
	b.tap("conv1", h)
	for blk := 1; blk <= 3; blk++ {
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("block%d.layer.%d", blk, i)
			y := b.conv(name+".conv1", b.relu(b.bn(name+".bn1", h)), 4*growth, 1, 1, 0, false)
			y = b.conv(name+".conv2", b.relu(b.bn(name+".bn2", y)), growth, 3, 1, 1, false)
			h = b.concat(h, y)
			c += growth
		}
		if blk < 3 {
			name := fmt.Sprintf("trans%d", blk)
			c /= 2
			h = b.avgpool(b.conv(name+".conv1", b.relu(b.bn(name+".bn1", h)), c, 1, 1, 0, false))
			b.tap(name, h)
		}
	}
	h = b.relu(b.bn("bn1", h))
	b.tap("bn1", h)
	h = b.gap(h)
	b.tap("avgpool", h)
	b.finish(b.linear("fc", h, sp.Classes))
	return b
}

// wideResNet is the WideResNet of Zagoruyko & Komodakis in the layout of
// xternalz/WideResNet-pytorch (also RobustBench's and Outlier Exposure's),
// without dropout: conv1 3×3 to 16 channels → block1…block3 of (D−4)/6
// pre-activation blocks ("blockB.layer.N"; 16W, 32W, 64W channels; stride 2
// first in blocks 2 and 3) → bn1 → ReLU → global average pool → fc. A block
// with equal input and output widths computes
// x + conv2(ReLU(bn2(conv1(ReLU(bn1(x)))))); otherwise a = ReLU(bn1(x))
// feeds both conv1 and the 1×1 shortcut: convShortcut(a) + conv2(…conv1(a)).
// Taps: "conv1", "block1", "block2", "block3", "bn1" (after the final ReLU),
// and "avgpool" (the penultimate features).
func wideResNet(sp Spec, depth, widen int) *builder {
	b := newBuilder(shape{3, 32, 32}, sp)
	n := (depth - 4) / 6
	h := b.conv("conv1", b.x, 16, 3, 1, 1, false)
	b.tap("conv1", h)
	cin := 16
	for s, out := range []int{16 * widen, 32 * widen, 64 * widen} {
		for i := 0; i < n; i++ {
			stride := 1
			if i == 0 && s > 0 {
				stride = 2
			}
			name := fmt.Sprintf("block%d.layer.%d", s+1, i)
			a := b.relu(b.bn(name+".bn1", h))
			y := b.conv(name+".conv1", a, out, 3, stride, 1, false)
			y = b.conv(name+".conv2", b.relu(b.bn(name+".bn2", y)), out, 3, 1, 1, false)
			sc := h
			if cin != out {
				sc = b.conv(name+".convShortcut", a, out, 1, stride, 0, false)
			}
			h = b.add(y, sc)
			cin = out
		}
		b.tap(fmt.Sprintf("block%d", s+1), h)
	}
	h = b.relu(b.bn("bn1", h))
	b.tap("bn1", h)
	h = b.gap(h)
	b.tap("avgpool", h)
	b.finish(b.linear("fc", h, sp.Classes))
	return b
}
