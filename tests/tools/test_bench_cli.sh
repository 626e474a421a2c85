#!/usr/bin/env bash
# `spectra bench optim`: the JSON document's paired ratios are consistent with the paired steps'
# times and the reference rates it reports (each ratio's median and range must lie between the
# ratios formed from the extreme step times and extreme reference rates), --paired N gives N
# such steps, the reference is sgemm for the gemm-bound optimizers and STREAM triad for the
# elementwise ones, --no-paired drops them, --pairs N gives the same-minute ratios
# spectra-t1/adamw and muon/spectra-t1 over N pairs (muon's Newton-Schulz iterations cost far more
# than one Spectra step, so that ratio must exceed 1), --pairs 0 none, the Spectra rows' floor at
# OpenBLAS's own rate at the step's shapes is formed from the rate reported, and bad arguments
# exit 2 without output on stdout.
. "$(dirname "$0")/../lib.sh"

run() { env -u OPENBLAS_CORETYPE "$SPECTRA" bench optim --shapes 96x160 --repeats 3 --warmup 1 --json "$@"; }

run --optims spectra-t1,adamw,muon --paired 4 --pairs 3 >"$work/p.json" 2>"$work/p.err"; rc=$?
check "bench optim --json runs" '[ $rc -eq 0 ]'
check "paired ratios lie within the bounds the reported extremes give" \
  'python3 - "$work/p.json" <<"PY"
import json, sys
d = json.load(open(sys.argv[1]))
triad = d["stream_triad_gbs"]
assert d["sgemm_4096_gflops"] > 0 and triad > 0
seen = set()
for r in d["results"]:
    p = r["paired"]
    seen.add(r["optimizer"])
    assert p["steps"] == 4, p
    assert p["step_min_s"] <= p["step_median_s"] <= p["step_max_s"], p
    assert p["rate_min"] <= p["rate_median"] <= p["rate_max"], p
    key = "x_of_floor" if p["reference"] == "sgemm_4096_gflops" else "of_triad"
    assert (p["reference"] == "triad_gbs") == (r["optimizer"] == "adamw"), r
    lo, med, hi = p[key + "_min"], p[key + "_median"], p[key + "_max"]
    assert lo <= med <= hi, p
    if key == "x_of_floor":
        mem = r["bytes_model"] / (triad * 1e9)
        floor = lambda rate: max(r["flops_model"] / (rate * 1e9), mem)
        bound_lo, bound_hi = p["step_min_s"] / floor(p["rate_min"]), p["step_max_s"] / floor(p["rate_max"])
    else:
        bound_lo = r["bytes_model"] / p["step_max_s"] / 1e9 / p["rate_max"]
        bound_hi = r["bytes_model"] / p["step_min_s"] / 1e9 / p["rate_min"]
    eps = 1e-4  # the JSON carries 6 significant digits
    assert bound_lo * (1 - eps) <= lo and hi <= bound_hi * (1 + eps), (r["optimizer"], lo, hi, bound_lo, bound_hi)
assert seen == {"spectra-t1", "adamw", "muon"}, seen
PY'
check "--pairs 3: the same-minute ratios, 3 pairs each, ordered, muon/spectra-t1 > 1" \
  'python3 - "$work/p.json" <<"PY"
import json, sys
d = json.load(open(sys.argv[1]))
sm = {p["ratio"]: p for p in d["same_minute"]}
assert set(sm) == {"spectra-t1/adamw", "muon/spectra-t1"}, sm
for p in sm.values():
    assert (p["rows"], p["cols"]) == (96, 160) and p["pairs"] == 3, p
    assert 0 < p["min"] <= p["median"] <= p["max"], p
assert sm["muon/spectra-t1"]["min"] > 1, sm
PY'
check "the CPU is named with its family and model from /proc/cpuinfo" \
  'python3 - "$work/p.json" <<"PY"
import json, sys
cpu = json.load(open(sys.argv[1]))["cpu"]
first = {}
for line in open("/proc/cpuinfo"):
    if not line.strip():
        break
    key, _, value = line.partition(":")
    first.setdefault(key.strip(), value.strip())
want = first.get("model name", "unknown")
if "cpu family" in first and "model" in first and "model name" in first:
    want += " (family %s, model %s)" % (first["cpu family"], first["model"])
assert cpu == want, (cpu, want)
PY'

# rank ratio 0.3 (k = 29): in optimized builds the FLOPs, not the bytes, set Spectra's floors, so
# a floor that ignored the rate it reports would not match (under the sanitizers the -O0 triad
# probe is slow enough that the bytes set it, and the check is the formula alone)
run --optims spectra-t1,adamw --rank-ratio 0.3 --paired 0 --pairs 0 >"$work/s.json" 2>/dev/null; rc=$?
check "the floor at OpenBLAS's rate at the step's shapes: Spectra rows use it, the others keep SPEC's floor" \
  '[ $rc -eq 0 ] && python3 - "$work/s.json" <<"PY"
import json, sys
d = json.load(open(sys.argv[1]))
triad = d["stream_triad_gbs"]
for r in d["results"]:
    rate, fl = r["sgemm_step_shapes_gflops"], r["floor_sgemm_step_shapes_s"]
    assert rate > 0, r  # a Spectra optimizer is listed, so the shapes were measured
    memory = r["bytes_model"] / (triad * 1e9)
    if r["optimizer"].startswith("spectra"):
        want = max(r["flops_model"] / (rate * 1e9), memory)
    else:
        want = r["floor_s"]
    assert abs(fl - want) <= 1e-3 * want, (r["optimizer"], fl, want)
PY'

run --optims spectra-t1 --no-paired >"$work/u.json" 2>/dev/null; rc=$?
check "--no-paired: no paired figures" \
  '[ $rc -eq 0 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert all(\"paired\" not in r for r in d[\"results\"])" "$work/u.json"'
run --optims spectra-t1,adamw --pairs 0 >"$work/n.json" 2>/dev/null; rc=$?
check "--pairs 0: no same-minute ratios" \
  '[ $rc -eq 0 ] && python3 -c "import json,sys; assert json.load(open(sys.argv[1]))[\"same_minute\"] == []" "$work/n.json"'

"$SPECTRA" bench optim --no-such-flag >"$work/o" 2>"$work/e"; rc=$?
check "an unknown flag exits 2 and names it" '[ $rc -eq 2 ] && [ ! -s "$work/o" ] && grep -q "no-such-flag" "$work/e"'
"$SPECTRA" bench optim --repeats 0 >"$work/o" 2>"$work/e"; rc=$?
check "--repeats 0 exits 2" '[ $rc -eq 2 ] && [ ! -s "$work/o" ] && grep -q -- "--repeats expects" "$work/e"'
"$SPECTRA" bench optim --paired -1 >"$work/o" 2>"$work/e"; rc=$?
check "--paired -1 exits 2" '[ $rc -eq 2 ] && [ ! -s "$work/o" ] && grep -q -- "--paired expects" "$work/e"'
"$SPECTRA" bench optim --pairs -1 >"$work/o" 2>"$work/e"; rc=$?
check "--pairs -1 exits 2" '[ $rc -eq 2 ] && [ ! -s "$work/o" ] && grep -q -- "--pairs expects" "$work/e"'
# shapes are parsed strictly, before the minute of reference probes: a sign, a space, a side
# past 65536 or an overflowing number used to pass strtoul and fail (or wrap) at allocation
for bad in "-2x4" " 8x8" "8x 8" "99999999999999999999x4" "70000x2" "8x" "x8" "8x8x8"; do
  "$SPECTRA" bench optim --shapes "$bad" >"$work/o" 2>"$work/e"; rc=$?
  check "--shapes '$bad' exits 2" '[ $rc -eq 2 ] && [ ! -s "$work/o" ] && grep -q "bad --shapes" "$work/e"'
done
"$SPECTRA" bench optim --device gpu >"$work/o" 2>"$work/e"; rc=$?
check "--device gpu exits 2" '[ $rc -eq 2 ] && [ ! -s "$work/o" ] && grep -q "cpu|cuda" "$work/e"'
# the last --device counts, as every flag's last occurrence does (the first one used to win)
run --device cuda --device cpu --optims adamw --paired 0 --pairs 0 >"$work/o" 2>"$work/e"; rc=$?
check "--device cuda --device cpu runs on the CPU" '[ $rc -eq 0 ] && grep -q "\"optimizer\": \"adamw\"" "$work/o"'
"$SPECTRA" bench optim --device cpu --device gpu >"$work/o" 2>"$work/e"; rc=$?
check "--device cpu --device gpu exits 2" '[ $rc -eq 2 ] && grep -q "not .gpu" "$work/e"'
"$SPECTRA" bench optim --optims foo >"$work/o" 2>"$work/e"; rc=$?
check "an unknown optimizer exits 2 and lists the names" '[ $rc -eq 2 ] && grep -q "spectra-tT" "$work/e"'
"$SPECTRA" bench train --preset tiny --optims adamw,bogus >"$work/o" 2>"$work/e"; rc=$?
check "bench train: an unknown optimizer exits 2 before anything runs" \
  '[ $rc -eq 2 ] && grep -q "bogus" "$work/e" && ! grep -q "^adamw" "$work/o"'
"$SPECTRA" bench train --preset tiny --batch 4096 --seq 65536 --steps 100000 --optims adamw >"$work/o" 2>"$work/e"; rc=$?
check "bench train: a batch of 268M tokens is refused up front, not a crash (rc $rc)" '[ $rc -eq 2 ] && grep -q "tokens per step" "$work/e"'
"$SPECTRA" bench model --preset tiny --batch 1 --seq 8 --seed 0 >"$work/o" 2>"$work/e"; rc=$?
check "bench model: --seed 0 is a seed" '[ $rc -eq 0 ] && grep -q "tokens/s" "$work/o"'
finish test_bench_cli
