/*
 * replay_main.c: a main() for the fuzz targets that runs
 * LLVMFuzzerTestOneInput once on every file of the directories (or plain
 * files) given as arguments, in sorted order, so that the committed corpora
 * are replayed by `meson test --suite fuzz` in every build, libFuzzer or
 * not. Each input gets a buffer of exactly its size, so the sanitizers see
 * any read past the end. Exit 0 when every input ran; a broken invariant
 * aborts; an unreadable argument or an empty corpus is exit 1.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reads path whole; returns 0, or -errno. *out is new (free with free()). */
static int
read_whole(const char *path, uint8_t **out, size_t *len)
{
    int rc = 0;
    uint8_t *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        rc = -errno;
        goto out;
    }
    /* An exact-size buffer (malloc(0) may return NULL: ask for at least 1). */
    size_t size = (size_t)st.st_size;
    buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    if (size && fread(buf, 1, size, f) != size) {
        rc = -EIO;
        goto out;
    }
    *out = buf;
    *len = size;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return rc;
}

static int
run_file(const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = read_whole(path, &data, &len);
    if (rc) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(-rc));
        return rc;
    }
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

static int
skip_hidden(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Runs every regular file of dir in name order; adds to *count. */
static int
run_dir(const char *dir, size_t *count)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, skip_hidden, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -errno;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        size_t plen = strlen(dir) + strlen(names[i]->d_name) + 2;
        char *path = malloc(plen);
        if (!path)
            abort();
        snprintf(path, plen, "%s/%s", dir, names[i]->d_name);
        struct stat st;
        if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = run_file(path);
            if (rc == 0)
                (*count)++;
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return rc;
}

int
main(int argc, char **argv)
{
    size_t count = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        int rc = S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) : run_file(argv[i]);
        if (rc == 0 && !S_ISDIR(st.st_mode))
            count++;
        if (rc)
            return 1;
    }
    printf("replay: %zu inputs ran\n", count);
    if (count == 0) {
        fprintf(stderr, "replay: no inputs: an empty corpus tests nothing\n");
        return 1;
    }
    return 0;
}
