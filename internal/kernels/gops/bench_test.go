package gops

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// netBuilder builds a network on input x and returns its logits; params
// collects the learnables it creates.
type netBuilder struct {
	g      *G.ExprGraph
	rng    *rand.Rand
	params G.Nodes
	train  bool
	ours   bool // gops ops instead of gorgonia built-ins
}

func (b *netBuilder) param(shape ...int) *G.Node {
	n := G.NewTensor(b.g, tensor.Float32, len(shape), G.WithShape(shape...),
		G.WithValue(randT(b.rng, shape...)), G.WithName(fmt.Sprintf("p%d", len(b.params))))
	b.params = append(b.params, n)
	return n
}

func (b *netBuilder) conv(x *G.Node, out, k, stride, pad int, bias bool) *G.Node {
	w := b.param(out, x.Shape()[1], k, k)
	var bn *G.Node
	if bias {
		bn = b.param(1, out, 1, 1)
	}
	if b.ours {
		return G.Must(Conv2d(x, w, bn, [2]int{stride, stride}, [2]int{pad, pad}))
	}
	y := G.Must(G.Conv2d(x, w, tensor.Shape{k, k}, []int{pad, pad}, []int{stride, stride}, []int{1, 1}))
	if bias {
		y = G.Must(G.BroadcastAdd(y, bn, nil, []byte{0, 2, 3}))
	}
	return y
}

func (b *netBuilder) bn(x *G.Node) *G.Node {
	c := x.Shape()[1]
	g, be := b.param(1, c, 1, 1), b.param(1, c, 1, 1)
	if b.ours {
		return G.Must(BatchNorm2d(x, g, be, NewBNStats(c), b.train))
	}
	y, _, _, _, err := G.BatchNorm(x, g, be, 0.1, 1e-5)
	if err != nil {
		panic(err)
	}
	return y
}

func (b *netBuilder) relu(x *G.Node) *G.Node {
	if b.ours {
		return G.Must(ReLU(x))
	}
	return G.Must(G.Rectify(x))
}

func (b *netBuilder) linear(x *G.Node, out int) *G.Node {
	in := x.Shape().TotalSize() / x.Shape()[0]
	if b.ours {
		return G.Must(Linear(x, b.param(out, in), b.param(out)))
	}
	if x.Dims() != 2 {
		x = G.Must(G.Reshape(x, tensor.Shape{x.Shape()[0], in}))
	}
	return G.Must(G.BroadcastAdd(G.Must(G.Mul(x, b.param(in, out))), b.param(1, out), nil, []byte{0}))
}

func (b *netBuilder) lenet(x *G.Node) *G.Node {
	pool := func(h *G.Node) *G.Node {
		if b.ours {
			return G.Must(MaxPool2d(h, [2]int{2, 2}, [2]int{2, 2}, [2]int{0, 0}))
		}
		return G.Must(G.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}))
	}
	h := pool(b.relu(b.conv(x, 6, 5, 1, 2, true)))
	h = pool(b.relu(b.conv(h, 16, 5, 1, 0, true)))
	h = b.relu(b.linear(h, 120))
	h = b.relu(b.linear(h, 84))
	return b.linear(h, 10)
}

func (b *netBuilder) resnet20(x *G.Node) *G.Node {
	h := b.relu(b.bn(b.conv(x, 16, 3, 1, 1, false)))
	for stage, ch := range []int{16, 32, 64} {
		for blk := 0; blk < 3; blk++ {
			stride := 1
			if stage > 0 && blk == 0 {
				stride = 2
			}
			o := b.relu(b.bn(b.conv(h, ch, 3, stride, 1, false)))
			o = b.bn(b.conv(o, ch, 3, 1, 1, false))
			sc := h
			if stride != 1 {
				sc = b.bn(b.conv(h, ch, 1, stride, 0, false))
			}
			h = b.relu(G.Must(G.Add(o, sc)))
		}
	}
	if b.ours {
		h = G.Must(GlobalAvgPool(h))
	} else {
		s := h.Shape()
		h = G.Must(G.Mean(G.Must(G.Reshape(h, tensor.Shape{s[0], s[1], s[2] * s[3]})), 2))
	}
	return b.linear(h, 10)
}

// benchNet times one RunAll of a net: forward only, or forward + backward to
// every parameter (train) or to the input only (inputGrad).
func benchNet(b *testing.B, net string, batch int, ours bool, mode string) {
	g := G.NewGraph()
	nb := &netBuilder{g: g, rng: rand.New(rand.NewPCG(1, 2)), ours: ours, train: mode == "train"}
	shape := []int{batch, 1, 28, 28}
	if net == "resnet20" {
		shape = []int{batch, 3, 32, 32}
	}
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(shape...), G.WithValue(randT(nb.rng, shape...)), G.WithName("x"))
	var y *G.Node
	if net == "lenet" {
		y = nb.lenet(x)
	} else {
		y = nb.resnet20(x)
	}
	var opts []G.VMOpt
	if mode != "forward" {
		r := G.NewTensor(g, tensor.Float32, 2, G.WithShape(y.Shape()...), G.WithValue(randT(nb.rng, y.Shape()...)), G.WithName("r"))
		loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, r))))
		wrt := G.Nodes{x}
		if mode == "train" {
			wrt = nb.params
			opts = append(opts, G.BindDualValues(nb.params...))
		}
		grad := G.Grad
		if ours {
			grad = Grad
		}
		if _, err := grad(loss, wrt...); err != nil {
			b.Fatal(err)
		}
	}
	vm := G.NewTapeMachine(g, opts...)
	defer vm.Close()
	run := func() {
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
		vm.Reset()
	}
	run()
	c0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		run()
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
	// CPU seconds (all threads) per image: robust to other load on a shared
	// machine, unlike wall time.
	b.ReportMetric(float64(batch*b.N)/(cpuTime()-c0), "img/cpu-s")
}

// BenchmarkNets compares gops against gorgonia's built-ins on the reference
// networks; PyTorch's numbers on this machine are in design.md §5.
func BenchmarkNets(b *testing.B) {
	for _, c := range []struct {
		net   string
		batch int
		mode  string
	}{
		{"lenet", 64, "train"}, {"lenet", 256, "forward"}, {"lenet", 64, "inputgrad"},
		{"resnet20", 32, "train"}, {"resnet20", 256, "forward"}, {"resnet20", 32, "inputgrad"},
	} {
		for _, ours := range []bool{true, false} {
			impl := "builtin"
			if ours {
				impl = "gops"
			}
			b.Run(fmt.Sprintf("%s-%s-b%d/%s", c.net, c.mode, c.batch, impl), func(b *testing.B) {
				if !ours && c.net == "resnet20" && testing.Short() {
					b.Skip("slow")
				}
				benchNet(b, c.net, c.batch, ours, c.mode)
			})
		}
	}
}

// cpuTime is the process's user+system CPU time in seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
