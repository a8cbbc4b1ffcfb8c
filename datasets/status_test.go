package datasets

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDataRoot(t *testing.T) {
	t.Setenv(DataRootEnv, "")
	if DataRoot() != "/usr/share/datasets" || DefaultPath("svhn") != "/usr/share/datasets/svhn" {
		t.Errorf("default root %q", DataRoot())
	}
	t.Setenv(DataRootEnv, "/data")
	if DefaultPath("cifar-10-batches-bin") != "/data/cifar-10-batches-bin" {
		t.Errorf("root from env: %q", DefaultPath("cifar-10-batches-bin"))
	}
}

func TestNewKindsRegistered(t *testing.T) {
	for _, k := range []string{"cifar10", "cifar100", "svhn", "npy", "cifar10-c", "cifar100-c", "mnist-c", "folder", "letters"} {
		if Doc(k) == "" {
			t.Errorf("kind %q missing or undocumented", k)
		}
	}
}

func TestStatus(t *testing.T) {
	root := t.TempDir()
	t.Setenv(DataRootEnv, root)
	// A complete CIFAR-10 folder at the default place; nothing else.
	cifar := writeCIFARDir(t, 1)
	if err := renameDir(cifar, filepath.Join(root, "cifar-10-batches-bin")); err != nil {
		t.Fatal(err)
	}
	got := map[string]KindStatus{}
	for _, st := range Status() {
		got[st.Kind] = st
	}
	for _, want := range []KindStatus{
		{Kind: "cifar10", Path: filepath.Join(root, "cifar-10-batches-bin"), Found: true},
		{Kind: "cifar100", Path: filepath.Join(root, "cifar-100-binary")},
		{Kind: "svhn", Path: filepath.Join(root, "svhn")},
		{Kind: "cifar10-c", Path: filepath.Join(root, "CIFAR-10-C"), Needs: `datasets: cifar10-c: param corruption is required (e.g. "shot_noise")`},
		{Kind: "mnist-c", Path: filepath.Join(root, "mnist_c"), Needs: `datasets: mnist-c: param corruption is required (e.g. "shot_noise")`},
		{Kind: "letters", Path: "generated", Found: true},
		{Kind: "uniform-noise", Path: "generated", Found: true},
		{Kind: "npy", Needs: "datasets: npy: param images is required"},
		{Kind: "folder", Needs: "datasets: folder: param path is required"},
	} {
		if g := got[want.Kind]; g != want {
			t.Errorf("Status %s = %+v, want %+v", want.Kind, g, want)
		}
	}
	if len(got) != len(Kinds()) {
		t.Errorf("Status has %d kinds, Kinds %d", len(got), len(Kinds()))
	}
}

func renameDir(from, to string) error { return os.Rename(from, to) }
