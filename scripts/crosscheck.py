#!/usr/bin/env python3
"""Independent cross-check of a purview run directory with PyTorch and scikit-learn.

    /usr/bin/python3 scripts/crosscheck.py runs/mnist

(run from the repository root; Debian python3-torch, python3-numpy, python3-sklearn only).
It reloads model.safetensors into a PyTorch LeNet-5 and checks, against the Go outputs:
  1. test accuracy on all 10,000 MNIST test images vs manifest.json model.accuracy;
  2. the purview features (per-tensor squared gradient norms of the confounding-label loss)
     of every MNIST / Fashion-MNIST row of features.npy (noise sets are not saved);
  3. every metric of table.json, recomputed from scores.csv with sklearn;
  4. the MSP / MaxLogit / Energy columns of scores.csv for the MNIST / Fashion-MNIST rows.
Exits 1, naming the failed checks, if any difference exceeds its tolerance (TOL).
"""
import argparse, csv, gzip, json, os, subprocess, sys, tomllib
import numpy as np, sklearn
import torch, torch.nn as nn, torch.nn.functional as F
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the working tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo import confound_loss  # noqa: E402  Σ_c BCE(act(z)_c, y_c), shared with the fixtures

TOL = {"accuracy": 5e-4,  # absolute, fraction (5 of 10,000 images: argmax near-ties)
       "features": 1e-4,  # max relative error per column (float32 vs float32), rows away from kinks
       "scores": 1e-5,    # max relative error of MSP / MaxLogit / Energy
       "metrics": 1e-12}  # max absolute difference, sklearn vs table.json
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
# Feature rows whose forward pass comes this close to a ReLU / max-pool kink are
# not checked: activations reach ~100, where one float32 ulp is 7.6e-6 and a
# 400-term dot product's rounding ~1e-5, so two correct float32 implementations
# can route the gradient down different branches. (Measured: in the two rows of
# the demo run past tolerance, margins 1.4e-6 and 2.0e-5, the float64 PyTorch
# gradient sides with purview in one and with float32 PyTorch in the other.)
KINK = 1e-4
METRICS = ["auroc", "aupr_in", "aupr_out", "fpr95_anom_tpr", "fpr95_in_tpr", "det_acc"]


class LeNet(nn.Module):  # design.md §4; same as ../shared/bench/torch_ref.py
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    @torch.no_grad()
    def kink_margin(self, x):
        """Per sample, the smallest distance of a ReLU input to 0 or of a max-pool winner to the
        runner-up (exact ties excluded: tied windows here have identical inputs). Within float32
        rounding of a kink, two correct implementations may route the gradient differently."""
        def pool_gap(a):
            n, c, h, w = a.shape
            v = a.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, -1, 4)
            top2 = v.topk(2, dim=-1).values
            g = (top2[..., 0] - top2[..., 1]).flatten(1)
            return torch.where(g > 0, g, torch.inf).amin(1)
        p1 = self.conv1(x)
        a1 = F.relu(p1)
        p2 = self.conv2(F.max_pool2d(a1, 2))
        a2 = F.relu(p2)
        p3 = self.fc1(F.max_pool2d(a2, 2).flatten(1))
        p4 = self.fc2(F.relu(p3))
        margins = [p.abs().flatten(1).amin(1) for p in (p1, p2, p3, p4)] + [pool_gap(a1), pool_gap(a2)]
        return torch.stack(margins, 1).amin(1)


def read_safetensors(path):
    """{name: tensor}: 8-byte little-endian header length, JSON header, data buffer."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        buf = f.read()
    dtypes = {"F32": "<f4", "F64": "<f8"}
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        b, e = h["data_offsets"]
        a = np.frombuffer(buf[b:e], dtype=dtypes[h["dtype"]]).reshape(h["shape"])
        out[name] = torch.from_numpy(a.astype(np.float32))
    return out


def read_idx(path):
    """Gzipped IDX: bytes 0 0 8 (uint8 data) d, then d big-endian uint32 sizes, then the data."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    assert data[:3] == b"\0\0\x08", f"{path}: not a uint8 IDX file"
    d = data[3]
    return np.frombuffer(data[4 + 4 * d:], dtype=np.uint8).reshape(np.frombuffer(data[4:4 + 4 * d], dtype=">u4"))


def mnist_dir():
    cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(cache, "github.com/petar/!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63/data")


def image_sets(cfg):
    """{set name: (images, labels)} for every MNIST / Fashion-MNIST set the run evaluated."""
    dirs = {"mnist": mnist_dir(), "fashion-mnist": FASHION_DIR}
    out = {}
    for name in [cfg["evaluate"]["in_dist"]] + list(cfg["evaluate"]["anomalies"]):
        key, _, split = name.partition(":")
        kind = cfg["datasets"][key]["kind"]
        if kind in dirs:
            prefix = os.path.join(dirs[kind], "t10k" if split == "test" else "train")
            px = read_idx(prefix + "-images-idx3-ubyte.gz")[:, None]  # N×1×28×28, NCHW
            out[name] = (torch.from_numpy(px.astype(np.float32) / 255),
                         torch.from_numpy(read_idx(prefix + "-labels-idx1-ubyte.gz").astype(np.int64)))
    return out


def rel_err(mine, theirs):
    mine, theirs = np.asarray(mine, np.float64), np.asarray(theirs, np.float64)
    return np.abs(mine - theirs) / np.maximum(np.abs(theirs), np.finfo(np.float64).tiny)


def sklearn_metrics(y, s):
    """The six table.json metrics, anomalous (y=1) positive, higher score = more anomalous."""
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    fpr_in, tpr_in, _ = roc_curve(1 - y, -s, drop_intermediate=False)
    return {"auroc": roc_auc_score(y, s),
            "aupr_in": average_precision_score(1 - y, -s),
            "aupr_out": average_precision_score(y, s),
            "fpr95_anom_tpr": fpr[np.argmax(tpr >= 0.95)],
            "fpr95_in_tpr": fpr_in[np.argmax(tpr_in >= 0.95)],
            "det_acc": np.max(0.5 * (tpr + 1 - fpr))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="purview run directory, e.g. runs/mnist")
    run = ap.parse_args().run
    torch.set_num_threads(2)
    failed = []

    def verdict(check, value):
        ok = value <= TOL[check]
        if not ok:
            failed.append(f"{check}: {value:.3g} > {TOL[check]:g}")
        return "ok" if ok else "FAIL"

    with open(os.path.join(run, "config.toml"), "rb") as f:
        cfg = tomllib.load(f)
    model = LeNet()
    model.load_state_dict(read_safetensors(os.path.join(run, "model.safetensors")))
    model.eval()
    sets = image_sets(cfg)
    if cfg["evaluate"]["in_dist"] not in sets:
        sys.exit(f"crosscheck: {run}: in-distribution set {cfg['evaluate']['in_dist']} is not MNIST / Fashion-MNIST")

    # 1. Test accuracy.
    x, labels = sets[cfg["evaluate"]["in_dist"]]
    with torch.no_grad():
        acc = (model(x).argmax(1) == labels).double().mean().item()
    with open(os.path.join(run, "manifest.json")) as f:
        go_acc = json.load(f)["model"]["accuracy"]
    d = abs(acc - go_acc)
    print(f"1. accuracy on {cfg['evaluate']['in_dist']} ({len(labels)} images): torch {100 * acc:.2f}%, "
          f"purview {100 * go_acc:.2f}%  |diff| {d:.2g}  {verdict('accuracy', d)}")

    # 2. Purview features, one backward per image.
    feats = np.load(os.path.join(run, "features.npy"))
    with open(os.path.join(run, "features.json")) as f:
        side = json.load(f)
    params = dict(model.named_parameters())
    y = torch.tensor(side["confounding_label"], dtype=torch.float32).unsqueeze(0)
    mine, rows = [], []
    for r in side["rows"]:
        if r["set"] not in sets:
            continue
        for k, i in enumerate(r["index"]):
            model.zero_grad()
            confound_loss(model(sets[r["set"]][0][i:i + 1]), y, side["activation"]).backward()
            mine.append([params[c].grad.double().pow(2).sum().item() for c in side["columns"]])
            rows.append(r["start"] + k)
    err = rel_err(mine, feats[rows])
    xs = torch.cat([sets[r["set"]][0][r["index"]] for r in side["rows"] if r["set"] in sets])
    smooth = (model.kink_margin(xs) > KINK).numpy()
    over = err.max(1) > TOL["features"]
    print(f"\n2. purview features ({side['activation']}, label {side['confounding_label']}), "
          f"{len(rows)} rows of {feats.shape[0]} ({', '.join(s for s in sets)}): max relative error per column")
    # Every row is checked; a row past tolerance is excused only if its forward
    # pass comes within KINK of a kink (a float32 branch flip, see KINK).
    checked = ~(over & ~smooth)
    print(f"   {'column':14s} {'all rows':>9s} {'checked':>9s}")
    for j, c in enumerate(side["columns"]):
        print(f"   {c:14s} {err[:, j].max():9.2e} {err[checked, j].max():9.2e}")
    print(f"   rows over {TOL['features']:g}: {over.sum()} of {len(rows)}, of which {(over & smooth).sum()} away from a kink "
          f"({(~smooth).sum()} rows come within {KINK:g} of one)")
    print(f"   max over the {checked.sum()} checked rows {err[checked].max():.2e}  {verdict('features', err[checked].max())}")

    # 3. Metrics of table.json from scores.csv, with sklearn.
    with open(os.path.join(run, "scores.csv")) as f:
        recs = list(csv.DictReader(f))
    with open(os.path.join(run, "table.json")) as f:
        table = json.load(f)
    worst = {}  # detector → metric → max |diff| over sets
    for cell in table["cells"]:
        sel = [r for r in recs if r["pair"] == cell["set"]]
        yy = np.array([int(r["anomalous"]) for r in sel])
        s = np.array([float(r[cell["detector"]]) for r in sel])
        ref = sklearn_metrics(yy, s)
        for m in METRICS:
            go = cell["metrics"][m]
            go = np.nan if go is None else go
            diff = abs(go - ref[m]) if not (np.isnan(go) or np.isnan(ref[m])) else \
                0.0 if np.isnan(go) and np.isnan(ref[m]) else np.inf  # NaN only on one side: fail
            w = worst.setdefault(cell["detector"], {})
            w[m] = max(w.get(m, 0.0), diff)
    allmax = max(v for w in worst.values() for v in w.values())
    print(f"\n3. table.json vs sklearn {sklearn.__version__} on scores.csv "
          f"({len(table['cells'])} cells): max |diff| over sets")
    print("   " + f"{'detector':16s}" + "".join(f"{m:>16s}" for m in METRICS))
    for det, w in worst.items():
        print("   " + f"{det:16s}" + "".join(f"{w[m]:16.2e}" for m in METRICS))
    print(f"   all {allmax:.2e}  {verdict('metrics', allmax)}")

    # 4. Logit-based baselines for the image rows of scores.csv.
    formulas = {"msp": lambda z, T: -F.softmax(z, 1).max(1).values,
                "maxlogit": lambda z, T: -z.max(1).values,
                "energy": lambda z, T: -T * torch.logsumexp(z / T, 1)}
    img = [r for r in recs if r["set"] in sets]
    xs = torch.cat([sets[r["set"]][0][int(r["index"])].unsqueeze(0) for r in img])
    with torch.no_grad():
        z = model(xs).double()
    print(f"\n4. baseline scores, {len(img)} image rows of scores.csv: max relative error")
    dets = [d for d in cfg.get("detector", []) if d["type"] in formulas]
    for missing in sorted(set(formulas) - {d["type"] for d in dets}):
        print(f"   {missing:16s} not a detector of this run, skipped")
    for det in dets:
        T = float(det.get("temperature", 1.0))
        col = det.get("name") or next(c for c in recs[0] if c == det["type"] or c.startswith(det["type"] + "[T="))
        e = rel_err(formulas[det["type"]](z, T).numpy(), [float(r[col]) for r in img]).max()
        print(f"   {col:16s} {e:.2e}  {verdict('scores', e)}")

    if failed:
        print("\nFAILED: " + "; ".join(failed))
        sys.exit(1)
    print("\nall checks passed")


if __name__ == "__main__":
    main()
