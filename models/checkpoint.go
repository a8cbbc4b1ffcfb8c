package models

import (
	"encoding/binary"
	"encoding/json"
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
// architecture, the class count and the input normalisation (JSON lists
// "mean" and "std") when the network has one. The file bytes depend only on the weights.
func SaveCheckpoint(path string, net Network) error {
	ps := net.Params()
	if sd, ok := net.(StateDicter); ok {
		ps = sd.StateDict()
	}
	meta := map[string]string{"arch": net.Arch(), "classes": strconv.Itoa(net.Classes()), "format": "pt"}
	if n, ok := net.(interface{ Normalization() (mean, std []float64) }); ok {
		if mean, std := n.Normalization(); mean != nil {
			mj, _ := json.Marshal(mean)
			sj, _ := json.Marshal(std)
			meta["mean"], meta["std"] = string(mj), string(sj)
		}
	}
	return WriteTensors(path, ps, meta)
}

// WriteTensors writes ps as float32 safetensors with header metadata meta,
// atomically. The bytes depend only on the tensors and meta.
func WriteTensors(path string, ps []Param, meta map[string]string) error {
	views := map[string]safetensors.TensorView{}
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
		shape := make([]int, len(tv.Shape()))
		for i, d := range tv.Shape() {
			shape[i] = int(d)
		}
		d, err := toFloat32(tv.DType(), tv.Data())
		if err != nil {
			return nil, nil, fmt.Errorf("models: checkpoint %s: tensor %s: %v", path, name, err)
		}
		ps = append(ps, Param{Name: name, Shape: shape, Data: d})
	}
	return ps, header.Metadata(), nil
}

// toFloat32 decodes little-endian F32, F64, F16 or BF16 values. Half
// precision widens exactly; F64 rounds to nearest.
func toFloat32(dt safetensors.DType, b []byte) ([]float32, error) {
	var d []float32
	switch dt {
	case safetensors.F32:
		d = make([]float32, len(b)/4)
		for i := range d {
			d[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case safetensors.F64:
		d = make([]float32, len(b)/8)
		for i := range d {
			d[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case safetensors.BF16:
		d = make([]float32, len(b)/2)
		for i := range d {
			d[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case safetensors.F16:
		d = make([]float32, len(b)/2)
		for i := range d {
			d[i] = half(binary.LittleEndian.Uint16(b[2*i:]))
		}
	default:
		return nil, fmt.Errorf("dtype %v is not a floating-point type (want F32, F64, F16 or BF16)", dt)
	}
	return d, nil
}

// half widens an IEEE 754 binary16 value.
func half(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | man<<13)
	case exp == 0 && man == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: m·2⁻²⁴
		v := float32(man) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// checkArchMeta refuses a file whose "arch" metadata names a network other
// than arch (aliases, such as densenet100 and densenet-bc-100-12, agree).
func checkArchMeta(path string, meta map[string]string, arch string) error {
	saved, ok := meta["arch"]
	if !ok || saved == arch {
		return nil
	}
	a, errA := ParseArch(saved)
	b, errB := ParseArch(arch)
	if errA != nil || errB != nil || a.Canonical != b.Canonical {
		return fmt.Errorf("models: weights %s hold a %s, want %s", path, saved, arch)
	}
	return nil
}

// LoadCheckpoint reads path into net. Missing, unexpected and mis-shaped tensors
// are reported together in one error naming the file.
func LoadCheckpoint(path string, net *Sequential) error {
	ps, meta, err := ReadCheckpoint(path)
	if err != nil {
		return err
	}
	if err := checkArchMeta(path, meta, net.Arch()); err != nil {
		return err
	}
	if err := net.SetParams(ps); err != nil {
		return fmt.Errorf("%w (file %s)", err, path)
	}
	return nil
}
