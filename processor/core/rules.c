/*
 * rules.c: the rules file (YAML) parsed and validated into struct gm_rules.
 *
 * Two steps. First libyaml's event API builds a small tree of our own, which
 * is where the hostile-input bounds live: size, nesting depth, entries per
 * collection, total nodes, and no anchors, aliases or tags (so there is no
 * billion-laughs expansion to fear and no type magic). Then the tree is
 * checked against the schema of docs/rules.md, key by key, collecting every
 * error with its 1-based line and column rather than stopping at the first,
 * so `gamify rules check` shows them all at once.
 */
#include "rules.h"
#include "tz.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH    32     /* YAML nesting; the schema needs 5 */
#define MAX_NODES    200000 /* YAML nodes in one file */
#define MAX_ID_LEN   128    /* badge and reward ids */
#define MAX_TEXT_LEN 4096   /* names, icons, time zones */

/* ---- the YAML tree ---- */

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
    enum ykind kind;
    int line, col; /* 1-based start */
    int end_line;
    size_t start_index, end_index; /* libyaml character indexes */
    yaml_scalar_style_t style;
    int reported; /* stands in for something already reported (an alias) */
    char *str;    /* scalars: the value, NUL-terminated; may hold NULs */
    size_t len;
    struct ynode **kids; /* Y_SEQ: entries; Y_MAP: key, value, key, value ... */
    size_t n, cap;
};

struct ctx {
    const char *src;
    size_t len;
    struct gm_err *errs;
    size_t n_errs, cap_errs;
    int too_many;
    size_t n_nodes;
};

static void add_err(struct ctx *c, int line, int col, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
add_err(struct ctx *c, int line, int col, const char *where, const char *fmt, ...)
{
    if (c->too_many)
        return;
    if (c->n_errs == c->cap_errs) {
        c->cap_errs = c->cap_errs ? 2 * c->cap_errs : 8;
        c->errs = realloc(c->errs, c->cap_errs * sizeof *c->errs);
        if (!c->errs)
            abort();
    }
    struct gm_err *e = &c->errs[c->n_errs++];
    gm_err_clear(e);
    if (c->n_errs > GM_RULES_MAX_ERRORS) {
        c->too_many = 1;
        gm_err_setpos(e, GM_EINVAL, line, col, "too many errors (more than %d); stopping",
                      GM_RULES_MAX_ERRORS);
        return;
    }
    char msg[GM_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (where && where[0])
        gm_err_setpos(e, GM_EINVAL, line, col, "%s: %s", where, msg);
    else
        gm_err_setpos(e, GM_EINVAL, line, col, "%s", msg);
    gm_err_where(e, where ? where : "");
}

static void node_err(struct ctx *c, const struct ynode *n, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
node_err(struct ctx *c, const struct ynode *n, const char *where, const char *fmt, ...)
{
    char msg[GM_ERR_MSG_MAX];
    va_list ap;
    if (n && n->reported)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    add_err(c, n ? n->line : 1, n ? n->col : 1, where, "%s", msg);
}

static void
ynode_free(struct ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        ynode_free(n->kids[i]);
    free(n->kids);
    free(n->str);
    free(n);
}

static struct ynode *
ynode_new(enum ykind kind, const yaml_event_t *ev)
{
    struct ynode *n = calloc(1, sizeof *n);
    if (!n)
        abort();
    n->kind = kind;
    n->line = (int)ev->start_mark.line + 1;
    n->col = (int)ev->start_mark.column + 1;
    n->start_index = ev->start_mark.index;
    return n;
}

static void
ynode_add(struct ynode *parent, struct ynode *kid)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? 2 * parent->cap : 4;
        parent->kids = realloc(parent->kids, parent->cap * sizeof *parent->kids);
        if (!parent->kids)
            abort();
    }
    parent->kids[parent->n++] = kid;
}

/* Line and column (1-based) of a byte offset in the source. */
static void
offset_pos(const struct ctx *c, size_t off, int *line, int *col)
{
    int l = 1;
    size_t bol = 0;
    if (off > c->len)
        off = c->len;
    for (size_t i = 0; i < off; i++) {
        if (c->src[i] == '\n') {
            l++;
            bol = i + 1;
        }
    }
    *line = l;
    *col = (int)(off - bol) + 1;
}

static void
syntax_err(struct ctx *c, const yaml_parser_t *ps)
{
    int line, col;
    if (ps->error == YAML_READER_ERROR) {
        offset_pos(c, ps->problem_offset, &line, &col);
        if (ps->problem_value != -1)
            add_err(c, line, col, "", "not a valid YAML text: %s (byte 0x%02x)",
                    ps->problem ? ps->problem : "unreadable input", (unsigned)ps->problem_value);
        else
            add_err(c, line, col, "", "not a valid YAML text: %s",
                    ps->problem ? ps->problem : "unreadable input");
        return;
    }
    if (ps->error == YAML_MEMORY_ERROR)
        abort();
    line = (int)ps->problem_mark.line + 1;
    col = (int)ps->problem_mark.column + 1;
    if (ps->context)
        add_err(c, line, col, "", "YAML syntax error: %s %s (line %d)",
                ps->problem ? ps->problem : "error", ps->context, (int)ps->context_mark.line + 1);
    else
        add_err(c, line, col, "", "YAML syntax error: %s", ps->problem ? ps->problem : "error");
}

/*
 * Builds the tree of the single document in the source. Returns the root
 * (NULL for an empty stream) and sets *fatal when the tree is incomplete
 * (syntax errors, bounds), in which case schema checks are skipped.
 */
static struct ynode *
build_tree(struct ctx *c, int *fatal)
{
    yaml_parser_t ps;
    yaml_event_t ev;
    struct ynode *root = NULL;
    struct ynode *stack[MAX_DEPTH + 1];
    int depth = 0;
    int docs = 0;
    int done = 0;

    *fatal = 0;
    if (!yaml_parser_initialize(&ps))
        abort();
    yaml_parser_set_input_string(&ps, (const unsigned char *)c->src, c->len);
    while (!done) {
        if (!yaml_parser_parse(&ps, &ev)) {
            syntax_err(c, &ps);
            *fatal = 1;
            break;
        }
        struct ynode *n = NULL;
        const char *anchor = NULL, *tag = NULL;
        int implicit_tag = 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                add_err(c, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1, "",
                        "only one YAML document is allowed in a rules file");
                *fatal = 1;
                done = 1;
            }
            break;
        case YAML_ALIAS_EVENT:
            add_err(c, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1, "",
                    "YAML aliases (*%s) are not allowed in a rules file",
                    (const char *)ev.data.alias.anchor);
            /* A null stands in, so that the tree keeps its shape. */
            n = ynode_new(Y_SCALAR, &ev);
            n->style = YAML_PLAIN_SCALAR_STYLE;
            n->reported = 1;
            n->str = calloc(1, 1);
            if (!n->str)
                abort();
            break;
        case YAML_SCALAR_EVENT:
            anchor = (const char *)ev.data.scalar.anchor;
            tag = (const char *)ev.data.scalar.tag;
            implicit_tag = ev.data.scalar.plain_implicit || ev.data.scalar.quoted_implicit;
            n = ynode_new(Y_SCALAR, &ev);
            n->style = ev.data.scalar.style;
            n->len = ev.data.scalar.length;
            n->str = malloc(n->len + 1);
            if (!n->str)
                abort();
            memcpy(n->str, ev.data.scalar.value, n->len);
            n->str[n->len] = '\0';
            break;
        case YAML_SEQUENCE_START_EVENT:
            anchor = (const char *)ev.data.sequence_start.anchor;
            tag = (const char *)ev.data.sequence_start.tag;
            implicit_tag = ev.data.sequence_start.implicit;
            n = ynode_new(Y_SEQ, &ev);
            break;
        case YAML_MAPPING_START_EVENT:
            anchor = (const char *)ev.data.mapping_start.anchor;
            tag = (const char *)ev.data.mapping_start.tag;
            implicit_tag = ev.data.mapping_start.implicit;
            n = ynode_new(Y_MAP, &ev);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth > 0) {
                stack[depth - 1]->end_line = (int)ev.end_mark.line + 1;
                stack[depth - 1]->end_index = ev.end_mark.index;
                depth--;
            }
            break;
        default:
            break;
        }
        if (n) {
            n->end_line = (int)ev.end_mark.line + 1;
            n->end_index = ev.end_mark.index;
            if (anchor)
                add_err(c, n->line, n->col, "",
                        "YAML anchors (&%s) are not allowed in a rules file", anchor);
            if (tag && !implicit_tag)
                add_err(c, n->line, n->col, "", "YAML tags (%s) are not allowed in a rules file",
                        tag);
            if (++c->n_nodes > MAX_NODES) {
                add_err(c, n->line, n->col, "", "more than %d YAML nodes", MAX_NODES);
                ynode_free(n);
                *fatal = 1;
                done = 1;
            } else if (depth == 0) {
                if (root) {
                    /* cannot happen within one document; keep the first */
                    ynode_free(n);
                    n = NULL;
                } else {
                    root = n;
                }
            } else {
                struct ynode *parent = stack[depth - 1];
                size_t limit = parent->kind == Y_MAP ? 2 * (size_t)GM_RULES_MAX_LEVELS
                                                     : (size_t)GM_RULES_MAX_LEVELS;
                if (parent->n >= limit) {
                    add_err(c, n->line, n->col, "", "more than %d entries in one collection",
                            GM_RULES_MAX_LEVELS);
                    ynode_free(n);
                    *fatal = 1;
                    done = 1;
                } else {
                    ynode_add(parent, n);
                }
            }
            if (!done && n && n->kind != Y_SCALAR) {
                if (depth == MAX_DEPTH) {
                    add_err(c, n->line, n->col, "", "YAML nesting deeper than %d", MAX_DEPTH);
                    *fatal = 1;
                    done = 1;
                } else {
                    stack[depth++] = n;
                }
            }
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&ps);
    return root;
}

/* ---- scalar helpers ---- */

static int
is_null(const struct ynode *n)
{
    if (!n || n->kind != Y_SCALAR || n->style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

/* A short description of a node for "expected X, got Y" messages. */
static const char *
describe(const struct ynode *n, char *buf, size_t cap)
{
    if (n->kind == Y_SEQ)
        return "a list";
    if (n->kind == Y_MAP)
        return "a mapping";
    if (is_null(n))
        return "nothing (null)";
    if (n->style != YAML_PLAIN_SCALAR_STYLE && n->style != YAML_ANY_SCALAR_STYLE)
        snprintf(buf, cap, "the quoted string '%.40s%s'", n->str, n->len > 40 ? "..." : "");
    else
        snprintf(buf, cap, "'%.40s%s'", n->str, n->len > 40 ? "..." : "");
    return buf;
}

/* Parses a plain decimal integer scalar; 0, or -1 (not an integer), or 1 (overflow). */
static int
scalar_int(const struct ynode *n, int64_t *out)
{
    if (n->kind != Y_SCALAR || n->style != YAML_PLAIN_SCALAR_STYLE || n->len == 0)
        return -1;
    const char *s = n->str;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n->len)
        return -1;
    int64_t v = 0;
    int over = 0;
    for (; i < n->len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        int64_t d = s[i] - '0';
        if (!over && (__builtin_mul_overflow(v, 10, &v) ||
                      (neg ? __builtin_sub_overflow(v, d, &v) : __builtin_add_overflow(v, d, &v))))
            over = 1;
    }
    if (over)
        return 1;
    *out = v;
    return 0;
}

/* ---- the schema walk ---- */

struct walk {
    struct ctx *c;
    struct gm_rules *r;
};

/* The value of key in map, or NULL; the first one when repeated. */
static const struct ynode *
map_get(const struct ynode *map, const char *key)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct ynode *k = map->kids[i];
        if (k->kind == Y_SCALAR && strlen(k->str) == k->len && strcmp(k->str, key) == 0)
            return map->kids[i + 1];
    }
    return NULL;
}

/* Reports a missing required key: at the key when it is there with no value. */
static void
missing(struct ctx *c, const struct ynode *map, const char *path, const char *key)
{
    const struct ynode *at = map;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct ynode *k = map->kids[i];
        if (k->kind == Y_SCALAR && strlen(k->str) == k->len && strcmp(k->str, key) == 0) {
            at = map->kids[i + 1]->reported ? map->kids[i + 1] : k;
            break;
        }
    }
    node_err(c, at, path, "missing key '%s'", key);
}

/*
 * Checks a mapping's keys: each a plain string, listed in allowed (a
 * NULL-terminated list), not repeated. Reports every offender.
 */
static void
check_keys(struct ctx *c, const struct ynode *map, const char *path, const char *const *allowed)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct ynode *k = map->kids[i];
        char d[80];
        if (k->kind != Y_SCALAR || strlen(k->str) != k->len) {
            node_err(c, k, path, "keys must be strings, got %s", describe(k, d, sizeof d));
            continue;
        }
        int known = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k->str) == 0)
                known = 1;
        if (!known) {
            char list[400];
            size_t off = 0;
            list[0] = '\0';
            for (const char *const *a = allowed; *a && off < sizeof list; a++) {
                int w = snprintf(list + off, sizeof list - off, "%s%s", off ? ", " : "", *a);
                if (w < 0)
                    break;
                off += (size_t)w;
            }
            node_err(c, k, path, "unknown key '%.64s'; expected one of: %s", k->str, list);
            continue;
        }
        for (size_t j = 0; j < i; j += 2) {
            const struct ynode *p = map->kids[j];
            if (p->kind == Y_SCALAR && p->len == k->len && strcmp(p->str, k->str) == 0) {
                node_err(c, k, path, "key '%s' repeated (first at line %d)", k->str, p->line);
                break;
            }
        }
    }
}

static void
join(char *buf, size_t cap, const char *path, const char *key)
{
    if (path && path[0])
        snprintf(buf, cap, "%s.%s", path, key);
    else
        snprintf(buf, cap, "%s", key);
}

/*
 * Looks up key in map and checks it is a mapping. Returns it, or NULL when
 * absent or null (reported when required) or of the wrong type (reported).
 */
static const struct ynode *
get_map(struct ctx *c, const struct ynode *map, const char *path, const char *key, int required)
{
    char where[256];
    join(where, sizeof where, path, key);
    const struct ynode *v = map_get(map, key);
    if (!v || is_null(v)) {
        if (required)
            missing(c, map, path, key);
        return NULL;
    }
    if (v->kind != Y_MAP) {
        char d[80];
        node_err(c, v, where, "expected a mapping, got %s", describe(v, d, sizeof d));
        return NULL;
    }
    return v;
}

static const struct ynode *
get_seq(struct ctx *c, const struct ynode *map, const char *path, const char *key, int required,
        size_t max)
{
    char where[256];
    join(where, sizeof where, path, key);
    const struct ynode *v = map_get(map, key);
    if (!v || is_null(v)) {
        if (required)
            missing(c, map, path, key);
        return NULL;
    }
    if (v->kind != Y_SEQ) {
        char d[80];
        node_err(c, v, where, "expected a list, got %s", describe(v, d, sizeof d));
        return NULL;
    }
    if (v->n > max) {
        node_err(c, v, where, "more than %zu entries", max);
        return NULL;
    }
    return v;
}

/* Checks an integer node against [min, max]; 0 and *out set, or -1 (reported). */
static int
node_int(struct ctx *c, const struct ynode *v, const char *where, int64_t min, int64_t max,
         int64_t *out)
{
    char d[80];
    int64_t x = 0;
    int rc = scalar_int(v, &x);
    if (rc < 0) {
        node_err(c, v, where, "expected an integer, got %s", describe(v, d, sizeof d));
        return -1;
    }
    if (rc > 0 || x < min || x > max) {
        if (min == 0 && x < 0 && rc == 0)
            node_err(c, v, where, "must not be negative, got %" PRId64, x);
        else
            node_err(c, v, where, "must be between %" PRId64 " and %" PRId64 ", got %.40s", min,
                     max, v->str);
        return -1;
    }
    *out = x;
    return 0;
}

/* An optional (unless required) integer key; *out keeps its default when absent. */
static int
get_int(struct ctx *c, const struct ynode *map, const char *path, const char *key, int required,
        int64_t min, int64_t max, int64_t *out)
{
    char where[256];
    join(where, sizeof where, path, key);
    const struct ynode *v = map_get(map, key);
    if (!v || is_null(v)) {
        if (required) {
            missing(c, map, path, key);
            return -1;
        }
        return 0;
    }
    return node_int(c, v, where, min, max, out);
}

static int
get_bool(struct ctx *c, const struct ynode *map, const char *path, const char *key, bool *out)
{
    char where[256];
    join(where, sizeof where, path, key);
    const struct ynode *v = map_get(map, key);
    if (!v || is_null(v))
        return 0;
    if (v->kind == Y_SCALAR && v->style == YAML_PLAIN_SCALAR_STYLE) {
        if (!strcmp(v->str, "true") || !strcmp(v->str, "True") || !strcmp(v->str, "TRUE")) {
            *out = true;
            return 0;
        }
        if (!strcmp(v->str, "false") || !strcmp(v->str, "False") || !strcmp(v->str, "FALSE")) {
            *out = false;
            return 0;
        }
    }
    char d[80];
    node_err(c, v, where, "expected true or false, got %s", describe(v, d, sizeof d));
    return -1;
}

/* A string key; returns the node (value in ->str) or NULL (absent or reported). */
static const struct ynode *
get_str(struct ctx *c, const struct ynode *map, const char *path, const char *key, int required)
{
    char where[256];
    join(where, sizeof where, path, key);
    const struct ynode *v = map_get(map, key);
    if (!v || is_null(v)) {
        if (required)
            missing(c, map, path, key);
        return NULL;
    }
    char d[80];
    if (v->kind != Y_SCALAR) {
        node_err(c, v, where, "expected a string, got %s", describe(v, d, sizeof d));
        return NULL;
    }
    if (strlen(v->str) != v->len) {
        node_err(c, v, where, "must not contain NUL characters");
        return NULL;
    }
    if (v->len > MAX_TEXT_LEN && strcmp(key, "criteria") != 0 && strcmp(key, "when") != 0) {
        node_err(c, v, where, "longer than %d bytes", MAX_TEXT_LEN);
        return NULL;
    }
    return v;
}

static char *
xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static int
valid_id(const char *s, size_t len)
{
    if (len < 1 || len > MAX_ID_LEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == ':' || ch == '-'))
            return 0;
    }
    return 1;
}

/*
 * Compiles an expression node. The error column is mapped into the file: for
 * single-line plain and quoted scalars without escapes it is exact; otherwise
 * the scalar's start is reported and the message gives the expression column.
 */
static struct gm_expr *
compile_expr(struct ctx *c, const struct ynode *v, const char *where, unsigned mask)
{
    struct gm_expr *e = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    if (gm_expr_compile(v->str, mask, &e, &err) == 0)
        return e;
    int quoted =
        v->style == YAML_SINGLE_QUOTED_SCALAR_STYLE || v->style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    int plain = v->style == YAML_PLAIN_SCALAR_STYLE;
    int ascii = 1;
    for (size_t i = 0; i < v->len; i++)
        if ((unsigned char)v->str[i] >= 0x80)
            ascii = 0;
    size_t raw = v->end_index - v->start_index;
    int exact =
        ascii && v->end_line == v->line && (plain || quoted) && raw == v->len + (quoted ? 2 : 0);
    if (exact)
        add_err(c, v->line, v->col + (quoted ? 1 : 0) + err.column - 1, where, "%s", err.msg);
    else
        add_err(c, v->line, v->col, where, "%s", err.msg);
    return NULL;
}

static const char *const grant_keys[] = {"exp", "coins", NULL};
static const char *const bonus_keys[] = {"when", "exp", "exp_percent", "coins", NULL};

static void
parse_grant(struct walk *w, const struct ynode *parent, const char *path, const char *key,
            struct gm_grant *out)
{
    char where[256];
    join(where, sizeof where, path, key);
    const struct ynode *m = get_map(w->c, parent, path, key, 1);
    if (!m)
        return;
    check_keys(w->c, m, where, grant_keys);
    get_int(w->c, m, where, "exp", 0, 0, GM_RULES_MAX_AMOUNT, &out->exp);
    get_int(w->c, m, where, "coins", 0, 0, GM_RULES_MAX_AMOUNT, &out->coins);
}

static void
parse_bonuses(struct walk *w, const struct ynode *parent, const char *path, unsigned mask,
              struct gm_bonus **out, size_t *n_out)
{
    char where[256];
    join(where, sizeof where, path, "bonuses");
    const struct ynode *seq = get_seq(w->c, parent, path, "bonuses", 0, GM_RULES_MAX_ITEMS);
    if (!seq || seq->n == 0)
        return;
    *out = calloc(seq->n, sizeof **out);
    if (!*out)
        abort();
    for (size_t i = 0; i < seq->n; i++) {
        const struct ynode *b = seq->kids[i];
        char bw[300];
        snprintf(bw, sizeof bw, "%s[%zu]", where, i);
        if (b->kind != Y_MAP) {
            char d[80];
            node_err(w->c, b, bw, "expected a mapping with when, exp, exp_percent, coins, got %s",
                     describe(b, d, sizeof d));
            continue;
        }
        check_keys(w->c, b, bw, bonus_keys);
        struct gm_bonus *bo = &(*out)[(*n_out)++];
        const struct ynode *when = get_str(w->c, b, bw, "when", 1);
        if (when) {
            char ww[320];
            join(ww, sizeof ww, bw, "when");
            bo->when = compile_expr(w->c, when, ww, mask);
        }
        get_int(w->c, b, bw, "exp", 0, 0, GM_RULES_MAX_AMOUNT, &bo->exp);
        get_int(w->c, b, bw, "exp_percent", 0, 0, GM_RULES_MAX_PERCENT, &bo->exp_percent);
        get_int(w->c, b, bw, "coins", 0, 0, GM_RULES_MAX_AMOUNT, &bo->coins);
    }
}

static const char *const levels_keys[] = {"thresholds", "formula", "level_up_coins", NULL};
static const char *const formula_keys[] = {"base", "growth_percent", "max_level", NULL};

static void
parse_formula(struct walk *w, const struct ynode *f)
{
    const char *path = "levels.formula";
    int64_t base = 0, growth = 0, max_level = 0;
    check_keys(w->c, f, path, formula_keys);
    int bad = 0;
    bad |= get_int(w->c, f, path, "base", 1, 1, GM_RULES_MAX_AMOUNT, &base);
    /* below 100 the steps shrink, down to 0: the levels past that share
     * one threshold and are reached together (the fold and
     * gm_rules_level_for take equal thresholds) */
    bad |= get_int(w->c, f, path, "growth_percent", 1, 0, GM_RULES_MAX_AMOUNT, &growth);
    bad |= get_int(w->c, f, path, "max_level", 1, 2, GM_RULES_MAX_LEVELS, &max_level);
    if (bad)
        return;
    int64_t *t = calloc((size_t)max_level, sizeof *t);
    if (!t)
        abort();
    t[0] = 0;
    t[1] = base;
    /*
     * Levels whose threshold would pass GM_RULES_MAX_EXP are left out: no
     * learner can reach them, and the fold's arithmetic stays far from the
     * int64 edge. So the cap is max_level or the last level at most that
     * EXP, whichever is lower; the example's growth 150 over 100 levels is
     * accepted and capped at level 73.
     */
    int64_t n = max_level;
    for (int64_t i = 2; i < max_level; i++) {
        int64_t step, next;
        if (__builtin_mul_overflow(t[i - 1] - t[i - 2], growth, &step) ||
            __builtin_add_overflow(t[i - 1], step / 100, &next) || next > GM_RULES_MAX_EXP) {
            n = i;
            break;
        }
        t[i] = next;
    }
    w->r->thresholds = t;
    w->r->n_levels = (size_t)n;
}

static void
parse_levels(struct walk *w, const struct ynode *top)
{
    const struct ynode *lv = get_map(w->c, top, "", "levels", 1);
    if (!lv)
        return;
    check_keys(w->c, lv, "levels", levels_keys);
    get_int(w->c, lv, "levels", "level_up_coins", 0, 0, GM_RULES_MAX_AMOUNT, &w->r->level_up_coins);
    const struct ynode *th = map_get(lv, "thresholds");
    const struct ynode *fo = map_get(lv, "formula");
    if (th && is_null(th))
        th = NULL;
    if (fo && is_null(fo))
        fo = NULL;
    if (th && fo) {
        node_err(w->c, fo, "levels",
                 "give either 'thresholds' or 'formula', not both (thresholds at line %d)",
                 th->line);
        return;
    }
    if (!th && !fo) {
        node_err(w->c, lv, "levels", "missing key 'thresholds' or 'formula'");
        return;
    }
    if (fo) {
        if (fo->kind != Y_MAP) {
            char d[80];
            node_err(w->c, fo, "levels.formula",
                     "expected a mapping { base, growth_percent, max_level }, got %s",
                     describe(fo, d, sizeof d));
            return;
        }
        parse_formula(w, fo);
        return;
    }
    th = get_seq(w->c, lv, "levels", "thresholds", 1, GM_RULES_MAX_LEVELS);
    if (!th)
        return;
    if (th->n == 0) {
        node_err(w->c, th, "levels.thresholds", "must list at least the first level (0)");
        return;
    }
    int64_t *t = calloc(th->n, sizeof *t);
    if (!t)
        abort();
    int bad = 0;
    for (size_t i = 0; i < th->n; i++) {
        char where[64];
        snprintf(where, sizeof where, "levels.thresholds[%zu]", i);
        if (node_int(w->c, th->kids[i], where, 0, GM_RULES_MAX_EXP, &t[i])) {
            bad = 1;
            continue;
        }
        if (i == 0 && t[0] != 0) {
            node_err(w->c, th->kids[i], where,
                     "the first threshold (level 1) must be 0, got %" PRId64, t[0]);
            bad = 1;
        } else if (i > 0 && !bad && t[i] <= t[i - 1]) {
            node_err(w->c, th->kids[i], where,
                     "thresholds must be strictly increasing: %" PRId64 " after %" PRId64, t[i],
                     t[i - 1]);
            bad = 1;
        }
    }
    if (bad) {
        free(t);
        return;
    }
    w->r->thresholds = t;
    w->r->n_levels = th->n;
}

static const char *const activities_keys[] = {"lesson_completed", "tournament_result", NULL};
static const char *const lesson_keys[] = {"exp", "coins", "bonuses", NULL};
static const char *const tournament_keys[] = {"win", "draw", "loss", "bonuses", NULL};

static void
parse_activities(struct walk *w, const struct ynode *top)
{
    const struct ynode *a = get_map(w->c, top, "", "activities", 1);
    if (!a)
        return;
    check_keys(w->c, a, "activities", activities_keys);
    const char *lp = "activities.lesson_completed";
    const struct ynode *l = get_map(w->c, a, "activities", "lesson_completed", 1);
    if (l) {
        check_keys(w->c, l, lp, lesson_keys);
        get_int(w->c, l, lp, "exp", 0, 0, GM_RULES_MAX_AMOUNT, &w->r->lesson.base.exp);
        get_int(w->c, l, lp, "coins", 0, 0, GM_RULES_MAX_AMOUNT, &w->r->lesson.base.coins);
        parse_bonuses(w, l, lp, GM_VARS_LESSON, &w->r->lesson.bonuses, &w->r->lesson.n_bonuses);
    }
    const char *tp = "activities.tournament_result";
    const struct ynode *t = get_map(w->c, a, "activities", "tournament_result", 1);
    if (t) {
        check_keys(w->c, t, tp, tournament_keys);
        parse_grant(w, t, tp, "win", &w->r->tournament_win);
        parse_grant(w, t, tp, "draw", &w->r->tournament_draw);
        parse_grant(w, t, tp, "loss", &w->r->tournament_loss);
        parse_bonuses(w, t, tp, GM_VARS_TOURNAMENT, &w->r->tournament_bonuses,
                      &w->r->n_tournament_bonuses);
    }
}

static const char *const caps_keys[] = {"exp_per_day", NULL};
static const char *const streaks_keys[] = {"qualifying", "milestones", NULL};
static const char *const milestone_keys[] = {"days", "coins", NULL};
static const char *const boards_keys[] = {"periods", "keep_weeks", "keep_months", NULL};

/*
 * Reads a list of names drawn from names[] (NULL-terminated) into flags[];
 * reports unknown and repeated entries.
 */
static void
parse_name_set(struct walk *w, const struct ynode *seq, const char *where, const char *const *names,
               bool *flags)
{
    for (size_t i = 0; i < seq->n; i++) {
        const struct ynode *v = seq->kids[i];
        char d[80];
        int found = -1;
        if (v->kind == Y_SCALAR)
            for (int k = 0; names[k]; k++)
                if (strlen(v->str) == v->len && strcmp(v->str, names[k]) == 0)
                    found = k;
        if (found < 0) {
            char list[200] = "";
            size_t off = 0;
            for (int k = 0; names[k]; k++) {
                int n = snprintf(list + off, sizeof list - off, "%s%s", k ? ", " : "", names[k]);
                if (n > 0 && (size_t)n < sizeof list - off)
                    off += (size_t)n;
            }
            node_err(w->c, v, where, "unknown entry %s; expected one of: %s",
                     describe(v, d, sizeof d), list);
            continue;
        }
        if (flags[found])
            node_err(w->c, v, where, "'%s' listed twice", names[found]);
        flags[found] = true;
    }
}

static void
parse_streaks(struct walk *w, const struct ynode *top)
{
    const struct ynode *s = get_map(w->c, top, "", "streaks", 0);
    if (!s)
        return;
    check_keys(w->c, s, "streaks", streaks_keys);
    const struct ynode *q = get_seq(w->c, s, "streaks", "qualifying", 0, 16);
    if (q) {
        static const char *const names[] = {"lesson_completed", "tournament_result", NULL};
        bool flags[2] = {false, false};
        parse_name_set(w, q, "streaks.qualifying", names, flags);
        w->r->streak_lessons = flags[0];
        w->r->streak_tournaments = flags[1];
    }
    const struct ynode *m = get_seq(w->c, s, "streaks", "milestones", 0, GM_RULES_MAX_ITEMS);
    if (!m || m->n == 0)
        return;
    w->r->milestones = calloc(m->n, sizeof *w->r->milestones);
    if (!w->r->milestones)
        abort();
    for (size_t i = 0; i < m->n; i++) {
        const struct ynode *e = m->kids[i];
        char mw[64];
        snprintf(mw, sizeof mw, "streaks.milestones[%zu]", i);
        if (e->kind != Y_MAP) {
            char d[80];
            node_err(w->c, e, mw, "expected a mapping { days, coins }, got %s",
                     describe(e, d, sizeof d));
            continue;
        }
        check_keys(w->c, e, mw, milestone_keys);
        struct gm_milestone ms = {0, 0};
        if (get_int(w->c, e, mw, "days", 1, 1, GM_RULES_MAX_AMOUNT, &ms.days))
            continue;
        get_int(w->c, e, mw, "coins", 0, 0, GM_RULES_MAX_AMOUNT, &ms.coins);
        for (size_t j = 0; j < w->r->n_milestones; j++) {
            if (w->r->milestones[j].days == ms.days) {
                node_err(w->c, map_get(e, "days"), mw,
                         "a milestone for %" PRId64 " days is listed twice", ms.days);
                break;
            }
        }
        w->r->milestones[w->r->n_milestones++] = ms;
    }
}

static void
parse_leaderboards(struct walk *w, const struct ynode *top)
{
    const struct ynode *b = get_map(w->c, top, "", "leaderboards", 0);
    if (!b)
        return;
    check_keys(w->c, b, "leaderboards", boards_keys);
    const struct ynode *p = get_seq(w->c, b, "leaderboards", "periods", 0, 16);
    if (p) {
        static const char *const names[] = {"all_time", "weekly", "monthly", NULL};
        bool flags[3] = {false, false, false};
        parse_name_set(w, p, "leaderboards.periods", names, flags);
        w->r->period_all_time = flags[0];
        w->r->period_weekly = flags[1];
        w->r->period_monthly = flags[2];
    }
    get_int(w->c, b, "leaderboards", "keep_weeks", 0, 0, 100000, &w->r->keep_weeks);
    get_int(w->c, b, "leaderboards", "keep_months", 0, 0, 100000, &w->r->keep_months);
}

static const char *const badge_keys[] = {"id", "name", "icon", "criteria", NULL};
static const char *const reward_keys[] = {"id",    "name",           "cost",   "type",
                                          "stock", "per_user_limit", "active", NULL};

/* Reads the id key of an entry; returns a new copy or NULL (reported). */
static char *
parse_id(struct walk *w, const struct ynode *e, const char *path)
{
    const struct ynode *v = get_str(w->c, e, path, "id", 1);
    if (!v)
        return NULL;
    if (!valid_id(v->str, v->len)) {
        char where[300];
        join(where, sizeof where, path, "id");
        node_err(w->c, v, where,
                 "'%.64s' is not a valid id: 1 to %d characters of A-Z a-z 0-9 . _ : -", v->str,
                 MAX_ID_LEN);
        return NULL;
    }
    return xstrdup(v->str);
}

static void
parse_badges(struct walk *w, const struct ynode *top)
{
    const struct ynode *seq = get_seq(w->c, top, "", "badges", 0, GM_RULES_MAX_ITEMS);
    if (!seq || seq->n == 0)
        return;
    struct gm_rules *r = w->r;
    r->badges = calloc(seq->n, sizeof *r->badges);
    if (!r->badges)
        abort();
    for (size_t i = 0; i < seq->n; i++) {
        const struct ynode *e = seq->kids[i];
        char bw[64];
        snprintf(bw, sizeof bw, "badges[%zu]", i);
        if (e->kind != Y_MAP) {
            char d[80];
            node_err(w->c, e, bw, "expected a mapping with id, name, icon, criteria, got %s",
                     describe(e, d, sizeof d));
            continue;
        }
        check_keys(w->c, e, bw, badge_keys);
        struct gm_badge_def *b = &r->badges[r->n_badges++];
        b->id = parse_id(w, e, bw);
        if (b->id) {
            for (size_t j = 0; j + 1 < r->n_badges; j++) {
                if (r->badges[j].id && strcmp(r->badges[j].id, b->id) == 0) {
                    node_err(w->c, map_get(e, "id"), bw,
                             "badge id '%s' is already used by badges[%zu]", b->id, j);
                    break;
                }
            }
        }
        const struct ynode *v = get_str(w->c, e, bw, "name", 1);
        b->name = xstrdup(v ? v->str : "");
        v = get_str(w->c, e, bw, "icon", 0);
        b->icon = xstrdup(v ? v->str : "");
        v = get_str(w->c, e, bw, "criteria", 1);
        if (v) {
            char cw[96];
            join(cw, sizeof cw, bw, "criteria");
            b->criteria = compile_expr(w->c, v, cw, GM_VARS_COUNTERS);
        }
    }
}

static const char *const reward_type_names[] = {
    [GM_REWARD_STREAK_FREEZE] = "streak_freeze",
    [GM_REWARD_COSMETIC] = "cosmetic",
    [GM_REWARD_PHYSICAL] = "physical",
    [GM_REWARD_DIGITAL] = "digital",
};

#define N_REWARD_TYPES (sizeof reward_type_names / sizeof reward_type_names[0])

const char *
gm_reward_type_name(enum gm_reward_type t)
{
    if ((size_t)t >= N_REWARD_TYPES)
        return "?";
    return reward_type_names[t];
}

int
gm_reward_type_from_name(const char *name, enum gm_reward_type *out)
{
    for (size_t i = 0; i < N_REWARD_TYPES; i++) {
        if (strcmp(reward_type_names[i], name) == 0) {
            *out = (enum gm_reward_type)i;
            return 0;
        }
    }
    return GM_ENOTFOUND;
}

static void
parse_rewards(struct walk *w, const struct ynode *top)
{
    const struct ynode *seq = get_seq(w->c, top, "", "rewards", 0, GM_RULES_MAX_ITEMS);
    if (!seq || seq->n == 0)
        return;
    struct gm_rules *r = w->r;
    r->rewards = calloc(seq->n, sizeof *r->rewards);
    if (!r->rewards)
        abort();
    for (size_t i = 0; i < seq->n; i++) {
        const struct ynode *e = seq->kids[i];
        char rw[64];
        snprintf(rw, sizeof rw, "rewards[%zu]", i);
        if (e->kind != Y_MAP) {
            char d[80];
            node_err(w->c, e, rw, "expected a mapping with id, name, cost, type, got %s",
                     describe(e, d, sizeof d));
            continue;
        }
        check_keys(w->c, e, rw, reward_keys);
        struct gm_reward_def *rd = &r->rewards[r->n_rewards++];
        rd->stock = -1;
        rd->per_user_limit = -1;
        rd->active = true;
        rd->id = parse_id(w, e, rw);
        if (rd->id) {
            for (size_t j = 0; j + 1 < r->n_rewards; j++) {
                if (r->rewards[j].id && strcmp(r->rewards[j].id, rd->id) == 0) {
                    node_err(w->c, map_get(e, "id"), rw,
                             "reward id '%s' is already used by rewards[%zu]", rd->id, j);
                    break;
                }
            }
        }
        const struct ynode *v = get_str(w->c, e, rw, "name", 1);
        rd->name = xstrdup(v ? v->str : "");
        get_int(w->c, e, rw, "cost", 1, 0, GM_RULES_MAX_AMOUNT, &rd->cost);
        v = get_str(w->c, e, rw, "type", 1);
        if (v && gm_reward_type_from_name(v->str, &rd->type) != 0) {
            char tw[96];
            join(tw, sizeof tw, rw, "type");
            node_err(w->c, v, tw,
                     "unknown reward type '%.64s'; expected one of: streak_freeze, cosmetic, "
                     "physical, digital",
                     v->str);
        }
        rd->type_name = xstrdup(gm_reward_type_name(rd->type));
        get_int(w->c, e, rw, "stock", 0, 0, GM_RULES_MAX_AMOUNT, &rd->stock);
        get_int(w->c, e, rw, "per_user_limit", 0, 0, GM_RULES_MAX_AMOUNT, &rd->per_user_limit);
        get_bool(w->c, e, rw, "active", &rd->active);
    }
}

static const char *const top_keys[] = {"version", "timezone",     "levels", "activities", "caps",
                                       "streaks", "leaderboards", "badges", "rewards",    NULL};

static void
parse_top(struct walk *w, const struct ynode *top)
{
    struct gm_rules *r = w->r;
    check_keys(w->c, top, "", top_keys);

    const struct ynode *v = map_get(top, "version");
    if (!v || is_null(v)) {
        missing(w->c, top, "", "version");
    } else if (node_int(w->c, v, "version", INT64_MIN, INT64_MAX, &r->version) == 0 &&
               r->version != 1) {
        node_err(w->c, v, "version", "unsupported version %" PRId64 "; this gamify reads version 1",
                 r->version);
    }

    v = get_str(w->c, top, "", "timezone", 0);
    if (v) {
        const struct gm_tz *tz = NULL;
        struct gm_err te;
        gm_err_clear(&te);
        if (!gm_tz_name_is_iana(v->str)) {
            node_err(w->c, v, "timezone",
                     "'%.64s' is not an IANA time zone name (UTC, Etc/..., or Area/Location "
                     "such as Europe/Berlin)",
                     v->str);
        } else if (gm_tz_get(v->str, &tz, &te) != 0) {
            node_err(w->c, v, "timezone", "cannot load time zone '%.64s': %s", v->str, te.msg);
        } else {
            free(r->timezone);
            r->timezone = xstrdup(v->str);
        }
    }

    parse_levels(w, top);
    parse_activities(w, top);

    const struct ynode *caps = get_map(w->c, top, "", "caps", 0);
    if (caps) {
        check_keys(w->c, caps, "caps", caps_keys);
        get_int(w->c, caps, "caps", "exp_per_day", 0, 0, GM_RULES_MAX_AMOUNT, &r->exp_per_day);
    }
    parse_streaks(w, top);
    parse_leaderboards(w, top);
    parse_badges(w, top);
    parse_rewards(w, top);
}

/* File order: by line, then column, then the order found (qsort is not stable). */
struct ordered_err {
    struct gm_err err;
    size_t seq;
};

static int
cmp_err(const void *a, const void *b)
{
    const struct ordered_err *x = a, *y = b;
    if (x->err.line != y->err.line)
        return x->err.line < y->err.line ? -1 : 1;
    if (x->err.column != y->err.column)
        return x->err.column < y->err.column ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the errors into file order; a final "too many errors" stays last. */
static void
sort_errs(struct ctx *c)
{
    size_t n = c->too_many ? c->n_errs - 1 : c->n_errs;
    if (n < 2)
        return;
    struct ordered_err *o = malloc(n * sizeof *o);
    if (!o)
        abort();
    for (size_t i = 0; i < n; i++) {
        o[i].err = c->errs[i];
        o[i].seq = i;
    }
    qsort(o, n, sizeof *o, cmp_err);
    for (size_t i = 0; i < n; i++)
        c->errs[i] = o[i].err;
    free(o);
}

void
gm_rules_free(struct gm_rules *r)
{
    if (!r)
        return;
    free(r->timezone);
    free(r->thresholds);
    for (size_t i = 0; i < r->lesson.n_bonuses; i++)
        gm_expr_free(r->lesson.bonuses[i].when);
    free(r->lesson.bonuses);
    for (size_t i = 0; i < r->n_tournament_bonuses; i++)
        gm_expr_free(r->tournament_bonuses[i].when);
    free(r->tournament_bonuses);
    free(r->milestones);
    for (size_t i = 0; i < r->n_badges; i++) {
        free(r->badges[i].id);
        free(r->badges[i].name);
        free(r->badges[i].icon);
        gm_expr_free(r->badges[i].criteria);
    }
    free(r->badges);
    for (size_t i = 0; i < r->n_rewards; i++) {
        free(r->rewards[i].id);
        free(r->rewards[i].name);
        free(r->rewards[i].type_name);
    }
    free(r->rewards);
    free(r);
}

int
gm_rules_parse(const char *yaml, size_t len, struct gm_rules **out, struct gm_err **errs,
               size_t *n_errs)
{
    struct ctx c = {0};
    struct gm_rules *r = NULL;
    struct ynode *root = NULL;
    int rc = GM_EINVAL;

    *out = NULL;
    if (errs)
        *errs = NULL;
    if (n_errs)
        *n_errs = 0;
    c.src = yaml;
    c.len = len;
    if (len > GM_RULES_MAX_BYTES) {
        add_err(&c, 1, 1, "", "the rules file is larger than the limit of %d bytes (1 MiB)",
                GM_RULES_MAX_BYTES);
        goto out;
    }
    int fatal = 0;
    root = build_tree(&c, &fatal);
    if (fatal)
        goto out;
    if (!root || is_null(root)) {
        add_err(&c, 1, 1, "",
                "the rules file is empty; expected a mapping with version, levels, activities, "
                "...");
        goto out;
    }
    if (root->kind != Y_MAP) {
        char d[80];
        node_err(&c, root, "",
                 "the rules file must be a mapping with version, levels, activities, ...; got %s",
                 describe(root, d, sizeof d));
        goto out;
    }

    r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->timezone = xstrdup("UTC");
    r->streak_lessons = r->streak_tournaments = true;
    r->period_all_time = r->period_weekly = r->period_monthly = true;
    r->keep_weeks = 8;
    r->keep_months = 12;
    struct walk w = {&c, r};
    parse_top(&w, root);
    if (c.n_errs)
        goto out;
    if (gm_tz_get(r->timezone, &r->tz, NULL))
        r->tz = NULL; /* checked above; looked up by name again when used */
    if (!EVP_Digest(yaml, len, r->sha256, NULL, EVP_sha256(), NULL))
        abort();
    *out = r;
    r = NULL;
    rc = 0;
out:
    ynode_free(root);
    gm_rules_free(r);
    sort_errs(&c);
    if (rc && errs) {
        *errs = c.errs;
        c.errs = NULL;
    }
    if (rc && n_errs)
        *n_errs = c.n_errs;
    free(c.errs);
    return rc;
}

int
gm_rules_read_text(const char *path, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    /* One byte past the bound, so that a too-large file is reported as such. */
    char *buf = malloc((size_t)GM_RULES_MAX_BYTES + 2);
    if (!buf)
        abort();
    errno = 0;
    size_t n = fread(buf, 1, (size_t)GM_RULES_MAX_BYTES + 1, f);
    int rc = ferror(f) ? (errno ? -errno : -EIO) : 0;
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

int
gm_rules_load(const char *path, struct gm_rules **out, struct gm_err **errs, size_t *n_errs)
{
    *out = NULL;
    if (errs)
        *errs = NULL;
    if (n_errs)
        *n_errs = 0;
    char *buf;
    size_t len;
    int rc = gm_rules_read_text(path, &buf, &len);
    if (rc)
        return rc;
    rc = gm_rules_parse(buf, len, out, errs, n_errs);
    free(buf);
    return rc;
}

int64_t
gm_rules_level_for(const struct gm_rules *r, int64_t exp)
{
    /* The largest i with thresholds[i] <= exp; thresholds[0] == 0. */
    size_t lo = 0, hi = r->n_levels;
    if (r->n_levels == 0 || exp < r->thresholds[0])
        return 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->thresholds[mid] <= exp)
            lo = mid;
        else
            hi = mid;
    }
    return (int64_t)lo + 1;
}

const struct gm_reward_def *
gm_rules_find_reward(const struct gm_rules *r, const char *id)
{
    for (size_t i = 0; i < r->n_rewards; i++)
        if (strcmp(r->rewards[i].id, id) == 0)
            return &r->rewards[i];
    return NULL;
}
