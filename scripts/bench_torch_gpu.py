#!/usr/bin/env python3
"""Times PyTorch's GPU optimizers on the shapes of `spectra bench optim --device cuda` and
prints them next to ours, with the issue's target ratios (docs/GPU.md).

  python3 scripts/bench_torch_gpu.py --spectra build/tools/spectra
  python3 scripts/bench_torch_gpu.py --no-spectra          # torch only

Peers: torch.optim.AdamW(fused=True) and torch.optim.Muon (PyTorch >= 2.9; bf16
Newton-Schulz as torch implements it). One fp32 parameter of each shape with an fp32
gradient; step times by CUDA events, median/min/max of --repeats after --warmup steps.
Our numbers come from running `spectra bench optim --device cuda --json` in the same
process tree on the same device.
"""
import argparse
import json
import statistics
import subprocess
import sys


def time_steps(torch, opt, repeats, warmup):
    for _ in range(warmup):
        opt.step()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        opt.step()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1))  # ms
    return statistics.median(times), min(times), max(times)


def copy_bandwidth(torch, nbytes=1 << 30, iters=10):
    a = torch.empty(nbytes // 4, dtype=torch.float32, device="cuda")
    b = torch.empty_like(a)
    best = 0.0
    for i in range(iters + 1):
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        b.copy_(a)
        e1.record()
        e1.synchronize()
        gbs = 2.0 * nbytes / (e0.elapsed_time(e1) * 1e-3) / 1e9
        if i > 0:
            best = max(best, gbs)
    return best


def torch_bench(torch, shapes, repeats, warmup):
    out = {}
    for (m, n) in shapes:
        gen = torch.Generator(device="cuda").manual_seed(3)
        row = {}
        # AdamW fused (the defaults of SPEC §2: betas (0.9, 0.95), eps 1e-8, wd 0.1).
        w = torch.nn.Parameter(0.02 * torch.randn(m, n, device="cuda", generator=gen))
        w.grad = torch.randn(m, n, device="cuda", generator=gen)
        opt = torch.optim.AdamW([w], lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, fused=True)
        row["adamw_fused"] = time_steps(torch, opt, repeats, warmup)
        del opt, w
        # Muon (SPEC §5 defaults).
        if hasattr(torch.optim, "Muon"):
            w = torch.nn.Parameter(0.02 * torch.randn(m, n, device="cuda", generator=gen))
            w.grad = torch.randn(m, n, device="cuda", generator=gen)
            opt = torch.optim.Muon([w], lr=0.02, momentum=0.95, nesterov=True, weight_decay=0.0, ns_steps=5, eps=1e-7)
            row["muon"] = time_steps(torch, opt, repeats, warmup)
            del opt, w
        torch.cuda.empty_cache()
        out[(m, n)] = row
    return out


def spectra_bench(binary, shapes, repeats, warmup, rank_ratio):
    cmd = [binary, "bench", "optim", "--device", "cuda", "--json", "--repeats", str(repeats), "--warmup", str(warmup),
           "--rank-ratio", str(rank_ratio), "--shapes", ",".join(f"{m}x{n}" for m, n in shapes),
           "--optims", "spectra-t1,spectra-t2,adamw,muon,muon-bf16"]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    doc = json.loads(res.stdout)
    out = {}
    for r in doc["results"]:
        out.setdefault((r["rows"], r["cols"]), {})[r["optimizer"]] = (1e3 * r["median_s"], 1e3 * r["min_s"], 1e3 * r["max_s"])
    return doc, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="1024x3072,4096x4096,4096x14336,14336x4096")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rank-ratio", type=float, default=0.015)
    ap.add_argument("--spectra", default="build/tools/spectra", help="path to the spectra binary")
    ap.add_argument("--no-spectra", action="store_true", help="time torch only")
    args = ap.parse_args()
    shapes = [tuple(int(x) for x in s.lower().split("x")) for s in args.shapes.split(",")]

    import torch
    if not torch.cuda.is_available():
        print("bench_torch_gpu: no CUDA device visible to torch", file=sys.stderr)
        return 1
    print(f"torch {torch.__version__}, device {torch.cuda.get_device_name()}, "
          f"torch copy bandwidth {copy_bandwidth(torch):.0f} GB/s (read+write)")
    if not hasattr(torch.optim, "Muon"):
        print("warning: this torch has no torch.optim.Muon (needs >= 2.9); Muon columns are empty", file=sys.stderr)
    tb = torch_bench(torch, shapes, args.repeats, args.warmup)
    ours = {}
    if not args.no_spectra:
        doc, ours = spectra_bench(args.spectra, shapes, args.repeats, args.warmup, args.rank_ratio)
        print(f"spectra: device {doc['device']}, copy bandwidth {doc['copy_gbs']:.0f} GB/s")

    def ms(t):
        return f"{t[0]:9.3f}" if t else f"{'-':>9}"

    print(f"\n{'shape':>12} {'torch AdamW':>11} {'torch Muon':>10} {'sp-t1':>9} {'sp-t2':>9} {'our AdamW':>9} "
          f"{'our Muon':>9} {'our Muonbf':>10} | {'sp-t1/tAdamW':>12} {'tMuon/sp-t1':>11} {'ourAdamW/tAdamW':>15}")
    for (m, n) in shapes:
        t = tb[(m, n)]
        o = ours.get((m, n), {})
        ta, tm = t.get("adamw_fused"), t.get("muon")
        s1, s2 = o.get("spectra-t1"), o.get("spectra-t2")
        oa, om, omb = o.get("adamw"), o.get("muon"), o.get("muon-bf16")
        r1 = f"{s1[0] / ta[0]:12.3f}" if s1 and ta else f"{'-':>12}"
        r2 = f"{tm[0] / s1[0]:11.1f}" if s1 and tm else f"{'-':>11}"
        r3 = f"{oa[0] / ta[0]:15.3f}" if oa and ta else f"{'-':>15}"
        print(f"{m:>5}x{n:<6} {ms(ta):>11} {ms(tm):>10} {ms(s1)} {ms(s2)} {ms(oa)} {ms(om)} {ms(omb):>10} | {r1} {r2} {r3}")
    print("\ntimes: median ms. targets (issue 7): sp-t1/tAdamW <= 1; tMuon/sp-t1 >= 10; "
          "our achieved GB/s >= 80% of the copy bandwidth (see spectra bench optim --device cuda)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
