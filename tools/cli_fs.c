/* File-system helpers shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int cli_mkdir_p(const char *path) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    if (mkdir(tmp, 0755) == 0) return 0;
    if (errno != EEXIST) return -1;
    struct stat st; /* EEXIST from a regular file of that name is not success */
    if (stat(tmp, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int cli_copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb");
    if (!in) return -1;
    FILE *out = fopen(to, "wb");
    if (!out) {
        int e = errno;
        fclose(in);
        errno = e;
        return -1;
    }
    char buf[1 << 16];
    size_t got;
    int bad = 0;
    while (!bad && (got = fread(buf, 1, sizeof buf, in)) > 0) bad = fwrite(buf, 1, got, out) != got;
    bad |= ferror(in);
    int e = errno;
    fclose(in);
    if (fclose(out) != 0) bad = 1;
    if (bad) errno = e ? e : EIO;
    return bad ? -1 : 0;
}

int cli_run_program(char *const argv[], const char *cwd, const char *output_path, long *maxrss_kb) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (output_path) { /* opened before the chdir: the path is relative to our directory */
            int fd = open(output_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) _exit(126);
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (cwd && chdir(cwd) != 0) _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) return -1;
    if (maxrss_kb) *maxrss_kb = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
