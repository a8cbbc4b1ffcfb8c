#!/usr/bin/env python3
"""Throughput of purview's engine as ratios to PyTorch on the same machine.

Runs `purview bench --json` and the peer benchmark `torch_ref.py --json` one
after the other (same session, same threads), or reads JSON files both wrote
earlier, and prints images/second, the ratio Go/PyTorch and the target ratio of
each workload (issue 3). `--markdown` prints the table for the README.

    /usr/bin/python3 scripts/bench.py --run                 # both, 2 threads
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
}
# Extra comparisons: the batched purview features against PyTorch's
# per-sample loop (the published recipe).
LOOP = {"lenet/purview_vmap_b64": "lenet/purview_loop", "resnet20/purview_vmap_b64": "resnet20/purview_loop"}


def here(*p):
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), *p)


def run(threads, torch_script, models):
    goj, tj = "/tmp/purview_bench_go.json", "/tmp/purview_bench_torch.json"
    subprocess.run(["go", "run", "./cmd/purview", "bench", "--threads", str(threads), "--models", models, "--json", goj],
                   cwd=here(".."), check=True)
    subprocess.run([sys.executable, torch_script, "--threads", str(threads), "--models", models, "--json", tj], check=True)
    return goj, tj


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="store_true", help="run both benchmarks now")
    ap.add_argument("--go", help="JSON written by purview bench --json")
    ap.add_argument("--torch", help="JSON written by torch_ref.py --json")
    ap.add_argument("--torch-script", default=here("..", "..", "shared", "bench", "torch_ref.py"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="lenet,resnet20")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    if a.run:
        a.go, a.torch = run(a.threads, a.torch_script, a.models)
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
