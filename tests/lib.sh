# Shared start and end of the shell tests, sourced as `. "$(dirname "$0")/../lib.sh"` by a
# script that ctest runs as `bash SCRIPT SPECTRA_BINARY`: sets SPECTRA to the binary, makes a
# scratch directory $work (removed on exit), and defines check / finish.
set -u
SPECTRA=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
# check DESCRIPTION CONDITION: evaluates CONDITION, prints ok/FAIL, and records a failure.
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
# finish NAME: the verdict line, and exit 1 if any check failed.
finish() {
  [ $fail -eq 0 ] && echo "$1: all checks passed" || echo "$1: FAILED"
  exit $fail
}
