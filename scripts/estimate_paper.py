#!/usr/bin/python3
"""Measured wall-time estimate of the paper configurations (configs/paper/*.toml).

The real data (CIFAR-10, SVHN, ODIN's Imagenet_resize / LSUN_resize / iSUN) and the
released Mahalanobis weights are not needed: this script

1. writes synthetic data in the official formats (random pixels) under WORK/data:
   cifar-10-batches-bin/data_batch_1..5.bin (50,000 records, as released: the fit set is
   a sample of the whole training split), svhn/test_32x32.mat (26,032 images, level-5
   compressed MAT as scipy writes it, X uint8 32×32×3×N, y double N×1 in 1..10),
   Imagenet_resize, LSUN_resize (10,000 32×32 JPEGs each) and iSUN (8,925), each with its images
   in one sub-folder as the ODIN archives unpack (the folder reader takes both layouts).
   The CIFAR-10 test split is written per run with exactly `samples` records (see below);
2. makes random full-size weights for resnet34 and densenet100 (scripts/zoo.py, PyTorch
   state_dict names, no num_batches_tracked, as the converted releases), with BatchNorm
   running statistics calibrated on random images so activations stay O(1), and labels
   the synthetic test images with the random model's own predictions: the model then
   "classifies" ~all test images correctly, as the released models do ~95 %, so the
   adversarial protocol attacks and keeps about as many samples as a real run;
3. writes reduced copies of each paper config (paths to the synthetic data and weights;
   same detectors, attacks, folds and repeats unless said here) and runs `purview run` on
   each with a fresh cache, timing every stage from its timestamped log lines and the
   manifest (a full config's loading is timed by `purview validate` on full-size data):
   - every config at two sizes of evaluate.samples, without mahalanobis-lr; the OOD ones
     with one anomaly set (svhn) and fit_samples F and 2F, the adversarial ones with PGD
     and CW at 2 steps (both run a fixed number of steps: time scaled by 10/2 and 100/2),
     the corruption ones on 2 tasks (gaussian_noise at severities 1 and 5);
   - mahalanobis-lr alone on one OOD pair at two sizes: its cost is counted in padded
     sample-passes (mlr_units), since it re-scores every sample in every fold;
   - the smaller OOD run again with 1 worker (GOMAXPROCS=1), for the 1 → 2 core speed-up;
4. fits, per stage, a line t = a + b·x through the two sizes (x: samples per set, fit
   samples, pair samples or padded passes, as the stage scales) and evaluates it at the
   full config; stages that a reduced run cannot show at scale are added from measured
   unit costs (LID's k-NN over 100-sample reference batches, corruption generation);
5. extrapolates to 16 cores by Amdahl's law with the serial fraction implied by the
   measured 1 → 2 worker speed-up (loading, model set-up and reports stay serial).

Limits: random weights (a real model's attacks may need more or fewer DeepFool steps; CW,
PGD, BIM and FGSM run fixed steps), linear extrapolation over ~150× (OOD/adversarial) and
the MLP head's L-BFGS iteration count, which grows with n before it hits its cap; the
machine's other jobs add noise (load averages are recorded with every run).

    /usr/bin/python3 scripts/estimate_paper.py                  # measure, print the table
    /usr/bin/python3 scripts/estimate_paper.py --quick          # tiny sizes: a smoke test
    /usr/bin/python3 scripts/estimate_paper.py --from WORK/results.json   # table only

Everything is written under --work (default /tmp/purview-estimate); the repository is
only read (the binary is built into WORK/purview).
"""
import argparse, glob, json, os, re, shutil, subprocess, sys, threading, time
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

def normalisation(text):
    """model.mean and model.std of a config."""
    get = lambda k: tuple(json.loads(re.search(rf"(?m)^{k} = (\[[^\]]*\])", text)[1]))
    return get("mean"), get("std")


def make_model(arch, path, seed, mean, std):
    """Random full-size weights in safetensors (PyTorch names), BN statistics calibrated on
    uniform random images; returns the PyTorch model with the config's input normalisation
    (eval mode, inputs in [0, 1])."""
    torch.manual_seed(seed)
    m = zoo.build(arch)
    if arch.startswith("densenet"):
        zoo.upstream_init(m)
    net = zoo.Normalized(m, mean, std)
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
    with net's predictions (net None: random labels); the train batches are symlinks to the
    shared ones. One label is set to 9 if none is: purview checks that the in-distribution
    labels span the classifier's 10 classes."""
    os.makedirs(dirpath, exist_ok=True)
    for b in range(1, 6):
        dst = os.path.join(dirpath, f"data_batch_{b}.bin")
        if not os.path.exists(dst):
            os.symlink(os.path.join(train_dir, f"data_batch_{b}.bin"), dst)
    rec = cifar_records(n, rng.integers(0, 10, n), rng)
    if net is not None:
        x = torch.from_numpy(rec[:, 1:].reshape(n, 3, 32, 32).astype(np.float32) / 255)
        with torch.no_grad():
            pred = torch.cat([net(x[i:i + 256]).argmax(1) for i in range(0, n, 256)])
        rec[:, 0] = pred.numpy().astype(np.uint8)
        if not (rec[:, 0] == 9).any():
            rec[-1, 0] = 9
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
        parts = s.split("[[attack]]")
        hits = [i for i, p in enumerate(parts) if i > 0 and re.search(rf'(?m)^name = "{re.escape(name)}"', p)]
        assert len(hits) == 1, f"attack {name} not found"
        blk = parts[hits[0]]
        for k, v in params.items():
            blk, n = re.subn(rf"(?m)^{k} = .*$", f"{k} = {json.dumps(v)}", blk)
            if not n:
                blk = re.sub(rf'(?m)^(name = "{re.escape(name)}")$', lambda m: m[1] + f"\n{k} = {json.dumps(v)}", blk)
        parts[hits[0]] = blk
        s = "[[attack]]".join(parts)
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


# --------------------------------------------------------------------------- model facts

ARCHS = ("resnet34", "densenet100")
# Engine batch sizes (models/compute.go: the largest power of two whose activations fit
# 256 MiB): forward / gradient. Inputs are cut into batches of exactly this size, the last
# zero-padded, so a call on n samples costs ⌈n/B⌉·B samples of work.
BATCH = {"resnet34": (32, 16), "densenet100": (4, 2)}
# Taps (models/zoo.go, the Mahalanobis code's feature_list): C, H, W.
TAPS = {"resnet34": [(64, 32, 32), (64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4), (512, 1, 1)],
        "densenet100": [(24, 32, 32), (108, 16, 16), (150, 8, 8), (342, 8, 8), (342, 1, 1)]}


# LID's k-NN: one float64 subtract-multiply-add per element of a reference member, measured
# at 1.05 ns per element on one core of this machine (detectors.(*LID).lidOf on 100 members
# of ResNet-34's 188,938 flattened tap values, a scratch benchmark).
LID_NS_PER_ELEMENT = 1.05
LID_BATCH = 100


def flat_dim(arch):
    """Σ over the taps of the flattened activations, plus the 10 logits: LID's features."""
    return sum(c * h * w for c, h, w in TAPS[arch]) + 10


def tap_depth(arch):
    """Σ over the taps of the share of a forward pass's multiply-adds spent before the
    tap (mahalanobis-lr reads each tap by a forward pass that stops there)."""
    net = zoo.build(arch).eval()
    flops, marks = [0], []
    def conv_hook(m, i, o):
        flops[0] += o.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(conv_hook)
    taps = OrderedDict()
    with torch.no_grad():
        x = torch.rand(1, 3, 32, 32)
        # zoo's run() calls _tap(taps, name, t) in order: record the flops so far at each.
        orig = zoo._tap
        zoo._tap = lambda d, name, t: marks.append(flops[0])
        try:
            net.run(x, taps)
        finally:
            zoo._tap = orig
    total = flops[0]
    return sum(m / total for m in marks), total


def pad(n, b):
    return -(-n // b) * b


def fold_sizes(n, folds):
    """Test-fold sizes of detectors.assignFolds (position j → fold j mod folds)."""
    return [len(range(k, n, folds)) for k in range(folds)]


def mlr_units(arch, pairs, folds=5, repeats=1):
    """Work of mahalanobis-lr's cross-validation in padded sample-passes: every fold runs,
    for its normal and anomalous training and test samples, one FeatureGrad per tap
    (gradient batch) and one LayerFeatures per tap (forward batch, ≈ 1/3 of the cost of a
    forward + backward). pairs: [(normal, anomalous)] sample counts."""
    bf, bg = BATCH[arch]
    u = 0.0
    for nn_, na in pairs:
        tn, ta = fold_sizes(nn_, folds), fold_sizes(na, folds)
        for k in range(folds):
            for n in (nn_ - tn[k], na - ta[k], tn[k], ta[k]):
                u += pad(n, bg) + pad(n, bf) / 3
    return u * repeats


def mlr_units_memo(arch, probes):
    """The same work since mahalanobis-lr's per-layer scores are memoised per probe and
    Gaussian (detectors.memoRows, after these measurements were taken): each distinct
    sample of each probe is preprocessed and scored once, whatever the folds, repeats and
    pairs. probes: sample counts of the distinct probes."""
    bf, bg = BATCH[arch]
    return float(sum(pad(n, bg) + pad(n, bf) / 3 for n in probes))


# --------------------------------------------------------------------------- plan

FULL = {"samples": {"ood": 10000, "adversarial": 10000, "corruption": 2000}, "fit": 50000}
OOD_SETS = [10000, 10000, 10000, 8925]       # svhn (10,000 of 26,032), Imagenet, LSUN, iSUN
ADV_KEPT = 9500   # successful adversarial examples per attack in a full run: ~95 % of the
                  # 10,000 test images are classified correctly by the released models, and
                  # the BIM/PGD/CW/DeepFool settings fool nearly all of them
CORR_TASKS = 95
# Iterative attacks with a fixed step count (no early stop) run fewer steps in the reduced
# runs; their per-sample time is scaled by full/measured steps.
STEPS = {"cw": (100, 2), "pgd": (10, 2)}

SIZES = {  # per arch: ood (s1, s2), mlr (s1, s2), adv (s1, s2), corr (s1, s2), fit F (OOD: F, 2F)
    # A call on n samples runs ⌈n/B⌉ batches on 2 engines: with one batch only one core works.
    # So every per-set call of the smaller size fills both workers (ResNet-34: B = 32 / 16,
    # n ≥ 64 / 32; DenseNet: B = 4 / 2) and padding does not hide the slope. mahalanobis-lr
    # keeps both cores busy with concurrent folds.
    "resnet34": dict(ood=(64, 128), mlr=(16, 32), adv=(32, 64), corr=(64, 128), fit=64),
    "densenet100": dict(ood=(32, 64), mlr=(8, 16), adv=(16, 32), corr=(32, 64), fit=64),
}
# fit ≥ 64: kd needs fit samples of every class the model predicts (random labels).
QUICK = {a: dict(ood=(8, 16), mlr=(5, 10), adv=(8, 16), corr=(8, 16), fit=64) for a in ARCHS}


class Lab:
    """Builds the synthetic inputs and runs the reduced configs."""

    def __init__(self, work, binary):
        self.work, self.binary = work, binary
        self.data = os.path.join(work, "data")
        self.rng = np.random.default_rng(20230402)
        self.nets = {}
        self.n = 0

    def net(self, arch, text):
        """The PyTorch twin of the random weights, normalised as config text says (the
        paper configs of one architecture share it)."""
        key = (arch, normalisation(text))
        if key not in self.nets:
            self.nets[key] = make_model(arch, self.weights(arch), 1, *key[1])
        return self.nets[key]

    def weights(self, arch):
        return os.path.join(self.work, f"{arch}.safetensors")

    def run(self, tag, arch, text, samples, *, workers=2, validate=False):
        """Writes the config (with its own CIFAR-10 test split of `samples` records) and
        runs it with a fresh cache; returns the run record with its stages."""
        self.n += 1
        d = os.path.join(self.work, "runs", f"{self.n:02d}-{tag}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        cdir = os.path.join(d, "cifar-10-batches-bin")
        net = self.net(arch, text)  # also writes the weights file
        counts = write_test_split(cdir, None if validate else net, samples, self.rng, os.path.join(self.data, "cifar-10-batches-bin"))
        text = text.replace("@CIFAR@", cdir)
        cfg = os.path.join(d, "config.toml")
        with open(cfg, "w") as f:
            f.write(text)
        if validate:
            args = ["validate", cfg]
        else:
            args = ["run", cfg, "--out", os.path.join(d, "out"), "--cache", os.path.join(d, "cache"), "--workers", str(workers)]
        log(f"[{time.strftime('%H:%M:%S')}] {tag}: {' '.join(args[:2])} (samples {samples}, workers {workers}, load {os.getloadavg()[0]:.2f})")
        r = run_purview(self.binary, args, gomaxprocs=workers if not validate else None)
        r.update(tag=tag, arch=arch, samples=samples, workers=workers, test_labels=counts.tolist())
        if not validate:
            outs = glob.glob(os.path.join(d, "out", "*", "manifest.json"))
            with open(outs[0]) as f:
                r["manifest"] = json.load(f)
            r["run_dir"] = os.path.dirname(outs[0])
            r["cache_mb"] = dir_mb(os.path.join(d, "cache"))
            r["stages"] = stages(r)
            acsv = os.path.join(r["run_dir"], "attacks.csv")
            if os.path.exists(acsv):
                r["attacks_csv"] = open(acsv).read()
            shutil.rmtree(os.path.join(d, "cache"), ignore_errors=True)
        log(f"    {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU, {r['maxrss_mb']:.0f} MB peak, load {r['load_after']:.2f}")
        r.pop("stdout", None)
        return r


def dir_mb(d):
    n = 0
    for root, _, files in os.walk(d):
        for f in files:
            n += os.path.getsize(os.path.join(root, f))
    return n / 2**20


def paper_configs():
    return sorted(glob.glob(os.path.join(REPO, "configs", "paper", "*.toml")))


def protocol_of(text):
    m = re.search(r'(?m)^protocol = "([^"]+)"', text)
    return m[1] if m else "ood"


def arch_of(text):
    return re.search(r'(?m)^arch = "([^"]+)"', text)[1]


def measure(lab, sizes, only=None):
    """Every measurement run; returns {config name: {kind: [run records]}} plus per-arch runs."""
    res = OrderedDict()
    cfgs = [p for p in paper_configs() if not only or any(o in p for o in only)]
    for arch in ARCHS:
        z = sizes[arch]
        F = z["fit"]
        for path in cfgs:
            text = open(path).read()
            if arch_of(text) != arch:
                continue
            name = os.path.splitext(os.path.basename(path))[0]
            proto = protocol_of(text)
            common = dict(weights=lab.weights(arch), cifar_dir="@CIFAR@", data_root=lab.data)
            R = res.setdefault(name, OrderedDict(protocol=proto, arch=arch, text=text))
            # Setup of the full config (every set loaded and sampled at full size).
            full = reduce_config(text, samples=FULL["samples"][proto], fit_samples=FULL["fit"], **common)
            R["validate"] = lab.run(name + "-validate", arch, full, 10000, validate=True)
            if proto == "ood":
                for s, f in ((z["ood"][0], F), (z["ood"][1], 2 * F)):
                    R.setdefault("rest", []).append(lab.run(f"{name}-s{s}-f{f}", arch,
                        reduce_config(text, samples=s, fit_samples=f, anomalies=["svhn:test"], drop=("mahalanobis-lr",), **common), s))
                s = z["ood"][0]
                R["rest_w1"] = lab.run(f"{name}-s{s}-f{F}-w1", arch,
                    reduce_config(text, samples=s, fit_samples=F, anomalies=["svhn:test"], drop=("mahalanobis-lr",), **common), s, workers=1)
                for s in z["mlr"]:
                    R.setdefault("mlr", []).append(lab.run(f"{name}-mlr-s{s}", arch,
                        reduce_config(text, samples=s, fit_samples=F, anomalies=["svhn:test"], keep=("mahalanobis-lr",),
                                      paper=False, **common), s))
            elif proto == "adversarial":
                for s in z["adv"]:
                    R.setdefault("rest", []).append(lab.run(f"{name}-s{s}", arch,
                        reduce_config(text, samples=s, fit_samples=F, drop=("mahalanobis-lr",),
                                      attack_params={a: {"steps": m} for a, (_, m) in STEPS.items()}, **common), s))
            else:
                for s in z["corr"]:
                    R.setdefault("rest", []).append(lab.run(f"{name}-s{s}", arch,
                        reduce_config(text, samples=s, fit_samples=F, drop=("mahalanobis-lr",),
                                      corruptions=["gaussian_noise"], severities=[1, 5], **common), s))
                R["preview"] = preview_time(lab, R, arch)
    return res


def preview_time(lab, R, arch):
    """Seconds to draw all 19 corruptions × 5 severities of one image (`purview corrupt
    --preview`, one core), the median over 5 images."""
    cfg = os.path.join(os.path.dirname(R["rest"][0]["run_dir"]), "..", "config.toml")
    ts = []
    for i in range(5):
        t0 = time.monotonic()
        subprocess.run([lab.binary, "corrupt", "--preview", cfg, "--index", str(i), "--out", os.path.join(lab.work, "preview.png"),
                        "--corruptions", "cifar10-c,extra"], check=True, capture_output=True, env=dict(os.environ, GOMAXPROCS="1"))
        ts.append(time.monotonic() - t0)
    return sorted(ts)[2]


# --------------------------------------------------------------------------- estimate

SUPERVISED = {"purview-logreg", "purview-mlp", "lid", "mahalanobis-lr"}


def lin(xs, ys):
    """(intercept, slope) of the least-squares line; the slope is clamped at ≥ 0 and the
    intercept at ≥ 0 (timing noise on near-constant stages)."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    if len(set(xs)) < 2:
        return float(ys.mean()), 0.0
    b = max(0.0, float(np.polyfit(xs, ys, 1)[0]))
    a = max(0.0, float(ys.mean() - b * xs.mean()))
    return a, b


def at(xs, ys, x):
    a, b = lin(xs, ys)
    return a + b * x


def kept_total(r):
    """Σ over attacks of the pair samples (clean + noisy + adversarial = 3 × kept)."""
    rows = r["attacks_csv"].strip().splitlines()
    hdr = rows[0].split(",")
    k = hdr.index("kept")
    return sum(3 * float(row.split(",")[k]) for row in rows[1:])


def arch_units(res, arch):
    """Per-architecture unit costs from the OOD runs (2 workers)."""
    ood = next(R for R in res.values() if isinstance(R, dict) and R.get("arch") == arch and R["protocol"] == "ood")
    runs = ood["rest"]
    f = [int(re.search(r"-f(\d+)", r["tag"])[1]) for r in runs]
    s = [r["samples"] for r in runs]
    fit_a, fit_u = lin(f, [r["stages"]["fits"] for r in runs])
    fwd_a, fwd_u = lin(s, [r["stages"]["accuracy"] for r in runs])
    depth, _ = tap_depth(arch)
    # mahalanobis-lr: t = a + u·U (padded sample-passes); the intercept holds the fit set's
    # tap features (≈ depth forward passes per fit sample), replaced at full size below.
    m = ood["mlr"]
    U = [mlr_units(arch, [(r["samples"], r["samples"])]) for r in m]
    t = [r["stages"]["dets"]["mahalanobis-lr"] for r in m]
    mlr_a, mlr_u = lin(U, t)
    F = int(re.search(r"-f(\d+)", runs[0]["tag"])[1])
    mlr_fixed = max(0.0, mlr_a - depth * fwd_u * F)
    # Worker scaling: the same reduced run with 1 worker (GOMAXPROCS=1) and with 2.
    w1, w2 = ood["rest_w1"], runs[0]
    par = lambda r: r["wall"] - r["stages"]["load"] - r["stages"]["model"] - r["stages"]["post"]
    return dict(fit_a=fit_a, fit_u=fit_u, fwd_a=fwd_a, fwd_u=fwd_u, depth=depth, mlr_u=mlr_u, mlr_fixed=mlr_fixed,
                mlr_points=list(zip(U, t)), F=F, par_w1=par(w1), par_w2=par(w2), cpu_w1=w1["cpu"], cpu_w2=w2["cpu"],
                load_w1=(round(w1["load_before"], 2), round(w1["load_after"], 2)),
                load_w2=(round(w2["load_before"], 2), round(w2["load_after"], 2)))


def scaling(units):
    """16-core factor from the measured 1 → 2 worker speed-up of the reduced OOD runs'
    parallel part (everything but loading, model set-up and the reports), pooled over the
    architectures (one noisy pair of runs each): Amdahl's law with the serial fraction σ
    that speed-up implies, S(n) = 1/(σ + (1−σ)/n); the 2-core parallel time is multiplied
    by S(2)/S(16) = (2/16) ÷ efficiency, efficiency = S(16)/(8·S(2)). Ideal scaling (σ = 0)
    gives the lower bound 2/16."""
    S2 = sum(u["par_w1"] for u in units.values()) / sum(u["par_w2"] for u in units.values())
    sigma = min(1.0, max(0.0, 2 / S2 - 1))
    S16 = 1 / (sigma + (1 - sigma) / 16)
    return dict(S2=S2, sigma=sigma, S16=S16, factor16=S2 / S16, eff16=S16 / (8 * S2),
                per_arch={a: u["par_w1"] / u["par_w2"] for a, u in units.items()})


SERIAL = {"load", "model", "post"}


def estimate_config(R, u, sc):
    """{stage: seconds on 2 cores} of the full config, and notes on the scaling."""
    proto, arch, runs = R["protocol"], R["arch"], R["rest"]
    s = [r["samples"] for r in runs]
    st = [r["stages"] for r in runs]
    E = OrderedDict()
    E["load"] = R["validate"]["wall"]
    E["model"] = float(np.mean([x["model"] for x in st]))
    nfit = FULL["fit"]
    fits_full = u["fit_a"] + u["fit_u"] * nfit
    mlr_fit = u["depth"] * u["fwd_u"] * nfit  # mahalanobis-lr's tap features of the fit set
    # Forward passes over the test split, at the forward rate measured in the OOD runs
    # (their sizes fill both workers; the adversarial runs' 32 / 64 images do not).
    acc = lambda n: u["fwd_a"] + u["fwd_u"] * n
    if proto == "ood":
        E["accuracy"] = acc(10000)
        E["fits (fit set)"] = fits_full
        # The reduced runs score one pair (test, svhn) of s + s samples: unsupervised
        # detectors then see 2s distinct samples (full: 48,925), supervised ones one pair of
        # 2s (full: Σ over 4 pairs = 78,925), msp forwards the anomalies only (the test
        # split's forward pass is the accuracy pass's, from the cache; full: 38,925).
        uns, sup, msp = sum([10000] + OOD_SETS) / 2, sum(10000 + n for n in OOD_SETS) / 2, sum(OOD_SETS)
        for d in st[0]["dets"]:
            E["det " + d] = at(s, [x["dets"][d] for x in st], msp if d == "msp" else sup if d in SUPERVISED else uns)
        E["det mahalanobis-lr"] = u["mlr_fixed"] + mlr_fit + u["mlr_u"] * mlr_units_memo(arch, [10000] + OOD_SETS)
        E["post"] = at(s, [x["post"] for x in st], uns)
        x_full, xs = uns, s
    elif proto == "adversarial":
        n = [kept_total(r) for r in runs]
        n_full = 5 * 3 * ADV_KEPT
        E["accuracy"] = acc(10000)  # the clean forward pass before the attacks is the accuracy pass's
        for a in st[0]["attacks"]:
            ys = [x["attacks"][a] for x in st]
            if a in STEPS:
                a0, b0 = lin(s, ys)
                E["attack " + a] = a0 + b0 * STEPS[a][0] / STEPS[a][1] * 10000
            else:
                E["attack " + a] = at(s, ys, 10000)
        F = u["F"]
        E["fits (fit set)"] = fits_full + max(0.0, float(np.mean([x["fits"] for x in st])) - (u["fit_a"] + u["fit_u"] * F))
        for d in st[0]["dets"]:
            E["det " + d] = at(n, [x["dets"][d] for x in st], n_full)
        # noisy = true: each attack's normal set (clean + noisy controls) is its own probe.
        E["det mahalanobis-lr"] = u["mlr_fixed"] + mlr_fit + u["mlr_u"] * mlr_units_memo(arch, [2 * ADV_KEPT, ADV_KEPT] * 5)
        # LID compares every pair sample, once per fold, with a reference batch of 100
        # normal samples; the reduced runs' batches hold fewer (their whole normal fold), so
        # their slope misses most of this term: added from the measured element rate.
        E["det lid k-NN, batch 100 (analytic)"] = 5 * n_full * LID_BATCH * flat_dim(arch) * LID_NS_PER_ELEMENT * 1e-9 / 2
        # LID streams its activations (detectors/lid.go, after these measurements): the
        # reference batches (the ~2·0.8·ADV_KEPT normal training samples of a fold) are
        # recomputed for each of the 4 sets a fold scores when they exceed its 2 GiB budget,
        # as they do at full size: one forward pass each.
        n_ref = 2 * 0.8 * ADV_KEPT
        if n_ref * flat_dim(arch) * 8 > 2**31:
            E["det lid reference batches recomputed (analytic)"] = 5 * 5 * 4 * n_ref * u["fwd_u"]
        E["post"] = at(n, [x["post"] for x in st], n_full)
        x_full, xs = n_full, n
    else:
        ns = FULL["samples"]["corruption"]
        E["accuracy"] = acc(10000 + ns)  # the whole test split, then the 2,000 sampled images
        task = [x["tasks"][1] - x["tasks"][0] for x in st]   # a whole task, the second one
        first = [x["tasks"][0] - (x["load"] + x["model"] + x["accuracy"]) for x in st]
        F = u["F"]
        extra = [f - t - (u["fit_a"] + u["fit_u"] * F) for f, t in zip(first, task)]  # clean-set scoring
        E["fits (fit set)"] = fits_full
        E["clean set scoring"] = max(0.0, at(s, extra, ns))
        E[f"tasks ({CORR_TASKS} × all detectors but mahalanobis-lr)"] = CORR_TASKS * at(s, task, ns)
        E["corruption generation"] = R["preview"] * ns / 2
        E["det mahalanobis-lr"] = u["mlr_fixed"] + mlr_fit + u["mlr_u"] * mlr_units_memo(arch, [ns] + [ns] * CORR_TASKS)
        E["post"] = at(s, [x["post"] for x in st], ns * CORR_TASKS / 2)
        x_full, xs = ns, s
    two = sum(E.values())
    serial = sum(v for k, v in E.items() if k in SERIAL)
    sixteen = serial + (two - serial) * sc["factor16"]
    ideal16 = serial + (two - serial) * 2 / 16
    dom = max(E.items(), key=lambda kv: kv[1])
    mem = at(xs, [r["maxrss_mb"] for r in runs], x_full)
    disk = at(xs, [r["cache_mb"] for r in runs], x_full * (CORR_TASKS / 2 if proto == "corruption" else 1))
    lid_gb = None
    if proto == "adversarial":
        # LID's flattened features of every pair set stay in the probes (float64) to the end.
        lid_gb = None  # LID streams its activations now (was x_full · flat_dim · 8 bytes)
    return dict(stages=E, two=two, sixteen=sixteen, ideal16=ideal16, dominant=dom, mem_mb=mem, disk_mb=disk, lid_gb=lid_gb,
                reduced=[(r["tag"], r["wall"]) for r in runs])


def hms(t):
    if t >= 86400 * 2:
        return f"{t / 86400:.1f} d"
    if t >= 3600:
        return f"{t / 3600:.1f} h"
    if t >= 60:
        return f"{t / 60:.0f} min"
    return f"{t:.0f} s"


def report(res):
    units = {a: arch_units(res, a) for a in ARCHS if any(isinstance(R, dict) and R.get("arch") == a for R in res.values())}
    sc = scaling(units)
    out = []
    out.append("| config | samples (full) | measured reduced runs (2 workers) | est. full, 2 cores | est. full, 16 cores (ideal scaling) | dominant phase (share of 2-core time) |")
    out.append("|---|---|---|---|---|---|")
    details = []
    for name, R in res.items():
        u = units[R["arch"]]
        e = estimate_config(R, u, sc)
        proto = R["protocol"]
        samp = {"ood": "10,000 test + 4 × ≤10,000 OOD; fit 50,000",
                "adversarial": "10,000 test × 5 attacks; fit 50,000",
                "corruption": "2,000 × 95 tasks × 2 repeats; fit 50,000"}[proto]
        red = ", ".join(f"{t.split(name + '-')[1]}: {w:.0f} s" for t, w in e["reduced"])
        dk, dv = e["dominant"]
        out.append(f"| {name} | {samp} | {red} | {hms(e['two'])} | {hms(e['sixteen'])} ({hms(e['ideal16'])}) | {dk} ({100 * dv / e['two']:.0f} %) |")
        details.append(f"\n{name} (2 cores; peak RSS ≈ {e['mem_mb'] / 1024:.1f} GB, cache ≈ {e['disk_mb'] / 1024:.1f} GB, linear extrapolations"
                       + (f"; LID's float64 features of all pair sets alone: {e['lid_gb']:.0f} GB" if e["lid_gb"] else "") + "):")
        for k, v in sorted(e["stages"].items(), key=lambda kv: -kv[1]):
            details.append(f"  {k:<58} {hms(v):>9}  {100 * v / e['two']:5.1f} %")
    lines = ["\n".join(out), ""]
    for a, u in units.items():
        lines.append(f"{a}: forward {u['fwd_u']:.3f} s/sample (2 workers), fit-set work {u['fit_u']:.3f} s/fit sample, "
                     f"mahalanobis-lr {u['mlr_u']:.3f} s per padded sample-pass (points {[(round(x), round(y, 1)) for x, y in u['mlr_points']]}), "
                     f"tap depth {u['depth']:.2f} forwards; 1→2 workers: parallel part {u['par_w1']:.1f} s → {u['par_w2']:.1f} s "
                     f"(speed-up {u['par_w1'] / u['par_w2']:.2f}; CPU {u['cpu_w1']:.0f} s / {u['cpu_w2']:.0f} s; load averages {u['load_w1']} / {u['load_w2']})")
    lines.append(f"pooled 1→2 speed-up {sc['S2']:.2f} → Amdahl serial fraction {sc['sigma']:.3f} → 16-core speed-up {sc['S16']:.1f}; "
                 f"2→16-core factor on the parallel part {sc['factor16']:.3f} = (2/16) ÷ {sc['eff16']:.2f}")
    return "\n".join(lines + details)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/purview-estimate", help="working directory (data, weights, runs, results.json)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks that everything runs, estimates are noise")
    ap.add_argument("--only", nargs="*", help="measure only configs whose path contains one of these")
    ap.add_argument("--from", dest="from_", help="print the table from a results.json instead of measuring")
    a = ap.parse_args()
    if a.from_:
        with open(a.from_) as f:
            print(report(json.load(f, object_pairs_hook=OrderedDict)))
        return
    os.makedirs(a.work, exist_ok=True)
    binary = os.path.join(a.work, "purview")
    subprocess.run(["go", "build", "-o", binary, "./cmd/purview"], cwd=REPO, check=True)
    lab = Lab(a.work, binary)
    make_data(lab.data, np.random.default_rng(1))
    t0 = time.time()
    res = measure(lab, QUICK if a.quick else SIZES, a.only)
    log(f"measurement runs: {time.time() - t0:.0f} s")
    path = os.path.join(a.work, "results.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    log(f"wrote {path}")
    print(report(res))


if __name__ == "__main__":
    main()
