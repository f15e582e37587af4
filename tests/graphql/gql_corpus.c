/*
 * gql_corpus.c: our side of the differential test against graphql-js.
 *
 *   gql_corpus SCHEMA_FILE DATA_FILE CORPUS_DIR
 *
 * Builds the engine over the schema with the resolvers of json_resolvers.c
 * over the data, runs every CORPUS_DIR/NAME.graphql (with NAME.vars.json as
 * variables and NAME.op as the operation name when present) and prints one
 * line per document, in name order, as run.mjs does for graphql-js:
 * {"doc":"NAME","result":RESPONSE}. A response that is not valid JSON is
 * printed as {"invalid_json": TEXT} so that the comparison reports it.
 *
 * Every document runs twice through the same engine, so the second run of
 * a valid document comes from the prepared-document cache; the two answers
 * must be identical (exit 3 otherwise). Exit 1 on a setup error.
 */
#include "execute.h"
#include "json_resolvers.h"

#include <dirent.h>
#include <unistd.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads the whole file at path; returns new (free with free) and *len, or NULL. */
static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf)
        abort();
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap + 1);
        if (!buf)
            abort();
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The document names (file names without ".graphql") of dir, sorted; returns new. */
static char **
list_docs(const char *dir, size_t *n_out)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t n = 0, cap = 64;
    char **names = malloc(cap * sizeof(*names));
    if (!names)
        abort();
    struct dirent *de;
    static const char ext[] = ".graphql";
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len <= sizeof ext - 1 || strcmp(de->d_name + len - (sizeof ext - 1), ext) != 0)
            continue;
        if (n == cap) {
            cap *= 2;
            names = realloc(names, cap * sizeof(*names));
            if (!names)
                abort();
        }
        names[n] = strndup(de->d_name, len - (sizeof ext - 1));
        if (!names[n])
            abort();
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
    *n_out = n;
    return names;
}

/*
 * Runs one document; returns the response text (new; free with free) or
 * NULL when the engine wrote no response.
 */
static char *
run_doc(struct gm_gql_engine *e, const struct gm_jsonres_world *w, const char *src, size_t len,
        const json_t *vars, const char *op)
{
    struct gm_arena a;
    struct gm_jsonres_req req;
    struct gm_gql_response resp = {0};
    struct gm_gql_exec_params params = {
        .operation_name = op,
        .variables = vars,
        .context = &req,
        .root_value = w->data,
    };
    gm_arena_init(&a, 0);
    gm_jsonres_req_init(&req, w);
    int rc = gm_gql_run(e, src, len, &params, &a, &resp);
    char *out = NULL;
    if (resp.json)
        out = strndup(resp.json, resp.len);
    else
        fprintf(stderr, "gql_corpus: no response (%s)\n", gm_strerror(rc));
    gm_jsonres_req_end(&req);
    gm_arena_deinit(&a);
    return out;
}

static void
print_result(const char *name, const char *resp)
{
    json_error_t jerr;
    json_t *parsed = resp ? json_loads(resp, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr) : NULL;
    if (parsed && json_is_object(parsed)) {
        json_t *doc = json_string(name);
        char *quoted = json_dumps(doc, JSON_ENCODE_ANY);
        printf("{\"doc\":%s,\"result\":%s}\n", quoted, resp);
        free(quoted);
        json_decref(doc);
    } else {
        json_t *line = json_pack("{s:s,s:{s:s}}", "doc", name, "result", "invalid_json",
                                 resp ? resp : "(no response)");
        char *text = json_dumps(line, JSON_COMPACT);
        printf("%s\n", text);
        free(text);
        json_decref(line);
    }
    json_decref(parsed);
}

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: gql_corpus SCHEMA_FILE DATA_FILE CORPUS_DIR\n");
        return 2;
    }
    const char *dir = argv[3];
    int status = 1;
    struct gm_err err;
    struct gm_gql_schema *schema = NULL;
    struct gm_gql_engine *engine = NULL;
    struct gm_jsonres_world world = {0};
    char **names = NULL;
    size_t n_names = 0, sdl_len;
    char *sdl = read_file(argv[1], &sdl_len);
    if (!sdl) {
        fprintf(stderr, "gql_corpus: %s: %s\n", argv[1], strerror(errno));
        goto out;
    }
    if (gm_gql_schema_new(sdl, sdl_len, &schema, &err) < 0) {
        fprintf(stderr, "gql_corpus: %s:%d:%d: %s\n", argv[1], err.line, err.column, err.msg);
        goto out;
    }
    if (gm_jsonres_world_load(&world, argv[2], &err) < 0 || gm_jsonres_bind(schema, &err) < 0 ||
        gm_gql_schema_check(schema, &err) < 0) {
        fprintf(stderr, "gql_corpus: %s\n", err.msg);
        goto out;
    }
    engine = gm_gql_engine_new(schema, NULL);
    names = list_docs(dir, &n_names);
    if (!names) {
        fprintf(stderr, "gql_corpus: %s: %s\n", dir, strerror(errno));
        goto out;
    }
    status = 0;
    for (size_t i = 0; i < n_names; i++) {
        char path[4096];
        size_t len, op_len;
        snprintf(path, sizeof path, "%s/%s.graphql", dir, names[i]);
        char *src = read_file(path, &len);
        if (!src) {
            fprintf(stderr, "gql_corpus: %s: %s\n", path, strerror(errno));
            status = 1;
            continue;
        }
        json_t *vars = NULL;
        snprintf(path, sizeof path, "%s/%s.vars.json", dir, names[i]);
        if (access(path, F_OK) == 0) {
            json_error_t jerr;
            vars = json_load_file(path, JSON_DECODE_ANY, &jerr);
            if (!vars) {
                fprintf(stderr, "gql_corpus: %s: %s\n", path, jerr.text);
                status = 1;
            }
        }
        snprintf(path, sizeof path, "%s/%s.op", dir, names[i]);
        char *op = read_file(path, &op_len);
        while (op && op_len > 0 && strchr(" \t\r\n", op[op_len - 1]))
            op[--op_len] = '\0';

        char *first = run_doc(engine, &world, src, len, vars, op);
        char *second = run_doc(engine, &world, src, len, vars, op);
        if ((first == NULL) != (second == NULL) || (first && strcmp(first, second) != 0)) {
            fprintf(stderr,
                    "gql_corpus: %s: the second (cached) run answered differently:\n"
                    "  first:  %s\n  second: %s\n",
                    names[i], first ? first : "(none)", second ? second : "(none)");
            status = 3;
        }
        print_result(names[i], first);
        free(first);
        free(second);
        free(op);
        json_decref(vars);
        free(src);
    }
out:
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    gm_gql_engine_free(engine);
    gm_gql_schema_free(schema);
    if (world.data)
        gm_jsonres_world_deinit(&world);
    free(sdl);
    return status;
}
