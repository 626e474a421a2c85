"""AdamW and SGD against torch.optim.AdamW(foreach=False) / torch.optim.SGD.

200 steps on several shapes (multiples of 16), Gaussian gradients with a slowly varying
scale; max relative difference |ours - torch| / max(|torch|, 1e-3 * rms(torch)) must be
at most 1e-6 (the floor keeps elements that pass through zero from dividing by ~0)."""
import sys

from oracle_common import require, run_driver

require(["numpy", "torch"])
import numpy as np  # noqa: E402
import torch  # noqa: E402

driver = sys.argv[1]
torch.set_num_threads(1)
worst = 0.0
failures = 0
cases = [((64, 64), dict(lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)),
         ((48, 160), dict(lr=3e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)),
         ((256, 32), dict(lr=1e-2, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05)),
         ((16, 512), dict(lr=6e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1))]


def rel(a, b):
    floor = 1e-3 * np.sqrt(np.mean(b.astype(np.float64) ** 2))
    return float(np.max(np.abs(a.astype(np.float64) - b) / np.maximum(np.abs(b), floor)))


for (rows, cols), hp in cases:
    rng = np.random.default_rng(rows * 1000 + cols)
    W0 = (0.02 * rng.standard_normal((rows, cols))).astype(np.float32)
    grads = [(rng.standard_normal((rows, cols)) * (1 + 0.5 * np.sin(t / 10))).astype(np.float32) for t in range(200)]
    ours, ours_m, _ = run_driver(driver, "adamw", W0, grads,
                                 ["--lr", hp["lr"], "--beta1", hp["betas"][0], "--beta2", hp["betas"][1],
                                  "--eps", hp["eps"], "--wd", hp["weight_decay"]])
    p = torch.nn.Parameter(torch.from_numpy(W0.copy()))
    opt = torch.optim.AdamW([p], foreach=False, **hp)
    for g in grads:
        p.grad = torch.from_numpy(g)
        opt.step()
    ref = p.detach().numpy()
    ref_m = opt.state[p]["exp_avg"].numpy()
    e, em = rel(ours, ref), rel(ours_m, ref_m)
    worst = max(worst, e, em)
    ok = e <= 1e-6 and em <= 1e-6
    failures += not ok
    print(f"adamw {rows}x{cols} {hp}: max rel diff W {e:.2e}, exp_avg {em:.2e} {'ok' if ok else 'FAIL'}")

for (rows, cols), (lr, mom, nest, wd) in [((64, 96), (0.01, 0.9, 0, 0.0)), ((32, 64), (0.05, 0.8, 1, 1e-3))]:
    rng = np.random.default_rng(7)
    W0 = rng.standard_normal((rows, cols)).astype(np.float32)
    grads = [rng.standard_normal((rows, cols)).astype(np.float32) for _ in range(100)]
    ours, _, _ = run_driver(driver, "sgd", W0, grads, ["--lr", lr, "--momentum", mom, "--nesterov", nest, "--wd", wd])
    p = torch.nn.Parameter(torch.from_numpy(W0.copy()))
    opt = torch.optim.SGD([p], lr=lr, momentum=mom, nesterov=bool(nest), weight_decay=wd, foreach=False)
    for g in grads:
        p.grad = torch.from_numpy(g)
        opt.step()
    e = rel(ours, p.detach().numpy())
    ok = e <= 1e-6
    failures += not ok
    print(f"sgd {rows}x{cols} lr={lr} momentum={mom} nesterov={nest} wd={wd}: max rel diff {e:.2e} {'ok' if ok else 'FAIL'}")

print(f"torch {torch.__version__}; worst relative difference {worst:.2e}")
print(f"{'PASS' if failures == 0 else 'FAIL'}: {failures} failing case(s)")
sys.exit(1 if failures else 0)
