// Package corruptions is reserved for the CIFAR-10-C and MNIST-C corruptions of
// the corruption-detection benchmark. It holds no code yet: nothing in the
// harness corrupts images today.
package corruptions
