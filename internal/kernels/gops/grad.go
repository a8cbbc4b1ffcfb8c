package gops

import G "gorgonia.org/gorgonia"

// needer is an op whose gradients can be restricted to some inputs.
type needer interface {
	inputNodes() []*G.Node
	setNeed([]bool)
}

// need records which inputs an op builds gradients for (nil: all).
type need []bool

func (n need) wants(i int) bool { return n == nil || (i < len(n) && n[i]) }

func (n need) diffWRT(arity int) []bool {
	b := make([]bool, arity)
	for i := range b {
		b[i] = n.wants(i)
	}
	return b
}

// Grad is G.Grad(cost, wrt...) after telling every gops op in cost's graph
// which of its inputs depend on some wrt node, so that gradients nobody asked
// for are neither built nor computed: with wrt = the parameters (training),
// no dx for the first layer; with wrt = the input (FGSM/PGD), no weight,
// bias, γ or β gradients. G.Grad alone works too but computes every
// gradient. The restriction stays on the ops: a later G.Grad on the same
// graph that wants more fails with gorgonia's "Non Differentiable WRTs".
func Grad(cost *G.Node, wrt ...*G.Node) (G.Nodes, error) {
	g := cost.Graph()
	target := make(map[*G.Node]bool, len(wrt))
	for _, n := range wrt {
		target[n] = true
	}
	memo := make(map[*G.Node]bool)
	var dep func(n *G.Node) bool
	dep = func(n *G.Node) bool {
		if v, ok := memo[n]; ok {
			return v
		}
		memo[n] = false // acyclic; guards the recursion only
		r := target[n]
		for it := g.From(n.ID()); it.Next(); {
			if dep(it.Node().(*G.Node)) {
				r = true
			}
		}
		memo[n] = r
		return r
	}
	for _, n := range g.AllNodes() {
		op, ok := n.Op().(needer)
		if !ok {
			continue
		}
		in := op.inputNodes()
		nd := make([]bool, len(in))
		for i, c := range in {
			nd[i] = dep(c)
		}
		op.setNeed(nd)
	}
	return G.Grad(cost, wrt...)
}
