#!/usr/bin/env bash
# The `spectra` command never runs OpenBLAS's legacy SSE kernels on a CPU with AVX2 or AVX-512
# unless asked to (tools/blas_core.c): the oracle for what the CPU can do is /proc/cpuinfo,
# and for what OpenBLAS picks on its own, the command run with SPECTRA_KEEP_BLAS_CORE=1.
# A user's OPENBLAS_CORETYPE is kept as given.
. "$(dirname "$0")/../lib.sh"

core_of() { sed -n 's/^OpenBLAS core \([A-Za-z0-9]*\) .*/\1/p' <<<"$1"; }
legacy='^(Prescott|Core2|Penryn|Dunnington|Nehalem|Atom|Katmai|Coppermine|Northwood|Banias|Barcelona)$'

out=$(env -u OPENBLAS_CORETYPE "$SPECTRA" version 2>&1); rc=$?
check "version runs" '[ $rc -eq 0 ] && grep -q "^spectra " <<<"$out"'
core=$(core_of "$out")
check "version names the OpenBLAS core ($core)" '[ -n "$core" ]'
flags=$(grep -m1 "^flags" /proc/cpuinfo)
if grep -qw avx512f <<<"$flags" && grep -qw avx512bw <<<"$flags" && grep -qw avx512dq <<<"$flags" && grep -qw avx512vl <<<"$flags"; then
  check "AVX-512 CPU: not a legacy SSE core ($core)" '! grep -Eq "$legacy" <<<"$core"'
elif grep -qw avx2 <<<"$flags" && grep -qw fma <<<"$flags"; then
  check "AVX2 CPU: not a legacy SSE core ($core)" '! grep -Eq "$legacy" <<<"$core"'
fi

kept=$(env -u OPENBLAS_CORETYPE SPECTRA_KEEP_BLAS_CORE=1 "$SPECTRA" version 2>&1)
detected=$(core_of "$kept")
check "SPECTRA_KEEP_BLAS_CORE=1 keeps OpenBLAS's own choice ($detected) and says nothing" \
  '[ -n "$detected" ] && ! grep -q "restarting" <<<"$kept" && ! grep -q "set by spectra" <<<"$kept"'
if grep -Eq "$legacy" <<<"$detected"; then
  check "a legacy fallback ($detected) is announced and replaced" \
    'grep -q "restarting with OPENBLAS_CORETYPE=$core" <<<"$out" && grep -q "set by spectra: OpenBLAS detected $detected" <<<"$out"'
else
  check "a recognized core ($detected) is left alone" '[ "$core" = "$detected" ] && ! grep -q "restarting" <<<"$out"'
fi

user=$(OPENBLAS_CORETYPE=Haswell "$SPECTRA" version 2>&1)
check "the user's OPENBLAS_CORETYPE is kept" '[ "$(core_of "$user")" = Haswell ] && grep -q "set by the environment" <<<"$user"'
# The restart keeps the CPUs. With OMP_PROC_BIND the OpenMP runtime pins the initial thread to
# one CPU at load, and exec used to keep that mask: the restarted command ran all its threads on
# one CPU. SPECTRA_TEST_RESTART=1 takes the restart path on any CPU; the oracle is nproc, the
# shell's own affinity mask (nproc itself reads OMP_NUM_THREADS, hence env -u).
cpus_of() { sed -n 's/^OpenMP [0-9]* threads\{0,1\} on \([0-9]*\) CPUs\{0,1\} .*/\1/p' <<<"$1"; }
n=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
free=$(env -u OPENBLAS_CORETYPE -u OMP_PROC_BIND -u OMP_PLACES "$SPECTRA" version 2>&1)
check "unbound: version reports the $n CPUs of the mask" '[ "$(cpus_of "$free")" = "$n" ] && grep -q "(unbound)" <<<"$free"'
bound=$(env -u OPENBLAS_CORETYPE OMP_PROC_BIND=true OMP_NUM_THREADS="$n" SPECTRA_TEST_RESTART=1 "$SPECTRA" version 2>&1)
check "OMP_PROC_BIND=true: the restarted command still has all $n CPUs" \
  'grep -q "restarting" <<<"$bound" && grep -q "(bound to places)" <<<"$bound" && [ "$(cpus_of "$bound")" = "$n" ]'
# One OpenMP runtime. A clang build compiles our loops for LLVM's libomp while Debian's OpenBLAS
# needs GNU libgomp; loaded side by side, libgomp pinned the initial thread as it loaded and
# libomp then saw one CPU (the check above failed in clang builds: triad 13.3 against 27.2 GB/s).
# The build serves libgomp.so.1 from libomp (cmake/OneOpenMPRuntime.cmake). The oracle is the
# loader's own trace: the runtime files it maps.
maps=$(env -u OPENBLAS_CORETYPE SPECTRA_KEEP_BLAS_CORE=1 LD_DEBUG=files "$SPECTRA" version 2>&1 |
  sed -n 's/.*file=\(lib[gi]\{0,1\}omp[^ ]*\) .*generating link map.*/\1/p')
check "one OpenMP runtime is mapped (the loader mapped: $(echo $maps))" '[ "$(wc -w <<<"$maps")" = 1 ]'
rt=$(env -u OPENBLAS_CORETYPE SPECTRA_KEEP_BLAS_CORE=1 "$SPECTRA" version 2>&1)
check "version names the one runtime the loader mapped" 'grep -q "; runtime $(echo $maps)\$" <<<"$rt"'
finish test_blas_core
