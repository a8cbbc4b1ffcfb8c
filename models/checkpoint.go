package models

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/nlpodyssey/safetensors"
	"github.com/purview-lab/purview/internal/atomicfile"
)

// StateDicter is a Network whose checkpoints hold more than its trainable
// tensors (BatchNorm running statistics).
type StateDicter interface {
	StateDict() []Param
}

// SaveCheckpoint writes the network's weights to path as safetensors, atomically,
// with PyTorch state_dict names and layouts (conv1.weight [6,1,5,5],
// fc1.weight [120,400], bn1.running_mean [16], …) in float32, so
// `safetensors.torch.load_file` followed by `model.load_state_dict` reads it
// (PyTorch fills in the missing num_batches_tracked). It writes StateDict()
// when net has one, else Params(). The header metadata records the
// architecture and the class count. The file bytes depend only on the weights.
func SaveCheckpoint(path string, net Network) error {
	views := map[string]safetensors.TensorView{}
	ps := net.Params()
	if sd, ok := net.(StateDicter); ok {
		ps = sd.StateDict()
	}
	for _, p := range ps {
		buf := make([]byte, 4*len(p.Data))
		for i, v := range p.Data {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		shape := make([]uint64, len(p.Shape))
		for i, d := range p.Shape {
			shape[i] = uint64(d)
		}
		tv, err := safetensors.NewTensorView(safetensors.F32, shape, buf)
		if err != nil {
			return fmt.Errorf("models: checkpoint %s: tensor %s: %w", path, p.Name, err)
		}
		views[p.Name] = tv
	}
	meta := map[string]string{"arch": net.Arch(), "classes": strconv.Itoa(net.Classes()), "format": "pt"}
	data, err := safetensors.Serialize(views, meta)
	if err != nil {
		return fmt.Errorf("models: checkpoint %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("models: checkpoint: %w", err)
	}
	return nil
}

// ReadCheckpoint reads the float32 tensors of a safetensors file, as written by
// SaveCheckpoint or by PyTorch's safetensors.torch.save_file(model.state_dict()).
// Tensors PyTorch keeps as buffers but the harness does not use
// (num_batches_tracked) are skipped. It also returns the header metadata.
func ReadCheckpoint(path string) ([]Param, map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("models: checkpoint: %w", err)
	}
	_, header, err := safetensors.ReadMetadata(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("models: checkpoint %s: not a safetensors file: %v", path, err)
	}
	st, err := safetensors.Deserialize(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("models: checkpoint %s: not a safetensors file: %v", path, err)
	}
	names := st.Names()
	sort.Strings(names)
	var ps []Param
	for _, name := range names {
		if strings.HasSuffix(name, "num_batches_tracked") {
			continue
		}
		tv, _ := st.Tensor(name)
		if tv.DType() != safetensors.F32 {
			return nil, nil, fmt.Errorf("models: checkpoint %s: tensor %s has dtype %v, want F32 (convert with tensor.float() before saving)", path, name, tv.DType())
		}
		shape := make([]int, len(tv.Shape()))
		for i, d := range tv.Shape() {
			shape[i] = int(d)
		}
		b := tv.Data()
		d := make([]float32, len(b)/4)
		for i := range d {
			d[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		ps = append(ps, Param{Name: name, Shape: shape, Data: d})
	}
	return ps, header.Metadata(), nil
}

// LoadCheckpoint reads path into net. Missing, unexpected and mis-shaped tensors
// are reported together in one error naming the file.
func LoadCheckpoint(path string, net *Sequential) error {
	ps, meta, err := ReadCheckpoint(path)
	if err != nil {
		return err
	}
	if a, ok := meta["arch"]; ok && a != net.Arch() {
		return fmt.Errorf("models: checkpoint %s holds a %s, want %s", path, a, net.Arch())
	}
	if err := net.SetParams(ps); err != nil {
		return fmt.Errorf("%w (file %s)", err, path)
	}
	return nil
}
