#!/usr/bin/env bash
# `spectra experiment` end to end on a tiny plan (two optimizers, a few steps) over a small
# local text (no network): the summary lists both runs with finite losses; a rerun skips
# completed runs and leaves their logs untouched; a run without done.json is resumed from
# its checkpoint; bad plans are clear errors.
. "$(dirname "$0")/../lib.sh"

mkdir -p "$work/text"
for i in $(seq 1 40); do
  echo "Document $i. The optimizer shrinks the spike of the gradient and keeps the tail. Training continues for many steps, and the loss falls. Words repeat so a small model can learn them." > "$work/text/doc$i.txt"
done
"$SPECTRA" prepare --text "$work/text" --train-vocab 300 --val-every 5 --out "$work/data" > "$work/prep.log" 2>&1
check "prepare a local text corpus" '[ $? -eq 0 ]'
cat > "$work/tiny.plan" <<PLAN
# two optimizers, a few steps
defaults data=$work/data preset=tiny batch=4 seq=16 steps=12 val-every=6 val-batches=2 sample-tokens=0
run adamw optim=adamw lr=3e-3
run spectra optim=spectra lr=0.02   # trailing comment
PLAN
"$SPECTRA" experiment run "$work/tiny.plan" --out "$work/out" > "$work/run1.log" 2>&1
check "plan runs" '[ $? -eq 0 ]'
check "summary.csv has a header and both runs" '[ "$(wc -l < "$work/out/summary.csv")" -eq 3 ] && grep -q "^adamw,adamw,3e-3" "$work/out/summary.csv" && grep -q "^spectra,spectra,0.02" "$work/out/summary.csv"'
check "final validation losses are finite numbers" 'awk -F, "NR>1 && !(\$6+0 > 0 && \$6+0 < 20) {bad=1} END {exit bad}" "$work/out/summary.csv"'
# the child's peak resident memory: at least the program and OpenBLAS's buffers, below the machine
check "peak memory recorded per run" 'python3 -c "import json,sys; v=json.load(open(sys.argv[1]))[\"peak_rss_mb\"]; assert 5 < v < 24000, v" "$work/out/adamw/done.json"'
before=$(md5sum "$work/out/adamw/log.jsonl" | cut -d" " -f1)
"$SPECTRA" experiment run "$work/tiny.plan" --out "$work/out" > "$work/run2.log" 2>&1
check "rerun skips completed runs" '[ "$(grep -c "complete, skipped" "$work/run2.log")" -eq 2 ]'
check "skipped run's log untouched" '[ "$(md5sum "$work/out/adamw/log.jsonl" | cut -d" " -f1)" = "$before" ]'
rm "$work/out/spectra/done.json"
"$SPECTRA" experiment run "$work/tiny.plan" --out "$work/out" > "$work/run3.log" 2>&1
check "a run without done.json resumes from its checkpoint" 'grep -q "spectra: resuming" "$work/run3.log" && [ -f "$work/out/spectra/done.json" ]'
"$SPECTRA" experiment summary "$work/out" > "$work/sum.log" 2>&1
check "summary subcommand re-reads the saved plan" '[ $? -eq 0 ] && grep -q "^spectra " "$work/sum.log"'
printf 'run a optim=adamw\nbogus line\n' > "$work/bad.plan"
out=$("$SPECTRA" experiment run "$work/bad.plan" --out "$work/bad" 2>&1); rc=$?
check "unknown plan directive is a clear error" '[ $rc -eq 2 ] && grep -q "bad.plan:2: unknown directive" <<<"$out"'
printf 'run a optim=adamw out=/tmp/x\n' > "$work/bad2.plan"
out=$("$SPECTRA" experiment run "$work/bad2.plan" 2>&1); rc=$?
check "plans cannot set out" '[ $rc -eq 2 ] && grep -q "set by the plan runner" <<<"$out"'
printf 'defaults data=%s preset=tiny batch=4 seq=16 steps=4 sample-tokens=0\nrun good optim=adamw\nrun late lr=abc\n' "$work/data" > "$work/late.plan"
out=$("$SPECTRA" experiment run "$work/late.plan" --out "$work/late" 2>&1); rc=$?
check "a bad value in the last entry stops the plan before any run" \
  '[ $rc -eq 2 ] && grep -q "run .late. has bad settings" <<<"$out" && grep -q -- "--lr expects" <<<"$out" && [ ! -e "$work/late" ]'
printf 'run .. optim=adamw\n' > "$work/dots.plan"
out=$("$SPECTRA" experiment run "$work/dots.plan" --out "$work/dots" 2>&1); rc=$?
check "a run named .. is refused" '[ $rc -eq 2 ] && grep -q "needs a NAME" <<<"$out"'
out=$("$SPECTRA" experiment run "$work/tiny.plan" --out "$work/dry" --dry-run 2>&1); rc=$?
check "--dry-run lists the runs and writes nothing" '[ $rc -eq 0 ] && grep -q "adamw: running" <<<"$out" && [ ! -e "$work/dry" ]'
# paths reach gnuplot and the file system without a shell: a quote in --out runs nothing
odd="$work/o'; touch $work/INJECTED; echo '"
"$SPECTRA" experiment run "$work/tiny.plan" --out "$odd" > "$work/odd.log" 2>&1
check "an --out with quotes works and runs nothing" \
  '[ $? -eq 0 ] && [ -f "$odd/summary.csv" ] && [ -f "$odd/plan.txt" ] && [ ! -e "$work/INJECTED" ]'
if command -v gnuplot > /dev/null; then
  check "the plots are drawn in such a directory" '[ -s "$odd/loss_vs_step.png" ]'
fi
finish test_experiment
