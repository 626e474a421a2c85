/* OpenBLAS's choice of kernels, corrected where it took a modern CPU for an old one.
 *
 * OpenBLAS picks its kernels once, when the library loads (DYNAMIC_ARCH). Debian 12's
 * 0.3.21 does not know Intel cores newer than Cooper Lake: on an Emerald Rapids machine
 * (family 6, model 207) it falls back to its SSE3 "Prescott" kernels and sgemm at 4096^3
 * runs at 56-60 GFLOP/s on two cores, against 307 with its own SkylakeX (AVX-512) kernels
 * (`spectra bench optim`, same machine, same minute). Every BLAS call of the trainer, Muon,
 * Dion and the analysis pays that. OpenBLAS reads OPENBLAS_CORETYPE only at load time, so
 * the fix from inside the process is to set it and exec ourselves once more. A user's own
 * OPENBLAS_CORETYPE is always respected, and SPECTRA_KEEP_BLAS_CORE=1 turns this off.
 *
 * The exec must not lose CPUs. With OMP_PROC_BIND or OMP_PLACES set, the OpenMP runtime pins
 * the initial thread to the first place when the library loads, and exec keeps that mask: the
 * restarted process saw one CPU, built its places from it, and ran both threads on it (sgemm
 * 153 against 319 GFLOP/s, the Spectra step 2x slower; machine B, docs/BENCHMARKS.md). So the
 * mask is widened back to all the places' CPUs first. SPECTRA_TEST_RESTART=1 takes the restart
 * path with OpenBLAS's own core on any CPU, for the test of that (tests/tools/test_blas_core.sh). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#endif
#include "cli.h"

#include <errno.h>
#include <link.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

char *openblas_get_corename(void);

/* The legacy cores OpenBLAS falls back to for a CPU it does not recognize. */
static int is_fallback_core(const char *core) {
    static const char *const legacy[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
                                         "Katmai",   "Coppermine", "Northwood", "Banias", "Barcelona"};
    if (!core) return 0;
    for (size_t i = 0; i < sizeof legacy / sizeof legacy[0]; i++)
        if (!strcasecmp(core, legacy[i])) return 1;
    return 0;
}

static const char *core_choice(const char *detected) {
    if (!is_fallback_core(detected)) return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

/* The CPUs of the OpenMP runtime's places, into *set: how many (0 when it has no places, i.e.
 * its threads are not bound). */
static int omp_place_cpus(cpu_set_t *set) {
    CPU_ZERO(set);
    int places = omp_get_num_places(), count = 0;
    for (int p = 0; p < places; p++) {
        int n = omp_get_place_num_procs(p);
        if (n <= 0) continue;
        int *ids = malloc((size_t)n * sizeof *ids);
        if (!ids) return 0;
        omp_get_place_proc_ids(p, ids);
        for (int i = 0; i < n; i++)
            if (ids[i] >= 0 && ids[i] < CPU_SETSIZE && !CPU_ISSET(ids[i], set)) {
                CPU_SET(ids[i], set);
                count++;
            }
        free(ids);
    }
    return count;
}

int cli_omp_cpus(int *bound) {
    cpu_set_t set;
    *bound = omp_get_proc_bind() != omp_proc_bind_false;
    int n = *bound ? omp_place_cpus(&set) : 0;
    if (n > 0) return n;
    if (sched_getaffinity(0, sizeof set, &set)) return 0;
    return CPU_COUNT(&set);
}

typedef struct runtime_list {
    char *buf;
    size_t len;
    int count;
} runtime_list;

/* dl_iterate_phdr callback: appends the base names of the OpenMP runtimes (GNU libgomp, LLVM
 * libomp, Intel libiomp5). The loader maps a file once, whatever names it is reached by. */
static int add_runtime(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    runtime_list *r = data;
    const char *base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    if (strncmp(base, "libgomp.so", 10) && strncmp(base, "libomp.so", 9) && strncmp(base, "libiomp5.so", 11)) return 0;
    size_t used = strlen(r->buf);
    snprintf(r->buf + used, r->len - used, "%s%s", r->count ? " + " : "", base);
    r->count++;
    return 0;
}

int cli_omp_runtimes(char *buf, size_t len) {
    runtime_list r = {buf, len, 0};
    if (!len) return 0;
    buf[0] = '\0';
    dl_iterate_phdr(add_runtime, &r);
    return r.count;
}

void cli_fix_blas_core(char **argv) {
    if (getenv("OPENBLAS_CORETYPE") || getenv("SPECTRA_KEEP_BLAS_CORE")) return;
    const char *detected = openblas_get_corename();
    const char *choice = core_choice(detected);
    int test = !choice && detected && getenv("SPECTRA_TEST_RESTART");
    if (test) choice = detected;
    if (!choice) return;
    if (test)
        fprintf(stderr, "spectra: restarting with OPENBLAS_CORETYPE=%s (SPECTRA_TEST_RESTART)\n", choice);
    else
        fprintf(stderr,
                "spectra: OpenBLAS took this CPU for a %s (its SSE kernels, several times slower); "
                "restarting with OPENBLAS_CORETYPE=%s (SPECTRA_KEEP_BLAS_CORE=1 keeps %s)\n",
                detected, choice, detected);
    fflush(NULL);
    if (setenv("OPENBLAS_CORETYPE", choice, 1) || setenv("SPECTRA_BLAS_CORE_FIXED", detected, 1)) return;
    cpu_set_t cpus;
    if (omp_place_cpus(&cpus) > 0) (void)sched_setaffinity(0, sizeof cpus, &cpus); /* see the top */
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the slow kernels rather than fail the command */
    int err = errno;
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("SPECTRA_BLAS_CORE_FIXED");
    fprintf(stderr, "spectra: could not restart (%s); continuing with OpenBLAS's %s kernels\n", strerror(err), detected);
}

const char *cli_blas_core_replaced(void) { return getenv("SPECTRA_BLAS_CORE_FIXED"); }

const char *cli_blas_core_note(void) {
    static char note[160];
    const char *was = cli_blas_core_replaced(), *env = getenv("OPENBLAS_CORETYPE");
    if (!env) return "";
    if (was) snprintf(note, sizeof note, " [OPENBLAS_CORETYPE=%s set by spectra: OpenBLAS detected %s]", env, was);
    else snprintf(note, sizeof note, " [OPENBLAS_CORETYPE=%s set by the environment]", env);
    return note;
}
