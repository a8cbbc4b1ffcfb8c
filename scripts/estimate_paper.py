#!/usr/bin/python3
"""Measured wall-time estimate of the paper configurations (configs/paper/*.toml).

The real data (CIFAR-10, SVHN, ODIN's Imagenet_resize / LSUN_resize / iSUN) and the
released Mahalanobis weights are not needed: this script

1. writes synthetic data in the official formats (random pixels) under WORK/data:
   cifar-10-batches-bin/data_batch_1..5.bin (50,000 records, as released: the fit set is
   a sample of the whole training split), svhn/test_32x32.mat (26,032 images, level-5
   compressed MAT as scipy writes it, X uint8 32×32×3×N, y double N×1 in 1..10),
   Imagenet_resize, LSUN_resize (10,000 32×32 JPEGs each) and iSUN (8,925), each images
   in one sub-folder as the ODIN archives unpack (the folder reader takes both layouts).
   The CIFAR-10 test split is written per run with exactly `samples` records (see below);
2. makes random full-size weights for resnet34 and densenet100 (scripts/zoo.py, PyTorch
   state_dict names, no num_batches_tracked, as the converted releases), with BatchNorm
   running statistics calibrated on random images so activations stay O(1), and labels
   the synthetic test images with the random model's own predictions: the model then
   "classifies" ~all test images correctly, as the released models do ~95 %, so the
   adversarial protocol attacks and keeps about as many samples as a real run;
3. writes reduced copies of each paper config (same detectors, attacks, folds, repeats;
   paths to the synthetic data and weights; evaluate.samples / fit_samples reduced; the
   corruption protocol on a few tasks) and runs `purview run` on them, each with a fresh
   cache, timing every stage from its log lines and the manifest;
4. fits, per stage, t = a + b·samples + c·fit_samples (+ per-task terms for the corruption
   protocol) from runs at two sizes of each, and extrapolates to the full config;
5. measures the 1 → 2 worker speed-up of the same reduced run and extrapolates to 16 cores.

    /usr/bin/python3 scripts/estimate_paper.py                  # measure, print the table
    /usr/bin/python3 scripts/estimate_paper.py --quick          # tiny sizes: a smoke test
    /usr/bin/python3 scripts/estimate_paper.py --from WORK/results.json   # table only

Everything is written under --work (default /tmp/purview-estimate); the repository is
only read (the binary is built into WORK/purview).
"""
import argparse, glob, json, math, os, re, resource, shutil, subprocess, sys, threading, time
from collections import OrderedDict

import numpy as np
import scipy.io
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import zoo  # noqa: E402

# Official sizes of the sets the paper configs read.
CIFAR_TRAIN, CIFAR_TEST, SVHN_TEST = 50000, 10000, 26032
FOLDERS = OrderedDict([("Imagenet_resize", 10000), ("LSUN_resize", 10000), ("iSUN", 8925)])
FOLDER_KEYS = {"tinyimagenet": "Imagenet_resize", "lsun": "LSUN_resize", "isun": "iSUN"}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data

def cifar_records(n, labels, rng):
    """n CIFAR-10 binary records: a label byte then 3072 pixel bytes (R, G, B planes)."""
    rec = np.empty((n, 3073), np.uint8)
    rec[:, 0] = labels
    rec[:, 1:] = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return rec


def make_data(root, rng):
    """The shared synthetic sets (everything except the per-run CIFAR-10 test split)."""
    done = os.path.join(root, ".done")
    if os.path.exists(done):
        return
    t0 = time.time()
    cdir = os.path.join(root, "cifar-10-batches-bin")
    os.makedirs(cdir, exist_ok=True)
    for b in range(1, 6):
        n = CIFAR_TRAIN // 5
        cifar_records(n, rng.integers(0, 10, n), rng).tofile(os.path.join(cdir, f"data_batch_{b}.bin"))
    sdir = os.path.join(root, "svhn")
    os.makedirs(sdir, exist_ok=True)
    X = rng.integers(0, 256, (32, 32, 3, SVHN_TEST), dtype=np.uint8)
    y = rng.integers(1, 11, (SVHN_TEST, 1)).astype(np.float64)
    # The release is a level-5 (v7, compressed) MAT-file with X uint8 and y double.
    scipy.io.savemat(os.path.join(sdir, "test_32x32.mat"), {"X": X, "y": y}, do_compression=True)
    from PIL import Image
    for name, n in FOLDERS.items():
        d = os.path.join(root, name, name)  # ImageFolder layout: one class folder
        os.makedirs(d, exist_ok=True)
        px = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        for i in range(n):
            Image.fromarray(px[i]).save(os.path.join(d, f"{i}.jpg"), quality=90)
    open(done, "w").close()
    log(f"data: synthetic sets written in {time.time() - t0:.0f} s")


# --------------------------------------------------------------------------- weights

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)  # the paper configs' model.mean/std


def make_model(arch, path, seed):
    """Random full-size weights in safetensors (PyTorch names), BN statistics calibrated on
    uniform random images; returns the PyTorch model (eval mode, inputs in [0, 1])."""
    torch.manual_seed(seed)
    m = zoo.build(arch)
    if arch.startswith("densenet"):
        zoo.upstream_init(m)
    net = zoo.Normalized(m, MEAN, STD)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.momentum = None  # cumulative average over the calibration batches
    net.train()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(4):
            net(torch.rand(64, 3, 32, 32, generator=g))
    net.eval()
    if not os.path.exists(path):
        sd = OrderedDict((k, v) for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked"))
        zoo.write_safetensors(path, sd)
    return net


def write_test_split(dirpath, net, n, rng, train_dir):
    """A cifar-10-batches-bin folder whose test_batch.bin holds exactly n records labelled
    with net's predictions (the train batches are symlinks to the shared ones)."""
    os.makedirs(dirpath, exist_ok=True)
    for b in range(1, 6):
        dst = os.path.join(dirpath, f"data_batch_{b}.bin")
        if not os.path.exists(dst):
            os.symlink(os.path.join(train_dir, f"data_batch_{b}.bin"), dst)
    rec = cifar_records(n, 0, rng)
    x = torch.from_numpy(rec[:, 1:].reshape(n, 3, 32, 32).astype(np.float32) / 255)
    with torch.no_grad():
        pred = torch.cat([net(x[i:i + 256]).argmax(1) for i in range(0, n, 256)])
    rec[:, 0] = pred.numpy().astype(np.uint8)
    rec.tofile(os.path.join(dirpath, "test_batch.bin"))
    return np.bincount(rec[:, 0], minlength=10)


# --------------------------------------------------------------------------- configs

def toml_list(v):
    return "[" + ", ".join(json.dumps(x) for x in v) + "]"


def reduce_config(text, *, weights, cifar_dir, data_root, samples, fit_samples, anomalies=None,
                  keep=None, drop=(), corruptions=None, severities=None, attack_params=None, paper=True):
    """A copy of a paper config: paths to the synthetic data and weights, smaller
    evaluate.samples / fit_samples, optionally fewer anomaly sets, detectors (keep: only
    these types; drop: not these), corruption tasks, attack parameters
    ({attack name: {key: value}}) and no [paper] table. Everything else is untouched."""
    s = re.sub(r'(?m)^weights = "[^"]*"', f'weights = "{weights}"', text)
    s = re.sub(r'(?m)^(kind = "cifar10".*)$', lambda m: m[1] + f'\npath = "{cifar_dir}"', s)
    s = re.sub(r'(?m)^(kind = "svhn".*)$', lambda m: m[1] + f'\npath = "{data_root}/svhn"', s)
    s = s.replace('path = "/usr/share/datasets/', f'path = "{data_root}/')
    s = re.sub(r"(?m)^fit_samples = \d+", f"fit_samples = {fit_samples}", s)
    s = re.sub(r"(?m)^samples = \d+", f"samples = {samples}", s)
    if anomalies is not None:
        s = re.sub(r"(?m)^anomalies = \[.*\]", "anomalies = " + toml_list(anomalies), s)
    if corruptions is not None:
        s = re.sub(r"(?m)^corruptions = \[.*\]", "corruptions = " + toml_list(corruptions), s)
    if severities is not None:
        s = re.sub(r"(?m)^severities = \[.*\]", "severities = " + toml_list(severities), s)
    for name, params in (attack_params or {}).items():
        extra = "".join(f"\n{k} = {json.dumps(v)}" for k, v in params.items())
        s, n = re.subn(rf'(?m)^(name = "{re.escape(name)}")$', lambda m: m[1] + extra, s)
        assert n == 1, f"attack {name} not found"
    # Detector blocks: from each [[detector]] to the next one, or to [paper] / the end.
    head, sep, rest = s.partition("[[detector]]")
    tail = ""
    if "\n[paper]" in rest:
        rest, p, tail = rest.partition("\n[paper]")
        tail = p + tail
    blocks = ["[[detector]]" + b for b in (sep + rest).split("[[detector]]")[1:]]
    kept = []
    for b in blocks:
        typ = re.search(r'(?m)^type = "([^"]+)"', b)[1]
        head_m = re.search(r'(?m)^head = "([^"]+)"', b)
        key = typ + ("-" + head_m[1] if head_m else "")
        if (keep is None or typ in keep or key in keep) and typ not in drop and key not in drop:
            kept.append(b.rstrip("\n") + "\n")
    if not paper:
        tail = ""
    return head + "".join(kept) + tail


def detector_names(text):
    """Detector column names of a config, in order (type, or purview-<head>)."""
    out = []
    for b in text.split("[[detector]]")[1:]:
        typ = re.search(r'(?m)^type = "([^"]+)"', b)[1]
        h = re.search(r'(?m)^head = "([^"]+)"', b)
        out.append(typ + ("-" + h[1] if h else ""))
    return out


# --------------------------------------------------------------------------- runs

RX_DET = re.compile(r"^detector (\S+): scored \(([\d.]+) s\)")
RX_CORR = re.compile(r"^corruption (\S+): model accuracy")


def run_purview(binary, args, *, gomaxprocs=None, cwd=None):
    """Runs `binary args`, timestamping every stderr line as it arrives; returns the
    wall time, the child's CPU time and peak RSS, and the lines."""
    env = dict(os.environ)
    if gomaxprocs:
        env["GOMAXPROCS"] = str(gomaxprocs)
    t0 = time.monotonic()
    load0 = os.getloadavg()[0]
    p = subprocess.Popen([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, text=True)
    lines, out = [], []
    def pump(f, dst, stamp):
        for line in f:
            dst.append((time.monotonic() - t0, line.rstrip("\n")) if stamp else line)
    th = [threading.Thread(target=pump, args=(p.stderr, lines, True)), threading.Thread(target=pump, args=(p.stdout, out, False))]
    for t in th:
        t.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    for t in th:
        t.join()
    r = {"args": args, "rc": p.returncode, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime,
         "maxrss_mb": ru.ru_maxrss / 1024, "load_before": load0, "load_after": os.getloadavg()[0],
         "lines": lines, "stdout": "".join(out)}
    if p.returncode != 0:
        msg = "\n".join(l for _, l in lines[-15:])
        raise RuntimeError(f"purview {' '.join(args)} failed ({p.returncode}):\n{msg}")
    return r


def stages(r):
    """Splits a run's wall time into stages from its log lines (seconds):
    load: run start → "purview: run" (config, data, weights checks);
    model: → "weights from";  accuracy: → "accuracy on" (forward over the test split);
    attacks: their manifest phases;  fits: from the last of those to the first detector
    line, minus that detector's own time (the unsupervised fits on the fit set);
    det:<name>: each detector's own reported time;  tasks: corruption protocol, the time
    of each task line;  post: "cache:" line → exit (metrics, tables, figures)."""
    L = r["lines"]
    def when(pred):
        for t, l in L:
            if pred(l):
                return t
        return None
    t_run = when(lambda l: l.startswith("purview: run"))
    t_w = when(lambda l: "weights from" in l)
    t_acc = when(lambda l: ": accuracy on" in l)
    t_cache = when(lambda l: l.startswith("cache:"))
    st = OrderedDict(load=t_run, model=t_w - t_run, accuracy=t_acc - t_w)
    man = r.get("manifest", {})
    attacks = OrderedDict((p["name"][7:], p["seconds"]) for p in man.get("phases", []) if p["name"].startswith("attack "))
    dets = [(t, m[1], float(m[2])) for t, l in L if (m := RX_DET.match(l))]
    tasks = [(t, m[1]) for t, l in L if (m := RX_CORR.match(l))]
    st["attacks"] = attacks
    st["tasks"] = [t for t, _ in tasks]
    if tasks:  # corruption protocol: detector totals are reported after the last task
        st["dets"] = OrderedDict((n, s) for _, n, s in dets)
    else:
        t_adv = when(lambda l: l.startswith("adversarial: the model classifies"))
        start = t_acc
        if attacks:
            last_attack = max(t for t, l in L if l.startswith("attack "))
            st["clean_forward"] = t_adv - t_acc
            st["attack_total"] = last_attack - t_adv
            start = last_attack
        st["fits"] = dets[0][0] - dets[0][2] - start
        st["dets"] = OrderedDict((n, s) for _, n, s in dets)
    st["post"] = r["wall"] - t_cache
    st["total"] = r["wall"]
    return st
