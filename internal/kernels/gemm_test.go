package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveGemm is the float64 triple-loop reference of C = α·op(A)·op(B) + β·C.
func naiveGemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if tA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			if beta == 0 {
				out[i*ldc+j] = float64(alpha) * s
			} else {
				out[i*ldc+j] = float64(alpha)*s + float64(beta)*float64(c[i*ldc+j])
			}
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// checkClose compares got with the float64 reference with a tolerance scaled
// by the k-term sum of magnitudes (float32 accumulation error ∝ k·eps).
func checkClose(t *testing.T, name string, got []float32, want []float64, k int) {
	t.Helper()
	tol := 1e-5 * float64(k+4)
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(float64(got[i])) != math.IsNaN(want[i]) {
			t.Fatalf("%s: element %d = %v, want %v", name, i, got[i], want[i])
		}
	}
}

// allKernels lists every micro-kernel built into this binary, so each is
// tested whichever one is selected at run time.
func allKernels() map[string]func(int, []float32, []float32, int, []float32, int, bool) {
	ks := map[string]func(int, []float32, []float32, int, []float32, int, bool){"go": kernelGo, kernelName: kernel}
	if simdKernel != nil {
		ks["archsimd"] = simdKernel
	}
	return ks
}

func TestSgemmAgainstNaive(t *testing.T) {
	for name, k := range allKernels() {
		t.Run(name, func(t *testing.T) {
			old := kernel
			kernel = k
			defer func() { kernel = old }()
			testSgemmAgainstNaive(t)
		})
	}
}

func testSgemmAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := [][3]int{{1, 1, 1}, {6, 16, 5}, {7, 17, 3}, {5, 33, 300}, {13, 9, 257}, {64, 64, 64}, {6, 100, 25}, {20, 3, 600}, {1, 40, 1}}
	for _, sz := range sizes {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {0, 0.5}} {
					for _, workers := range []int{1, 3} {
						alpha, beta := ab[0], ab[1]
						ar, ac := m, k
						if tA {
							ar, ac = k, m
						}
						br, bc := k, n
						if tB {
							br, bc = n, k
						}
						lda, ldb, ldc := ac+2, bc+1, n+3
						a := randSlice(r, (ar-1)*lda+ac)
						b := randSlice(r, (br-1)*ldb+bc)
						c := randSlice(r, (m-1)*ldc+n)
						if beta == 0 {
							c[0] = float32(math.NaN()) // β = 0 must not propagate NaN
						}
						want := naiveGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
						// Elements between rows (ldc padding) must stay untouched.
						SgemmParallel(workers, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
						checkClose(t, fmt.Sprintf("m%d n%d k%d tA=%v tB=%v α=%v β=%v w=%d", m, n, k, tA, tB, alpha, beta, workers), c, want, k)
					}
				}
			}
		}
	}
}

func TestSgemmWorkersBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	m, n, k := 37, 530, 300
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	ref := make([]float32, m*n)
	SgemmParallel(1, false, false, m, n, k, 1, a, k, b, n, 0, ref, n)
	for _, w := range []int{2, 3, 7} {
		c := make([]float32, m*n)
		SgemmParallel(w, false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		for i := range c {
			if c[i] != ref[i] {
				t.Fatalf("workers=%d: element %d = %v, single-threaded %v", w, i, c[i], ref[i])
			}
		}
	}
}

func TestSgemmBatchedAndSum(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ batch, m, n, k int }{{3, 6, 100, 25}, {2, 16, 64, 144}, {4, 5, 7, 300}} {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				bt, m, n, k := tc.batch, tc.m, tc.n, tc.k
				lda := k
				if tA {
					lda = m
				}
				ldb := n
				if tB {
					ldb = k
				}
				a := randSlice(r, m*k)
				sb, sc := k*n+5, m*n+2
				b := randSlice(r, bt*sb)
				c := randSlice(r, bt*sc)
				want := make([]float64, len(c))
				for i := range c {
					want[i] = float64(c[i])
				}
				for g := 0; g < bt; g++ {
					w := naiveGemm(tA, tB, m, n, k, 1.5, a, lda, b[g*sb:], ldb, 0.5, c[g*sc:g*sc+m*n], n)
					copy(want[g*sc:], w)
				}
				SgemmBatched(2, tA, tB, bt, m, n, k, 1.5, a, lda, b, ldb, sb, 0.5, c, n, sc)
				checkClose(t, fmt.Sprintf("batched %v tA=%v tB=%v", tc, tA, tB), c, want, k)

				// Sum: A_g strided too; C = Σ_g op(A_g) op(B_g).
				sa := m*k + 3
				ag := randSlice(r, bt*sa)
				c2 := randSlice(r, m*n)
				want2 := make([]float64, m*n)
				for i := range c2 {
					want2[i] = -1 * float64(c2[i])
				}
				for g := 0; g < bt; g++ {
					w := naiveGemm(tA, tB, m, n, k, 0.5, ag[g*sa:], lda, b[g*sb:], ldb, 0, make([]float32, m*n), n)
					for i := range w {
						want2[i] += w[i]
					}
				}
				SgemmSum(3, tA, tB, bt, m, n, k, 0.5, ag, lda, sa, b, ldb, sb, -1, c2, n)
				checkClose(t, fmt.Sprintf("sum %v tA=%v tB=%v", tc, tA, tB), c2, want2, k*bt)
			}
		}
	}
}

func TestSumNT(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, dk := range map[string]func(int, []float32, int, []float32, int, *[ntM * ntN]float32){"go": dotGo, "selected": dotKernel} {
		old := dotKernel
		dotKernel = dk
		for _, tc := range []struct{ batch, m, n, k int }{{1, 3, 4, 8}, {2, 6, 25, 784}, {3, 7, 10, 13}, {1, 16, 144, 1100}, {2, 1, 1, 5}, {1, 5, 9, 0}} {
			lda, ldb, ldc := tc.k+3, tc.k+1, tc.n+2
			sa, sb := tc.m*lda+7, tc.n*ldb+5
			a, b := randSlice(r, tc.batch*sa), randSlice(r, tc.batch*sb)
			c := randSlice(r, tc.m*ldc)
			want := make([]float64, len(c))
			for i := range c {
				want[i] = float64(c[i])
			}
			for i := 0; i < tc.m; i++ {
				for j := 0; j < tc.n; j++ {
					var s float64
					for g := 0; g < tc.batch; g++ {
						for p := 0; p < tc.k; p++ {
							s += float64(a[g*sa+i*lda+p]) * float64(b[g*sb+j*ldb+p])
						}
					}
					want[i*ldc+j] = s
				}
			}
			sumNT(2, tc.batch, tc.m, tc.n, tc.k, a, lda, sa, b, ldb, sb, c, ldc)
			checkClose(t, fmt.Sprintf("sumNT %+v", tc), c, want, tc.k*tc.batch)
			c1 := make([]float32, len(c))
			copy(c1, c)
			sumNT(1, tc.batch, tc.m, tc.n, tc.k, a, lda, sa, b, ldb, sb, c1, ldc)
			for i := range c {
				if c[i] != c1[i] {
					t.Fatalf("sumNT %+v: workers change element %d", tc, i)
				}
			}
		}
		dotKernel = old
	}
}

// TestPackedAMatchesBatched: products with a prepacked A equal SgemmBatched's
// bit for bit, for both orientations of A and B and every β kind.
func TestPackedAMatchesBatched(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	for _, c := range []struct {
		m, n, k, batch int
		ta, tb         bool
		beta           float32
	}{
		{13, 37, 300, 3, false, false, 0}, {64, 16, 4608, 2, true, false, 1}, {7, 5, 3, 4, false, true, 0.5}, {512, 16, 600, 1, true, true, 0},
	} {
		lda := c.k
		if c.ta {
			lda = c.m
		}
		ldb := c.n
		if c.tb {
			ldb = c.k
		}
		a, b := fill(c.m*c.k), fill(c.batch*c.k*c.n)
		c0 := fill(c.batch * c.m * c.n)
		want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
		SgemmBatched(2, c.ta, c.tb, c.batch, c.m, c.n, c.k, 0.75, a, lda, b, ldb, c.k*c.n, c.beta, want, c.n, c.m*c.n)
		PackA(c.ta, c.m, c.k, 0.75, a, lda).SgemmBatched(2, c.tb, c.batch, c.n, b, ldb, c.k*c.n, c.beta, got, c.n, c.m*c.n)
		for i := range want {
			if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
				t.Fatalf("%+v: element %d: packed %v, batched %v", c, i, got[i], want[i])
			}
		}
	}
}
