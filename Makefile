# purview — make targets. `make demo` and `make test` are the two set-up
# commands of the README; both work as root on a fresh Debian machine with Go,
# make and apt.

GO      ?= go
PURVIEW := bin/purview

.PHONY: demo test deps build vet fuzz bench clean

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

# Short fuzzing of every reader (not part of `make test`).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzReadIDX -fuzztime 60s ./datasets/

clean:
	rm -rf bin

# Throughput of the model workloads (img/s), to set beside
# `python3 ../shared/bench/torch_ref.py --models lenet` run in the same session.
bench:
	$(GO) test -run '^$$' -bench 'TrainEpochSmall|Forward256|GradNorms' -benchtime 3s ./models/
