#!/usr/bin/env bash
# Every subcommand parses its flags the same way (tools/cli_flags.c): an unknown option, a
# known option at the end without its value, and a stray positional argument are usage errors
# (exit 2) that name the argument and say which of the three it is; -h prints the usage on
# stdout and exits 0; a number out of its range is refused naming the flag. None of them
# writes a file or prints on stdout, and all run in an empty directory that must stay empty.
. "$(dirname "$0")/../lib.sh"

cd "$work" || exit 1
mkdir empty && cd empty || exit 1
echo "lr 0.01" >../plan.txt

# command words | a valued flag | a numeric flag with an out-of-range value
cases=(
  "train|--seq|--batch 0"
  "sample|--checkpoint|--tokens 0"
  "prepare|--out|--train-vocab 12"
  "tokenizer encode|--tokenizer|--vocab 3"
  "analyze spectrum|--checkpoint|--rank 0"
  "bench optim|--shapes|--repeats 0"
  "bench train|--preset|--batch 0"
  "bench model|--preset|--iters 0"
  "demo|--steps|--rows 1"
  "experiment run ../plan.txt|--out|"
)
for c in "${cases[@]}"; do
  IFS='|' read -r words valued numeric <<<"$c"
  read -ra cmd <<<"$words"
  name="${cmd[*]}"

  "$SPECTRA" "${cmd[@]}" --no-such-flag >../o 2>../e; rc=$?
  check "$name: an unknown option is named as unknown" \
    '[ $rc -eq 2 ] && [ ! -s ../o ] && grep -q "unknown option .--no-such-flag" ../e && ! grep -q "needs a value" ../e'

  "$SPECTRA" "${cmd[@]}" "$valued" >../o 2>../e; rc=$?
  check "$name: $valued without its value says so" \
    '[ $rc -eq 2 ] && [ ! -s ../o ] && grep -q -- "$valued. needs a value" ../e && ! grep -q "unknown option" ../e'

  if [ "${cmd[0]}" = tokenizer ]; then stray=(FILE stray); else stray=(stray); fi
  "$SPECTRA" "${cmd[@]}" "${stray[@]}" >../o 2>../e; rc=$?
  check "$name: a stray argument is refused" '[ $rc -eq 2 ] && [ ! -s ../o ] && grep -q "unexpected.*stray" ../e'

  "$SPECTRA" "${cmd[@]}" -h >../o 2>../e; rc=$?
  check "$name: -h prints the usage on stdout" '[ $rc -eq 0 ] && grep -q "^usage:" ../o'

  if [ -n "$numeric" ]; then
    read -ra num <<<"$numeric"
    "$SPECTRA" "${cmd[@]}" "${num[@]}" >../o 2>../e; rc=$?
    check "$name: ${num[*]} is out of range, in a message naming the command" \
      '[ $rc -eq 2 ] && [ ! -s ../o ] && grep -q -- "^spectra ${cmd[0]}.*: ${num[0]} expects" ../e'
  fi
  check "$name: nothing was written" '[ -z "$(ls -A .)" ]'
done

# Every occurrence of a flag is checked (the last one counts: test_train_cli), and a value may
# start with a dash: it is the value, not an option.
"$SPECTRA" demo --rows 1 --rows 16 >../o 2>../e; rc=$?
check "demo: a bad first --rows is refused though a good one follows" '[ $rc -eq 2 ] && grep -q -- "--rows expects.*got .1." ../e'
"$SPECTRA" demo --seed -1 >../o 2>../e; rc=$?
check "demo: the message names the command" 'grep -q -- "^spectra demo: --seed expects" ../e'
"$SPECTRA" train --optim muon --ns-steps 0 >../o 2>../e; rc=$?
check "train: an optimizer flag checked after --optim is named with the command" \
  '[ $rc -eq 2 ] && grep -q -- "^spectra train: --ns-steps expects" ../e'
"$SPECTRA" demo --seed -1 >../o 2>../e; rc=$?
check "demo: --seed -1 is a value, refused as a negative number" '[ $rc -eq 2 ] && grep -q -- "--seed expects" ../e'
finish test_cli_flags
