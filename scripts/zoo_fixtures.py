#!/usr/bin/env python3
"""Write the PyTorch reference fixtures of the model zoo to models/testdata/zoo/.

    /usr/bin/python3 scripts/zoo_fixtures.py [--out models/testdata/zoo]

(run from the repository root; Debian python3-torch and python3-numpy only). The output is
deterministic for a given PyTorch build. For each small architecture A of SMALL:

  A.safetensors         model.state_dict() as saved by a user: every tensor in state_dict
                        order, F32, plus the BatchNorm num_batches_tracked counters as I64
                        (a reader must skip those); no metadata.
  A.expect.safetensors  F32 tensors (N = 3 samples, P = trainable parameter tensors):
      input               [N,3,32,32] uniform [0,1); the model sees (input − MEAN)/STD
      logits              [N,10]
      tap.<name>          [N, C·H·W] (NCHW flattened), taps of zoo.taps in order
      norms.sigmoid       [N,P] ‖∂L/∂θ_p‖² per sample (one backward each, batch of 1, eval),
                          L = Σ_c BCE-with-logits(z_c, 1)
      norms.softmax       [N,P] the same for the softmax confound with y = SOFTMAX_LABEL
      input_grad.sigmoid  [N,3,32,32] ∂(Σ_i L_i)/∂input, through the normalisation
    metadata: arch, params (JSON list, named_parameters order = state_dict order minus
    buffers), taps (JSON list), mean/std/labels (JSON), seeds, torch version, and for every
    expected tensor T the float32-vs-float64 difference (float64 = the same weights and
    input cast up): "f32_vs_f64.rel.T" = max_i |a_i − b_i|/|b_i| (the measure for
    norms.*, each entry a feature) and "f32_vs_f64.scaled.T" = max_i |a_i − b_i| / max_i |b_i|
    (the measure for logits, taps and input_grad, where near-zero entries make the
    element-wise ratio meaningless) — the noise floor a float32 port can reach.
  shapes.json           for FULL + SMALL: state_dict [name, shape] list without
                        num_batches_tracked, trainable parameter count, penultimate
                        dimension and the tap shapes for one 3×32×32 input.
"""
import argparse, copy, json, os, sys

import torch, torch.nn as nn

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the working tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo  # noqa: E402

SMALL = ["resnet18-w4", "resnet34-w4", "densenet-bc-22-4", "wrn-16-1"]
FULL = ["resnet18", "resnet34", "densenet100", "wrn-28-10"]
N = 3  # samples: enough to tell rows apart, small enough to commit (~2.6 MiB in all)
MODEL_SEED = 20260701  # torch.manual_seed before building each model (then BN randomised)
INPUT_SEED = 7         # torch.Generator seed of the input
SIGMOID_LABEL = [1.0] * 10
SOFTMAX_LABEL = [1.0, 1.0] + [0.0] * 8


def make_model(arch):
    """Default PyTorch init under MODEL_SEED, then every BatchNorm's weight U(0.5,1.5), bias
    U(−0.2,0.2), running_mean U(−0.2,0.2), running_var U(0.5,2) (module order; so that BN in
    eval mode is not the identity); eval mode."""
    torch.manual_seed(MODEL_SEED)
    m = zoo.build(arch)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
    return m.eval()


def expectations(model, x):
    """{name: tensor} of the expected outputs, computed in x's dtype."""
    net = zoo.Normalized(model).to(x.dtype).eval()
    out = {}
    with torch.no_grad():
        logits, taps = zoo.forward_taps(net, x)
    out["logits"] = logits
    for name, t in taps.items():
        out[f"tap.{name}"] = t.flatten(1)
    params = [p for _, p in model.named_parameters()]
    for act, label in (("sigmoid", SIGMOID_LABEL), ("softmax", SOFTMAX_LABEL)):
        y = torch.tensor([label], dtype=x.dtype)
        rows = []
        for i in range(x.shape[0]):
            model.zero_grad(set_to_none=True)
            zoo.confound_loss(net(x[i:i + 1]), y, act).backward()
            rows.append(torch.stack([p.grad.pow(2).sum() for p in params]))
        out[f"norms.{act}"] = torch.stack(rows)
    model.zero_grad(set_to_none=True)
    xi = x.clone().requires_grad_(True)
    zoo.confound_loss(net(xi), torch.tensor([SIGMOID_LABEL] * x.shape[0], dtype=x.dtype), "sigmoid").backward()
    out["input_grad.sigmoid"] = xi.grad
    model.zero_grad(set_to_none=True)
    return out


def max_rel(a, b):
    """max |a − b| / |b| over the entries with b ≠ 0 (b the float64 reference)."""
    a, b = a.double(), b.double()
    nz = b != 0
    return ((a - b).abs()[nz] / b.abs()[nz]).max().item() if nz.any() else 0.0


def scaled(a, b):
    """max |a − b| / max |b|."""
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max()).item() if b.abs().max() > 0 else 0.0


def shapes(arch):
    m = zoo.build(arch).eval()
    sd = [[k, list(v.shape)] for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")]
    with torch.no_grad():
        taps = zoo.taps(m, torch.zeros(1, 3, 32, 32))
    return {"state_dict": sd, "params": sum(p.numel() for p in m.parameters()),
            "penultimate": m.penultimate, "taps": [[k, list(v.shape[1:])] for k, v in taps.items()]}


def dump_shapes(shp):
    """JSON with one [name, shape] per line: short, and diffs name the tensor that changed."""
    archs = []
    for arch, s in shp.items():
        rows = ",\n".join(f"   {json.dumps(r)}" for r in s["state_dict"])
        archs.append(f' {json.dumps(arch)}: {{\n  "params": {s["params"]},\n  "penultimate": {s["penultimate"]},\n'
                     f'  "taps": {json.dumps(s["taps"])},\n  "state_dict": [\n{rows}\n  ]\n }}')
    out = "{\n" + ",\n".join(archs) + "\n}\n"
    assert json.loads(out) == json.loads(json.dumps(shp))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models",
                                                  "testdata", "zoo"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(a.out, exist_ok=True)
    total = 0
    print(f"{'arch':18s} {'params':>10s} {'weights':>9s} {'expect':>9s}  f32-vs-f64 (scaled; norms rel):"
          f"{'logits':>8s} {'taps':>8s} {'norms.sig':>9s} {'norms.soft':>10s} {'in_grad':>8s}")
    for arch in SMALL:
        model = make_model(arch)
        wpath = os.path.join(a.out, f"{arch}.safetensors")
        zoo.write_safetensors(wpath, model.state_dict())
        x = torch.rand(N, 3, 32, 32, generator=torch.Generator().manual_seed(INPUT_SEED))
        e32 = expectations(model, x)
        e64 = expectations(copy.deepcopy(model).double(), x.double())
        rel = {k: max_rel(e32[k], e64[k]) for k in e32}
        sca = {k: scaled(e32[k], e64[k]) for k in e32}
        tap_names = [k[4:] for k in e32 if k.startswith("tap.")]
        meta = {"arch": arch,
                "params": json.dumps([n for n, _ in model.named_parameters()]),
                "taps": json.dumps(tap_names),
                "mean": json.dumps(zoo.MEAN), "std": json.dumps(zoo.STD),
                "label.sigmoid": json.dumps(SIGMOID_LABEL), "label.softmax": json.dumps(SOFTMAX_LABEL),
                "model_seed": str(MODEL_SEED), "input_seed": str(INPUT_SEED),
                "torch": torch.__version__, "generator": "scripts/zoo_fixtures.py"}
        meta.update({f"f32_vs_f64.rel.{k}": f"{v:.3e}" for k, v in rel.items()})
        meta.update({f"f32_vs_f64.scaled.{k}": f"{v:.3e}" for k, v in sca.items()})
        tensors = {"input": x}
        tensors.update({k: v.float().contiguous() for k, v in e32.items()})
        epath = os.path.join(a.out, f"{arch}.expect.safetensors")
        zoo.write_safetensors(epath, tensors, meta)
        # read back: the files must hold exactly what was computed
        back, _ = zoo.read_safetensors(wpath)
        assert list(back) == list(model.state_dict()) and all(torch.equal(back[k], v) for k, v in model.state_dict().items())
        back, bmeta = zoo.read_safetensors(epath)
        assert all(torch.equal(back[k], v) for k, v in tensors.items()) and bmeta == meta
        ws, es = os.path.getsize(wpath), os.path.getsize(epath)
        total += ws + es
        taps_noise = max(v for k, v in sca.items() if k.startswith("tap."))
        print(f"{arch:18s} {sum(p.numel() for p in model.parameters()):10,d} {ws / 1024:8.0f}K {es / 1024:8.0f}K  "
              f"{'':20s}{sca['logits']:8.1e} {taps_noise:8.1e} {rel['norms.sigmoid']:9.1e} "
              f"{rel['norms.softmax']:10.1e} {sca['input_grad.sigmoid']:8.1e}")
    shp = {arch: shapes(arch) for arch in FULL + SMALL}
    spath = os.path.join(a.out, "shapes.json")
    with open(spath, "w") as f:
        f.write(dump_shapes(shp))
    total += os.path.getsize(spath)
    print(f"\n{'arch':18s} {'params':>12s} {'tensors':>8s} {'penultimate':>12s}")
    for arch, s in shp.items():
        print(f"{arch:18s} {s['params']:12,d} {len(s['state_dict']):8d} {s['penultimate']:12d}")
    print(f"\nwrote {len(SMALL) * 2 + 1} files to {os.path.normpath(a.out)}, {total / 1024:.0f} KiB in all")


if __name__ == "__main__":
    main()
