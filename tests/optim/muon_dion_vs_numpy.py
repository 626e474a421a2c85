"""Muon (SPEC §5) and Dion (SPEC §6) against independent NumPy implementations.

Each reference is written from the SPEC's lines and run twice: in float64 (the oracle)
and in float32 (to measure how far fp32 arithmetic alone moves the result on this input).
The tolerance is 8x that fp32 spread plus 1e-6, measured on the accumulated update
W_final − W0 in max norm: the C code runs in fp32 with a different (BLAS) summation order,
so it can be expected within a small multiple of the reference's own fp32 spread, while a
wrong formula (missing Nesterov blend, wrong lr adjustment, no error feedback, missing
transpose) moves the result by O(1) of the update."""
import sys

from oracle_common import require, run_driver

require(["numpy"])
import numpy as np  # noqa: E402

driver = sys.argv[1]
A, B, C = 3.4445, -4.7750, 2.0315


def muon_ref(W0, grads, lr, beta, nesterov, wd, adjust, eps, dt):
    W, buf = W0.astype(dt), np.zeros_like(W0, dtype=dt)
    rows, cols = W0.shape
    for g in grads:
        g = g.astype(dt)
        buf = buf + dt(1 - beta) * (g - buf)
        u = g + dt(beta) * (buf - g) if nesterov else buf
        X = u.copy()
        if rows > cols:
            X = X.T
        X = X / max(np.linalg.norm(X), eps)
        for _ in range(5):
            Am = X @ X.T
            Bm = dt(B) * Am + dt(C) * (Am @ Am)
            X = dt(A) * X + Bm @ X
        if rows > cols:
            X = X.T
        lr_adj = 0.2 * lr * np.sqrt(max(rows, cols)) if adjust == 1 else lr * np.sqrt(max(1.0, rows / cols))
        W = dt(1 - lr * wd) * W - dt(lr_adj) * X
    return W


def dion_ref(W0, grads, q0, lr, mu, wd, dt):
    rows, cols = W0.shape
    wide = rows < cols
    W, M = W0.astype(dt), np.zeros_like(W0, dtype=dt)
    b = rows if wide else cols
    Q = q0.astype(dt).reshape(-1, b).T  # stored column-major b x r
    for g in grads:
        M = M + g.astype(dt)
        X = M.T if wide else M
        W = dt(1 - lr * wd) * W
        if not np.any(X):
            continue
        P, _ = np.linalg.qr(X @ Q)
        R = X.T @ P
        X = X - dt(1 - mu) * (P @ R.T)
        M = X.T if wide else X
        Q = R / (np.linalg.norm(R, axis=0, keepdims=True) + dt(1e-8))
        D = P @ Q.T
        W = W - dt(lr * np.sqrt(rows / cols)) * (D.T if wide else D)
    return W


failures = 0
cases = [((64, 160), dict(lr=0.02, beta=0.95, nesterov=1, wd=0.0, adjust=0)),
         ((160, 64), dict(lr=0.02, beta=0.95, nesterov=1, wd=0.01, adjust=0)),
         ((96, 96), dict(lr=0.01, beta=0.9, nesterov=0, wd=0.0, adjust=1)),
         ((200, 48), dict(lr=0.005, beta=0.95, nesterov=1, wd=0.1, adjust=1))]
for (rows, cols), hp in cases:
    rng = np.random.default_rng(rows + 7 * cols)
    W0 = (0.02 * rng.standard_normal((rows, cols))).astype(np.float32)
    spike = np.outer(rng.standard_normal(rows), rng.standard_normal(cols))
    grads = [(rng.standard_normal((rows, cols)) + 0.5 * spike).astype(np.float32) for _ in range(20)]
    ours, _, _ = run_driver(driver, "muon", W0, grads,
                            ["--lr", hp["lr"], "--momentum", hp["beta"], "--nesterov", hp["nesterov"], "--wd", hp["wd"],
                             "--lr-adjust", hp["adjust"]])
    ref = muon_ref(W0, grads, eps=1e-7, dt=np.float64, **hp)
    ref32 = muon_ref(W0, grads, eps=1e-7, dt=np.float32, **hp)
    scale = np.max(np.abs(ref - W0))
    spread = np.max(np.abs(ref32 - ref)) / scale
    err = np.max(np.abs(ours - ref)) / scale
    tol = 8 * spread + 1e-6
    ok = err <= tol
    failures += not ok
    print(f"muon {rows}x{cols} {hp}: err {err:.2e}, numpy-fp32 spread {spread:.2e}, tol {tol:.2e} {'ok' if ok else 'FAIL'}")

for (rows, cols), hp in [((128, 48), dict(lr=0.01, mu=0.95, wd=0.01)), ((40, 150), dict(lr=0.02, mu=0.9, wd=0.0)),
                         ((64, 64), dict(lr=0.01, mu=0.95, wd=0.0))]:
    rng = np.random.default_rng(rows * 3 + cols)
    W0 = (0.02 * rng.standard_normal((rows, cols))).astype(np.float32)
    grads = [rng.standard_normal((rows, cols)).astype(np.float32) for _ in range(20)]
    ours, _, q0 = run_driver(driver, "dion", W0, grads, ["--lr", hp["lr"], "--momentum", hp["mu"], "--wd", hp["wd"]])
    ref = dion_ref(W0, grads, q0, dt=np.float64, **hp)
    ref32 = dion_ref(W0, grads, q0, dt=np.float32, **hp)
    scale = np.max(np.abs(ref - W0))
    spread = np.max(np.abs(ref32 - ref)) / scale
    err = np.max(np.abs(ours - ref)) / scale
    tol = 8 * spread + 1e-6
    ok = err <= tol
    failures += not ok
    print(f"dion {rows}x{cols} {hp}: err {err:.2e}, numpy-fp32 spread {spread:.2e}, tol {tol:.2e} {'ok' if ok else 'FAIL'}")

print(f"{'PASS' if failures == 0 else 'FAIL'}: {failures} failing case(s)")
sys.exit(1 if failures else 0)
