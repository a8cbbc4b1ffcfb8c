// Package cblas calls OpenBLAS's cblas_sgemm through cgo. It is linked into
// package kernels only with -tags openblas (Debian: apt-get install
// libopenblas-dev); a separate package because a cgo package cannot also hold
// kernels' Go assembly.
package cblas
