#!/usr/bin/env python3
"""Throughput of purview's engine as ratios to PyTorch on the same machine.

Runs `purview bench --json` and the PyTorch peer one after the other (same
session, same threads), or reads JSON files both wrote earlier, and prints
images/second, the ratio Go/PyTorch and the target ratio of each workload
(issues 3 and 7). `--markdown` prints the table for the README.

The PyTorch peer of lenet and resnet20 is ../shared/bench/torch_ref.py; that of
resnet34 (kuangliu CIFAR ResNet-34, 3×32×32, 10 classes, scripts/zoo.py) is
measured in this script (resnet34_workloads).

    /usr/bin/python3 scripts/bench.py --run                 # both, 2 threads
    /usr/bin/python3 scripts/bench.py --run --models resnet34
    /usr/bin/python3 scripts/bench.py --peer-only --models resnet34   # PyTorch side only
    /usr/bin/python3 scripts/bench.py --go go.json --torch torch.json --markdown
"""
import argparse, json, os, platform, subprocess, sys, time

# workload -> (PyTorch key it is compared with, target ratio)
TARGETS = {
    "lenet/train_b64": ("lenet/train_b64", 1.0),
    "lenet/forward_b256": ("lenet/forward_b256", 0.5),
    "lenet/purview_vmap_b64": ("lenet/purview_vmap_b64", 1.0),
    "lenet/input_grad_b64": ("lenet/input_grad_b64", 1.0),
    "resnet20/train_b32": ("resnet20/train_b32", 0.3),
    "resnet20/forward_b256": ("resnet20/forward_b256", 0.5),
    "resnet20/purview_vmap_b64": ("resnet20/purview_vmap_b64", 0.5),
    "resnet20/input_grad_b64": ("resnet20/input_grad_b64", 0.3),
    "resnet34/forward_b64": ("resnet34/forward_b64", 0.5),
    "resnet34/purview_vmap_b32": ("resnet34/purview_vmap_b32", 0.5),
    "resnet34/input_grad_b32": ("resnet34/input_grad_b32", 0.3),
}
# Extra comparisons: the batched purview features against PyTorch's
# per-sample loop (the published recipe).
LOOP = {"lenet/purview_vmap_b64": "lenet/purview_loop", "resnet20/purview_vmap_b64": "resnet20/purview_loop",
        "resnet34/purview_vmap_b32": "resnet34/purview_loop"}
PEER_MODELS = ("lenet", "resnet20")  # measured by torch_ref.py
LOCAL_MODELS = ("resnet34",)         # measured here


def here(*p):
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), *p)


def rate(fn, n_images, min_seconds=3.0):
    """Images per second of fn (which handles n_images), after one warm-up call, over at
    least min_seconds — as torch_ref.py."""
    fn()
    t, done = time.perf_counter(), 0
    while time.perf_counter() - t < min_seconds:
        fn(); done += n_images
    return done / (time.perf_counter() - t)


def resnet34_workloads(threads):
    """PyTorch peer of `purview bench --models resnet34`, eval mode, random inputs in [0,1):
    forward_b64 (no_grad logits of 64 images); purview_vmap_b32 (functorch vmap(grad) of the
    all-ones sigmoid confound loss over 32 samples, squared norm per parameter, as
    torch_ref.py's purview_vmap); purview_loop (one backward per sample, 4 samples);
    input_grad_b32 (cross-entropy input gradient of 32 images and the FGSM step, as
    torch_ref.py's input_grad)."""
    import torch, torch.nn.functional as F
    sys.dont_write_bytecode = True  # no scripts/__pycache__ in the working tree
    sys.path.insert(0, here())
    import zoo
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = zoo.build("resnet34").eval()
    xe = torch.rand(64, 3, 32, 32)
    ones = torch.ones(1, 10)

    def forward():
        with torch.no_grad():
            model(xe)

    def purview_loop():
        for i in range(4):
            model.zero_grad()
            F.binary_cross_entropy_with_logits(model(xe[i:i + 1]), ones, reduction="sum").backward()
            [p.grad.pow(2).sum() for p in model.parameters()]

    out = {"resnet34/forward_b64": rate(forward, 64), "resnet34/purview_loop": rate(purview_loop, 4)}
    try:
        from functorch import make_functional_with_buffers, vmap, grad
        fmodel, params, buffers = make_functional_with_buffers(model)

        def loss(p, b, xi):
            return F.binary_cross_entropy_with_logits(fmodel(p, b, xi.unsqueeze(0)), ones, reduction="sum")

        per_sample = vmap(grad(loss), in_dims=(None, None, 0))
        xv = xe[:32]

        def purview_vmap():
            [g.flatten(1).pow(2).sum(1) for g in per_sample(params, buffers, xv)]

        out["resnet34/purview_vmap_b32"] = rate(purview_vmap, 32)
    except Exception as e:  # functorch missing or an unsupported op
        out["resnet34/purview_vmap_b32"] = None
        print(f"# vmap unavailable for resnet34: {e}")
    xa, ya = torch.rand(32, 3, 32, 32), torch.randint(0, 10, (32,))

    def fgsm_step():
        xi = xa.clone().requires_grad_(True)
        F.cross_entropy(model(xi), ya).backward()
        (xa + 0.1 * xi.grad.sign()).clamp(0, 1)

    out["resnet34/input_grad_b32"] = rate(fgsm_step, 32)
    return out


def split_models(models, ap):
    names = [m.strip() for m in models.split(",") if m.strip()]
    bad = [m for m in names if m not in PEER_MODELS + LOCAL_MODELS]
    if bad or not names:
        ap.error(f"--models: unknown model {bad[0]!r}, expected a comma-separated list of "
                 f"{', '.join(PEER_MODELS + LOCAL_MODELS)}" if bad else "--models: empty list")
    return [m for m in names if m in PEER_MODELS], [m for m in names if m in LOCAL_MODELS]


def run_torch(threads, torch_script, peer, local, tj):
    """The PyTorch side: torch_ref.py for the models it knows, the rest here; JSON to tj."""
    res = {}
    if peer:
        subprocess.run([sys.executable, torch_script, "--threads", str(threads), "--models", ",".join(peer),
                        "--json", tj], check=True)
        with open(tj) as f:
            res.update(json.load(f))
    if "resnet34" in local:
        r = resnet34_workloads(threads)
        for k, v in r.items():
            print(f"{k:28s} {v:10.1f} img/s" if v else f"{k:28s}        n/a")
        res.update(r)
    with open(tj, "w") as f:
        json.dump(res, f, indent=1)
    return tj


def run(threads, torch_script, models, peer, local):
    goj, tj = "/tmp/purview_bench_go.json", "/tmp/purview_bench_torch.json"
    subprocess.run(["go", "run", "./cmd/purview", "bench", "--threads", str(threads), "--models", models, "--json", goj],
                   cwd=here(".."), check=True)
    return goj, run_torch(threads, torch_script, peer, local, tj)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="store_true", help="run both benchmarks now")
    ap.add_argument("--peer-only", action="store_true",
                    help="run only the PyTorch side and write its JSON (for a later --torch)")
    ap.add_argument("--go", help="JSON written by purview bench --json")
    ap.add_argument("--torch", help="JSON written by torch_ref.py --json or by --peer-only (with --peer-only: where to write it)")
    ap.add_argument("--torch-script", default=here("..", "..", "shared", "bench", "torch_ref.py"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="lenet,resnet20")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    peer, local = split_models(a.models, ap)
    if a.peer_only:
        tj = run_torch(a.threads, a.torch_script, peer, local, a.torch or "/tmp/purview_bench_torch.json")
        print(f"# PyTorch results: {tj}")
        return
    if a.run:
        a.go, a.torch = run(a.threads, a.torch_script, a.models, peer, local)
    if not (a.go and a.torch):
        ap.error("give --run, or both --go and --torch")
    go, torch = json.load(open(a.go)), json.load(open(a.torch))
    rows = []
    for k, (tk, target) in TARGETS.items():
        g, t = go.get(k), torch.get(tk)
        if g is None or t is None:
            continue
        r = g / t
        extra = ""
        if k in LOOP and torch.get(LOOP[k]):
            extra = f"{g / torch[LOOP[k]]:.1f}× loop"
        rows.append((k, g, t, r, target, "yes" if r >= target else "NO", extra))
    alloc = {k: v for k, v in go.items() if k.endswith("/alloc_bytes_per_batch")}
    if a.markdown:
        print(f"Machine: {platform.node()} ({os.cpu_count()} cores), {a.threads} threads each, {time.strftime('%Y-%m-%d')}.\n")
        print("| workload | purview img/s | PyTorch img/s | ratio | target | met | vs per-sample loop |")
        print("|---|---:|---:|---:|---:|:---:|---:|")
        for k, g, t, r, target, ok, extra in rows:
            print(f"| {k} | {g:,.0f} | {t:,.0f} | {r:.2f}× | ≥ {target}× | {ok} | {extra} |")
        for k, v in sorted(alloc.items()):
            print(f"\n{k}: {v/1024:.0f} KiB", end="")
        print()
    else:
        print(f"{'workload':28s} {'purview':>10s} {'pytorch':>10s} {'ratio':>7s} {'target':>7s}  met")
        for k, g, t, r, target, ok, extra in rows:
            print(f"{k:28s} {g:10.1f} {t:10.1f} {r:6.2f}× {target:6.1f}×  {ok:3s} {extra}")
        for k, v in sorted(alloc.items()):
            print(f"{k:40s} {v/1024:10.0f} KiB")


if __name__ == "__main__":
    main()
