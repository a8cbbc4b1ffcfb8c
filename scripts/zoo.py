#!/usr/bin/env python3
"""purview's model zoo on the PyTorch side: the CIFAR architectures of the paper's model
families, with the module names of the published code so that `state_dict()` names match
the public checkpoints, plus a dependency-free safetensors reader/writer.

    import zoo
    m = zoo.build("resnet34")             # kuangliu / Mahalanobis CIFAR ResNet-34
    feats = zoo.taps(zoo.Normalized(m), x)  # ordered {tap name: tensor}

Architectures (all for 3×32×32 inputs; the fixed pooling windows below assume 32×32):
  resnet18, resnet34, resnet18-wN, resnet34-wN
      kuangliu/pytorch-cifar models/resnet.py with BasicBlock. pokaxpoka/
      deep_Mahalanobis_detector vendors an older copy: its ResNet34 (the network it ships
      CIFAR/SVHN weights for) is this one, but its ResNet18 uses the pre-activation
      PreActBlock (other names and order), which `resnet18` here is NOT. wN sets the base
      width N (stages N, 2N, 4N, 8N; N = 64 upstream). avg_pool2d(4) on the 4×4 map → `linear`.
  densenet100 (= densenet-bc-100-12), densenet-bc-D-K
      DenseNet3 of the ODIN / Mahalanobis repositories (DenseNet-BC: bottleneck layers,
      compression 0.5). avg_pool2d(8) on the 8×8 map → `fc`.
  wrn-28-10, wrn-D-W
      xternalz/WideResNet-pytorch wideresnet.py, dropout 0 (pre-activation blocks).
      avg_pool2d(8) on the 8×8 map → `fc`.

Normalisation: every model expects standardised inputs (x − mean)/std; wrap it in
Normalized to feed images in [0, 1]. MEAN/STD are what the Mahalanobis repository uses for
its ResNet; its DenseNet (inherited from ODIN) uses DENSENET_MEAN/DENSENET_STD instead.

Weights are PyTorch-default initialised; the upstream DenseNet3/WideResNet constructors
re-initialise (He-normal convs, BN 1/0, zero linear bias) — `upstream_init` does that.
"""
import json, math, os, re
from collections import OrderedDict

import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)
DENSENET_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
DENSENET_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)


# --------------------------------------------------------------------------- ResNet

class BasicBlock(nn.Module):
    """conv3×3(stride)–BN–ReLU–conv3×3–BN, plus the shortcut (identity, or 1×1 conv(stride)+BN
    when the stride or width changes), then ReLU. Names as kuangliu's BasicBlock."""
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()  # empty Sequential = identity, no state_dict entries
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))  # upstream adds in place; same value


class ResNet(nn.Module):
    """CIFAR ResNet (3×3 stem, no max-pool): conv1–bn1–ReLU, layer1..4 with `width`·(1,2,4,8)
    channels and strides 1,2,2,2, avg_pool2d(4), linear. num_blocks [2,2,2,2] = ResNet-18,
    [3,4,6,3] = ResNet-34."""

    def __init__(self, num_blocks, width=64, classes=10):
        super().__init__()
        self.in_planes = width
        self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._make_layer(width, num_blocks[0], 1)
        self.layer2 = self._make_layer(2 * width, num_blocks[1], 2)
        self.layer3 = self._make_layer(4 * width, num_blocks[2], 2)
        self.layer4 = self._make_layer(8 * width, num_blocks[3], 2)
        self.linear = nn.Linear(8 * width, classes)
        self.penultimate = 8 * width

    def _make_layer(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def run(self, x, taps=None):
        out = F.relu(self.bn1(self.conv1(x)))
        _tap(taps, "bn1", out)
        for name in ("layer1", "layer2", "layer3", "layer4"):
            out = getattr(self, name)(out)
            _tap(taps, name, out)
        out = F.avg_pool2d(out, 4).flatten(1)
        _tap(taps, "avgpool", out)
        return self.linear(out)

    def forward(self, x):
        return self.run(x)


# --------------------------------------------------------------------------- DenseNet-BC

class BottleneckBlock(nn.Module):
    """BN–ReLU–conv1×1 (4·growth)–BN–ReLU–conv3×3 (growth); output cat([x, out], 1)."""

    def __init__(self, in_planes, out_planes):
        super().__init__()
        inter = 4 * out_planes
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, inter, 1, stride=1, padding=0, bias=False)
        self.bn2 = nn.BatchNorm2d(inter)
        self.conv2 = nn.Conv2d(inter, out_planes, 3, stride=1, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return torch.cat([x, out], 1)


class DenseBasicBlock(nn.Module):
    """Upstream's BasicBlock of DenseNet3 (bottleneck=False): BN–ReLU–conv3×3, concat."""

    def __init__(self, in_planes, out_planes):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride=1, padding=1, bias=False)

    def forward(self, x):
        return torch.cat([x, self.conv1(F.relu(self.bn1(x)))], 1)


class TransitionBlock(nn.Module):
    """BN–ReLU–conv1×1–avg_pool2d(2)."""

    def __init__(self, in_planes, out_planes):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 1, stride=1, padding=0, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv1(F.relu(self.bn1(x))), 2)


class DenseBlock(nn.Module):
    def __init__(self, n, in_planes, growth, block):
        super().__init__()
        self.layer = nn.Sequential(*[block(in_planes + i * growth, growth) for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class DenseNet3(nn.Module):
    """DenseNet(-BC) of depth D, growth K: n = (D−4)/3 layers per block (halved with
    bottlenecks), 2K stem channels, transitions compress by `reduction` (floored)."""

    def __init__(self, depth, growth, classes=10, reduction=0.5, bottleneck=True):
        super().__init__()
        planes = 2 * growth
        n = (depth - 4) // 3
        if (depth - 4) % 3 or (bottleneck and n % 2):
            raise ValueError(f"zoo: DenseNet depth {depth}: need (depth-4) divisible by {6 if bottleneck else 3}")
        block = BottleneckBlock if bottleneck else DenseBasicBlock
        if bottleneck:
            n //= 2
        self.conv1 = nn.Conv2d(3, planes, 3, stride=1, padding=1, bias=False)
        self.block1 = DenseBlock(n, planes, growth, block)
        planes += n * growth
        self.trans1 = TransitionBlock(planes, int(math.floor(planes * reduction)))
        planes = int(math.floor(planes * reduction))
        self.block2 = DenseBlock(n, planes, growth, block)
        planes += n * growth
        self.trans2 = TransitionBlock(planes, int(math.floor(planes * reduction)))
        planes = int(math.floor(planes * reduction))
        self.block3 = DenseBlock(n, planes, growth, block)
        planes += n * growth
        self.bn1 = nn.BatchNorm2d(planes)
        self.fc = nn.Linear(planes, classes)
        self.in_planes = planes
        self.penultimate = planes

    def run(self, x, taps=None):
        out = self.conv1(x)
        _tap(taps, "conv1", out)
        out = self.trans1(self.block1(out))
        _tap(taps, "trans1", out)
        out = self.trans2(self.block2(out))
        _tap(taps, "trans2", out)
        out = F.relu(self.bn1(self.block3(out)))
        _tap(taps, "bn1", out)
        out = F.avg_pool2d(out, 8).flatten(1)
        _tap(taps, "avgpool", out)
        return self.fc(out)

    def forward(self, x):
        return self.run(x)


# --------------------------------------------------------------------------- WideResNet

class WideBasicBlock(nn.Module):
    """Pre-activation WRN block. If in == out: out = conv2(relu(bn2(conv1(relu(bn1(x)))))) + x.
    Otherwise the input itself is replaced by relu(bn1(x)), which feeds both conv1 and the
    1×1 convShortcut(stride): out = conv2(…conv1(a)…) + convShortcut(a), a = relu(bn1(x))."""

    def __init__(self, in_planes, out_planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, stride=1, padding=1, bias=False)
        self.equalInOut = in_planes == out_planes
        self.convShortcut = None if self.equalInOut else nn.Conv2d(in_planes, out_planes, 1, stride=stride,
                                                                    padding=0, bias=False)

    def forward(self, x):
        a = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(a))))
        return (x if self.equalInOut else self.convShortcut(a)) + out


class NetworkBlock(nn.Module):
    def __init__(self, n, in_planes, out_planes, stride):
        super().__init__()
        self.layer = nn.Sequential(*[WideBasicBlock(in_planes if i == 0 else out_planes, out_planes,
                                                    stride if i == 0 else 1) for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    """WRN-depth-widen: conv1 (16), three groups of n = (depth−4)/6 blocks with 16w, 32w, 64w
    channels (strides 1, 2, 2), relu(bn1), avg_pool2d(8), fc."""

    def __init__(self, depth, widen, classes=10):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"zoo: WideResNet depth {depth}: need (depth-4) divisible by 6")
        n = (depth - 4) // 6
        ch = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(3, ch[0], 3, stride=1, padding=1, bias=False)
        self.block1 = NetworkBlock(n, ch[0], ch[1], 1)
        self.block2 = NetworkBlock(n, ch[1], ch[2], 2)
        self.block3 = NetworkBlock(n, ch[2], ch[3], 2)
        self.bn1 = nn.BatchNorm2d(ch[3])
        self.fc = nn.Linear(ch[3], classes)
        self.nChannels = ch[3]
        self.penultimate = ch[3]

    def run(self, x, taps=None):
        out = self.conv1(x)
        _tap(taps, "conv1", out)
        for name in ("block1", "block2", "block3"):
            out = getattr(self, name)(out)
            _tap(taps, name, out)
        out = F.relu(self.bn1(out))
        _tap(taps, "bn1", out)
        out = F.avg_pool2d(out, 8).flatten(1)
        _tap(taps, "avgpool", out)
        return self.fc(out)

    def forward(self, x):
        return self.run(x)


# --------------------------------------------------------------------------- helpers

def _tap(taps, name, t):
    if taps is not None:
        taps[name] = t


class Normalized(nn.Module):
    """model((x − mean)/std) for images x in [0, 1]; mean/std per channel. The wrapped model
    is the submodule `model`, so state_dict names gain a "model." prefix — save model.model."""

    def __init__(self, model, mean=MEAN, std=STD):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def normalize(self, x):
        return (x - self.mean) / self.std

    def forward(self, x):
        return self.model(self.normalize(x))


def taps(model, x):
    """Ordered {name: tensor} of the per-block features of one forward pass (Normalized
    wrappers apply their normalisation first). resnet: bn1 (= relu(bn1(conv1 x))), layer1..4,
    avgpool; densenet: conv1, trans1, trans2, bn1 (relu(bn1(block3))), avgpool; wrn: conv1,
    block1..3, bn1 (relu(bn1(block3))), avgpool. avgpool is the flattened penultimate vector."""
    return forward_taps(model, x)[1]


def forward_taps(model, x):
    """(logits, taps(model, x)) from one forward pass."""
    if isinstance(model, Normalized):
        x, model = model.normalize(x), model.model
    out = OrderedDict()
    return model.run(x, out), out


def build(arch, classes=10):
    """Model for an architecture string: resnet18, resnet34, resnet18-wN, resnet34-wN,
    densenet100 (= densenet-bc-100-12), densenet-bc-D-K, wrn-D-W (e.g. wrn-28-10)."""
    a = arch.strip().lower()
    if m := re.fullmatch(r"resnet(18|34)(?:-w(\d+))?", a):
        blocks = {"18": [2, 2, 2, 2], "34": [3, 4, 6, 3]}[m[1]]
        return ResNet(blocks, width=int(m[2] or 64), classes=classes)
    if a == "densenet100":
        a = "densenet-bc-100-12"
    if m := re.fullmatch(r"densenet-bc-(\d+)-(\d+)", a):
        return DenseNet3(int(m[1]), int(m[2]), classes=classes)
    if m := re.fullmatch(r"wrn-(\d+)-(\d+)", a):
        return WideResNet(int(m[1]), int(m[2]), classes=classes)
    raise ValueError(f"zoo: unknown architecture {arch!r}: expected resnet18, resnet34, resnet18-wN, "
                     f"resnet34-wN, densenet100, densenet-bc-D-K or wrn-D-W")


def upstream_init(model):
    """The re-initialisation in the upstream DenseNet3 / WideResNet constructors: conv weights
    N(0, 2/(k·k·out)), BN weight 1 / bias 0, linear bias 0 (linear weight left as is)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.data.normal_(0, math.sqrt(2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels)))
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.fill_(1)
            m.bias.data.zero_()
        elif isinstance(m, nn.Linear):
            m.bias.data.zero_()
    return model


def confound_loss(z, y, act):
    """Σ_c BCE(act(z)_c, y_c) for one sample (as scripts/crosscheck.py)."""
    if act == "sigmoid":
        return F.binary_cross_entropy_with_logits(z, y, reduction="sum")
    if act == "softmax":
        logp = F.log_softmax(z, dim=-1)
        return -(y * logp + (1 - y) * torch.log(-torch.expm1(logp))).sum()  # log(1−p), stable near p=1
    raise ValueError(f"unknown activation {act!r}")


# --------------------------------------------------------------------------- safetensors

# safetensors dtype code → (torch dtype, little-endian numpy dtype)
DTYPES = OrderedDict([
    ("F64", (torch.float64, "<f8")), ("F32", (torch.float32, "<f4")), ("F16", (torch.float16, "<f2")),
    ("BF16", (torch.bfloat16, "<i2")), ("I64", (torch.int64, "<i8")), ("I32", (torch.int32, "<i4")),
    ("I16", (torch.int16, "<i2")), ("I8", (torch.int8, "i1")), ("U8", (torch.uint8, "u1")),
    ("BOOL", (torch.bool, "?")),
])
_CODE = {t: c for c, (t, _) in DTYPES.items()}
MAX_HEADER = 100_000_000  # the reference implementation's limit


def write_safetensors(path, tensors, metadata=None):
    """Write {name: tensor} (torch tensors) to path in the safetensors format: u64 little-endian
    header length, JSON header {name: {dtype, shape, data_offsets}} in the given order with
    "__metadata__" first when given (str → str), padded with spaces to a multiple of 8, then
    the tensors' little-endian bytes back to back. As in the reference writer the data go
    widest dtype first (stable), so every tensor starts aligned to its element size. The
    file is written whole or not at all."""
    header = OrderedDict()
    if metadata:
        bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise TypeError(f"safetensors: metadata {bad[0]!r}: keys and values must be str")
        header["__metadata__"] = dict(metadata)
    blobs = []
    for name, t in tensors.items():
        if name == "__metadata__":
            raise ValueError("safetensors: a tensor may not be called __metadata__")
        if t.dtype not in _CODE:
            raise TypeError(f"safetensors: tensor {name!r}: unsupported dtype {t.dtype}")
        code = _CODE[t.dtype]
        t = t.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            t = t.view(torch.int16)  # numpy has no bfloat16; the bits are what we write
        nd = np.dtype(DTYPES[code][1])
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": None}
        blobs.append((-nd.itemsize, len(blobs), name, t.numpy().astype(nd, copy=False).tobytes()))
    off = 0
    blobs.sort(key=lambda b: b[:2])
    for _, _, name, b in blobs:
        header[name]["data_offsets"] = [off, off + len(b)]
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for *_, b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """(OrderedDict {name: tensor} in header order, metadata dict) from a safetensors file.
    Raises ValueError naming the file and what was expected on a malformed file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"safetensors: {path}: {len(raw)} bytes, expected at least an 8-byte header length")
    n = int.from_bytes(raw[:8], "little")
    if n > MAX_HEADER or 8 + n > len(raw):
        raise ValueError(f"safetensors: {path}: header length {n} does not fit the file's {len(raw)} bytes")
    try:
        header = json.loads(raw[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"safetensors: {path}: header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise ValueError(f"safetensors: {path}: header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ValueError(f"safetensors: {path}: __metadata__ must map str to str")
    buf, spans = raw[8 + n:], []
    for name, h in header.items():
        if not isinstance(h, dict) or set(h) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"safetensors: {path}: tensor {name!r}: expected keys dtype, shape, data_offsets")
        if h["dtype"] not in DTYPES:
            raise ValueError(f"safetensors: {path}: tensor {name!r}: unsupported dtype {h['dtype']!r}")
        b, e = h["data_offsets"]
        size = int(np.prod(h["shape"], dtype=np.int64)) * np.dtype(DTYPES[h["dtype"]][1]).itemsize
        if not 0 <= b <= e or e - b != size:
            raise ValueError(f"safetensors: {path}: tensor {name!r}: data_offsets {[b, e]} do not hold "
                             f"{h['dtype']} {h['shape']} ({size} bytes)")
        spans.append((b, e, name))
    end = 0
    for b, e, name in sorted(spans):
        if b != end:
            raise ValueError(f"safetensors: {path}: tensor {name!r} starts at data byte {b}, expected {end} (gap or overlap)")
        end = e
    if end != len(buf):
        raise ValueError(f"safetensors: {path}: {len(buf)} data bytes, header describes {end}")
    out = OrderedDict()
    for name, h in header.items():
        tdt, ndt = DTYPES[h["dtype"]]
        b, e = h["data_offsets"]
        a = np.frombuffer(buf, dtype=ndt, count=(e - b) // np.dtype(ndt).itemsize, offset=b).reshape(h["shape"])
        t = torch.from_numpy(a.copy())
        out[name] = t.view(torch.bfloat16) if tdt == torch.bfloat16 else t
    return out, meta
