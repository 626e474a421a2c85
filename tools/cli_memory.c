/* How much memory a run may plan for, for the subcommands that refuse a model or batch too
 * large for the machine before building it (a zero-filled allocation past the free memory
 * ends in the OOM killer, not in an error). */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A cgroup v2 limit less what the group already uses, when one is set. */
static double cgroup_headroom(void) {
    double max = 0, cur = 0;
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");
    if (!f) return 0;
    int ok = fscanf(f, "%lf", &max) == 1; /* "max" (no limit) does not scan */
    fclose(f);
    if (!ok || max <= 0) return 0;
    if ((f = fopen("/sys/fs/cgroup/memory.current", "r"))) {
        if (fscanf(f, "%lf", &cur) != 1) cur = 0;
        fclose(f);
    }
    return max > cur ? max - cur : 1;
}

double cli_available_memory_bytes(void) {
    double avail = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) { /* MemAvailable counts the page cache the kernel would give back; MemFree does not */
        char line[256];
        while (fgets(line, sizeof line, f)) {
            double kb;
            if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) {
                avail = kb * 1024;
                break;
            }
        }
        fclose(f);
    }
    if (avail <= 0) {
        long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        if (pages > 0 && page > 0) avail = (double)pages * (double)page;
    }
    double cg = cgroup_headroom();
    if (cg > 0 && (avail <= 0 || cg < avail)) avail = cg;
    return avail;
}
