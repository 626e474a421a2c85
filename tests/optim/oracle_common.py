"""Shared helpers for the Python oracle tests: run the C driver, skip rules."""
import os
import subprocess
import sys
import tempfile

import_error = None
try:
    import numpy as np  # noqa: F401
except ImportError as e:  # pragma: no cover
    import_error = e

SKIP = 77


def require(modules):
    """Import the oracle's modules or SKIP loudly (fail if SPECTRA_REQUIRE_ORACLES=1, as in CI)."""
    missing = []
    for m in modules:
        try:
            __import__(m)
        except ImportError:
            missing.append(m)
    if missing:
        msg = f"SKIP: oracle needs Python modules {missing} (Debian: apt-get install python3-numpy python3-torch)"
        print("*" * 72 + "\n" + msg + "\n" + "*" * 72)
        if os.environ.get("SPECTRA_REQUIRE_ORACLES") == "1":
            print("FAIL: SPECTRA_REQUIRE_ORACLES=1 and the oracle is missing")
            sys.exit(1)
        sys.exit(SKIP)


def run_driver(driver, algo, W0, grads, extra=()):
    """Runs the C optimizer; returns (W_final, first_state_buffer, q0 or None)."""
    import numpy as np
    rows, cols = W0.shape
    with tempfile.TemporaryDirectory() as d:
        inp, out = os.path.join(d, "in.bin"), os.path.join(d, "out.bin")
        with open(inp, "wb") as f:
            f.write(np.ascontiguousarray(W0, dtype="<f4").tobytes())
            for g in grads:
                f.write(np.ascontiguousarray(g, dtype="<f4").tobytes())
        cmd = [driver, "--algo", algo, "--rows", str(rows), "--cols", str(cols), "--steps", str(len(grads)),
               "--in", inp, "--out", out, *map(str, extra)]
        subprocess.run(cmd, check=True)
        data = np.fromfile(out, dtype="<f4")
        q0 = np.fromfile(out + ".q0", dtype="<f4") if os.path.exists(out + ".q0") else None
    return data[: rows * cols].reshape(rows, cols), data[rows * cols:].reshape(rows, cols), q0
