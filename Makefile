# purview — make targets. `make demo` and `make test` are the two set-up
# commands of the README; both work as root on a fresh Debian machine with Go,
# make and apt.

GO      ?= go
PURVIEW := bin/purview

.PHONY: demo test deps build vet fuzz bench bench-ratio paper-estimate experiments clean

# Debian packages the demo and the tests read data from.
deps:
	@dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist)
	$(GO) mod download

build:
	$(GO) build -o $(PURVIEW) ./cmd/purview

# The main job on the built-in default: LeNet-5 on MNIST against
# Fashion-MNIST, uniform and Gaussian noise.
demo: deps build
	./$(PURVIEW) run configs/mnist.toml

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || (gofmt -l . && echo "gofmt: files above need formatting" && exit 1)

test: deps vet
	$(GO) test -count=1 -timeout 20m ./...

# Fuzzing of every reader, FUZZTIME each (not part of `make test`).
FUZZTIME ?= 60s
fuzz:
	for f in FuzzReadIDX FuzzReadCIFAR FuzzReadMat FuzzReadNPY FuzzReadImage; do \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./datasets/ || exit 1; \
	done

clean:
	rm -rf bin

# Throughput of torch_ref.py's workloads (img/s and bytes allocated per batch).
bench: build
	./$(PURVIEW) bench --threads 2

# The same beside PyTorch, run now, with the ratios and targets
# (apt-get install -y python3-torch).
bench-ratio:
	/usr/bin/python3 scripts/bench.py --run

# Wall-time estimates of configs/paper/ from reduced runs on synthetic data
# in the official formats (about 25 minutes; see the README).
paper-estimate:
	/usr/bin/python3 scripts/estimate_paper.py

# The other experiments of configs/ that run on this machine's data.
experiments: deps build
	./$(PURVIEW) run configs/mnist_adv.toml
	./$(PURVIEW) run configs/fmnist_adv.toml
	./$(PURVIEW) run configs/mnist_corruption.toml
