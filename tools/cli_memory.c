/* How much memory a run may plan for, for the subcommands that refuse a model or batch too
 * large for the machine before building it (a zero-filled allocation past the free memory
 * ends in the OOM killer, not in an error). */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A number from a one-line file; -1 if unreadable or not a number ("max": no limit). */
static double read_number(const char *path) {
    double v = -1;
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    if (fscanf(f, "%lf", &v) != 1) v = -1;
    fclose(f);
    return v;
}

/* The number after `key` at the start of a line of a "key value" file (a cgroup's memory.stat,
 * /proc/meminfo); 0 if absent. */
static double key_value(const char *path, const char *key) {
    double v = 0;
    char line[256];
    size_t n = strlen(key);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ' ') {
            if (sscanf(line + n, "%lf", &v) != 1) v = 0;
            break;
        }
    fclose(f);
    return v;
}

/* The memory cgroup's limit less what the group uses (v2, else v1), when a limit is set; the
 * group's inactive page cache counts as free, as the kernel reclaims it before failing (a
 * container that has just read a large data set would otherwise look full). */
static double cgroup_headroom(void) {
    static const struct {
        const char *max, *cur, *stat, *inactive;
    } v[2] = {{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.stat", "inactive_file"},
              {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes",
               "/sys/fs/cgroup/memory/memory.stat", "total_inactive_file"}};
    for (int i = 0; i < 2; i++) {
        double max = read_number(v[i].max);
        if (max < 0) continue;
        if (max <= 0 || max >= 0x1p60) return 0; /* no limit (v1 writes "no limit" as ~2^63) */
        double used = read_number(v[i].cur);
        if (used < 0) used = 0;
        used -= key_value(v[i].stat, v[i].inactive);
        if (used < 0) used = 0;
        return max > used ? max - used : 1;
    }
    return 0;
}

double cli_available_memory_bytes(void) {
    /* MemAvailable counts the page cache the kernel would give back; MemFree does not */
    double avail = key_value("/proc/meminfo", "MemAvailable:") * 1024;
    if (avail <= 0) {
        long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        if (pages > 0 && page > 0) avail = (double)pages * (double)page;
    }
    double cg = cgroup_headroom();
    if (cg > 0 && (avail <= 0 || cg < avail)) avail = cg;
    return avail;
}
