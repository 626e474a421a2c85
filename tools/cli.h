/* Shared declarations for the `spectra` command's subcommands. Each subcommand is
 * `int cmd_x(int argc, char **argv)` with argv[0] = the subcommand name; it returns the
 * process exit code (0 ok, 1 runtime failure, 2 usage error). */
#ifndef SPECTRA_TOOLS_CLI_H
#define SPECTRA_TOOLS_CLI_H

#include <stddef.h>

typedef struct spectra_cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} spectra_cli_command;

int cmd_demo(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_experiment(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_tokenizer(int argc, char **argv);
int cmd_bench_model(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
/* mkdir -p: creates path and its missing parents; 0 or -1 with errno (tools/cli_fs.c). */
int cli_mkdir_p(const char *path);
/* Copies a file: 0, or -1 with errno. */
int cli_copy_file(const char *from, const char *to);
/* Runs argv[0] (PATH searched) with argv, no shell, so that paths need no quoting; in cwd if
 * not NULL, stdout and stderr into output_path if not NULL; waits for it. Its exit status
 * (128 + the signal if a signal ended it), 127 if it could not be started, -1 if fork failed.
 * maxrss_kb, if not NULL: the child's peak resident memory (getrusage of the child). */
int cli_run_program(char *const argv[], const char *cwd, const char *output_path, long *maxrss_kb);
/* `spectra bench optim --device cuda` (tools/cmd_bench_cuda.c). */
int cmd_bench_optim_cuda(int argc, char **argv);
/* OpenBLAS kernels (tools/blas_core.c). cli_fix_blas_core re-executes the command with
 * OPENBLAS_CORETYPE set when OpenBLAS fell back to legacy SSE kernels on an AVX2/AVX-512 CPU
 * (returns only if nothing was to be done or exec failed). cli_blas_core_replaced: the core
 * OpenBLAS had picked when this process was restarted with another, else NULL.
 * cli_blas_core_note: "" or a bracketed note on who set OPENBLAS_CORETYPE, for headers. */
void cli_fix_blas_core(char **argv);
const char *cli_blas_core_replaced(void);
const char *cli_blas_core_note(void);
/* The CPUs this process's OpenMP threads can run on: the places' CPUs when the runtime binds
 * its threads (OMP_PROC_BIND / OMP_PLACES; *bound = 1), else the affinity mask's. */
int cli_omp_cpus(int *bound);
/* The OpenMP runtimes mapped into this process, as "libgomp.so.1" or "libomp.so.5 + libgomp.so.1"
 * into buf: how many (two means OpenBLAS's pool and ours are separate; cmake/OneOpenMPRuntime.cmake). */
int cli_omp_runtimes(char *buf, size_t len);
/* Bytes of memory this process can still use: /proc/meminfo's MemAvailable, or the cgroup
 * v2 limit's headroom if smaller; 0 if neither can be read (tools/cli_memory.c). */
double cli_available_memory_bytes(void);

#endif
