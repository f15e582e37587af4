/*
 * execute.c: running a prepared GraphQL operation (execute.h).
 *
 * Follows the October 2021 specification and graphql-js v16's behaviour
 * (messages, which errors are recorded, where null propagation stops):
 * operation selection, CoerceVariableValues from the jansson variables,
 * CollectFields with @skip/@include and fragments, argument coercion, field
 * execution and CompleteValue with non-null propagation.
 *
 * The response is written straight into one growable buffer in the
 * request's arena, in selection order. An object's text starts at a known
 * offset: when a non-null field below it fails, the buffer is cut back to
 * that offset and `null` is written instead (the error, recorded once at
 * the field that failed, stays). Field plans and constant arguments are
 * cached in the prepared document (exec_int.h), so a repeated execution
 * does no collecting and no coercion of literal arguments.
 */
#include "exec_int.h"
#include "suggest.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input values nest at most this deep (recursive input objects). */
#define MAX_INPUT_DEPTH 64
/*
 * Objects nest at most this deep in a response; fragments can chain past
 * the parser's depth limit (introspection is exempt from the validator's).
 */
#define MAX_EXEC_DEPTH 256
/* Variable coercion stops after this many errors (graphql-js's execute passes maxErrors: 50). */
#define MAX_VAR_ERRORS 50
/* Request-local plans remembered per execution (more are rebuilt per object). */
#define PLAN_MEMO 32
/* Status of a completion: the position must become null, the error is recorded. */
#define PROP 1

static const struct gm_gql_ival ival_null = {.kind = GM_GQL_I_NULL};

/* ---- the response buffer ---- */

struct jbuf {
    char *p;
    size_t len;
    size_t cap;
    struct gm_arena *a;
    bool oom;
};

static bool
jb_grow(struct jbuf *b, size_t need)
{
    if (b->oom)
        return false;
    size_t cap = b->cap ? b->cap * 2 : 1024;
    while (cap - b->len < need) {
        if (cap > SIZE_MAX / 4) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = gm_arena_alloc(b->a, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    if (b->len)
        memcpy(p, b->p, b->len);
    b->p = p;
    b->cap = cap;
    return true;
}

static inline void
jb_put(struct jbuf *b, const char *s, size_t n)
{
    if (b->cap - b->len < n && !jb_grow(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void
jb_putc(struct jbuf *b, char c)
{
    if (b->cap == b->len && !jb_grow(b, 1))
        return;
    b->p[b->len++] = c;
}

#define JB_LIT(b, lit) jb_put((b), (lit), sizeof(lit) - 1)

static void
jb_int(struct jbuf *b, int64_t v)
{
    char tmp[24];
    char *e = tmp + sizeof(tmp);
    char *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    jb_put(b, p, (size_t)(e - p));
}

size_t
gm__gql_fmt_number(char *buf, size_t n, double d)
{
    if (d == 0)
        return (size_t)snprintf(buf, n, "0");
    if (fabs(d) < 1e21 && d == trunc(d))
        return (size_t)snprintf(buf, n, "%.0f", d);
    /* The shortest digits that read back as d, in C's "d.ddde-07" form. */
    char e[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, d);
        if (strtod(e, NULL) == d)
            break;
    }
    snprintf(e, sizeof(e), "%.*e", prec - 1, d);
    const char *ep = strchr(e, 'e');
    int x = ep ? atoi(ep + 1) : 0;
    /*
     * JavaScript's Number::toString: positional from 1e-7 (exclusive) up to
     * 1e21, where C's %g already switches to an exponent below 1e-4.
     */
    if (x >= -6 && x <= 20)
        return (size_t)snprintf(buf, n, "%.*f", prec - 1 - x > 0 ? prec - 1 - x : 0, d);
    /* "1.5e-7", "1e+21": the mantissa, then the exponent without leading zeros. */
    return (size_t)snprintf(buf, n, "%.*se%c%d", ep ? (int)(ep - e) : (int)strlen(e), e,
                            x < 0 ? '-' : '+', x < 0 ? -x : x);
}

static void
jb_double(struct jbuf *b, double d)
{
    char tmp[40];
    size_t n = gm__gql_fmt_number(tmp, sizeof(tmp), d);
    jb_put(b, tmp, n);
}

/*
 * Writes s as a JSON string: quotes, backslashes and control characters
 * escaped, valid UTF-8 passed through, invalid bytes as U+FFFD.
 */
static void
jb_str(struct jbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    jb_putc(b, '"');
    size_t run = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = gm__gql_utf8_len(u + i, n - i);
            if (l) {
                i += l;
                continue;
            }
        }
        jb_put(b, s + run, i - run);
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        switch (c) {
        case '"':
            JB_LIT(b, "\\\"");
            break;
        case '\\':
            JB_LIT(b, "\\\\");
            break;
        case '\b':
            JB_LIT(b, "\\b");
            break;
        case '\f':
            JB_LIT(b, "\\f");
            break;
        case '\n':
            JB_LIT(b, "\\n");
            break;
        case '\r':
            JB_LIT(b, "\\r");
            break;
        case '\t':
            JB_LIT(b, "\\t");
            break;
        default:
            if (c >= 0x80)
                JB_LIT(b, "\\ufffd");
            else
                jb_put(b, esc, sizeof(esc));
        }
        i++;
        run = i;
    }
    jb_put(b, s + run, n - run);
    jb_putc(b, '"');
}

static void
jb_cstr(struct jbuf *b, const char *s)
{
    jb_str(b, s, strlen(s));
}

/* ---- messages ---- */

/* A bounded message buffer: text past the end is dropped. */
struct sbuf {
    char p[1024];
    size_t len;
};

/* Not `= {0}`: that would clear the whole kilobyte on hot paths. */
static inline void
sb_init(struct sbuf *b)
{
    b->len = 0;
    b->p[0] = '\0';
}

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
    size_t room = sizeof(b->p) - 1 - b->len;
    if (n > room)
        n = room;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_cstr(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof(b->p) - b->len;
    int n = vsnprintf(b->p + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    b->len += (size_t)n < room ? (size_t)n : room - 1;
}

/* JSON.stringify of a string, into a message. */
static void
sb_quoted(struct sbuf *b, const char *s, size_t n)
{
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
        } else if (c == '\b') {
            sb_put(b, "\\b", 2);
        } else if (c == '\t') {
            sb_put(b, "\\t", 2);
        } else if (c == '\n') {
            sb_put(b, "\\n", 2);
        } else if (c == '\f') {
            sb_put(b, "\\f", 2);
        } else if (c == '\r') {
            sb_put(b, "\\r", 2);
        } else if (c < 0x20) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_put(b, s + i, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/*
 * graphql-js's inspect() of a JSON value. Arrays and objects nested two
 * deep print as [Array] and [Object] (its MAX_RECURSIVE_DEPTH counts the
 * value itself).
 */
static void
sb_inspect(struct sbuf *b, const json_t *v, int depth)
{
    char num[40];
    if (!v) {
        sb_cstr(b, "undefined");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_NULL:
        sb_cstr(b, "null");
        break;
    case JSON_TRUE:
        sb_cstr(b, "true");
        break;
    case JSON_FALSE:
        sb_cstr(b, "false");
        break;
    case JSON_INTEGER:
        sb_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        gm__gql_fmt_number(num, sizeof(num), json_real_value(v));
        sb_cstr(b, num);
        break;
    case JSON_STRING:
        sb_quoted(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (n == 0) {
            sb_cstr(b, "[]");
            break;
        }
        if (depth >= 2) {
            sb_cstr(b, "[Array]");
            break;
        }
        size_t show = n < 10 ? n : 10;
        sb_cstr(b, "[");
        for (size_t i = 0; i < show; i++) {
            if (i)
                sb_cstr(b, ", ");
            sb_inspect(b, json_array_get(v, i), depth + 1);
        }
        if (n - show == 1)
            sb_cstr(b, ", ... 1 more item");
        else if (n > show)
            sb_printf(b, ", ... %zu more items", n - show);
        sb_cstr(b, "]");
        break;
    }
    case JSON_OBJECT: {
        if (json_object_size(v) == 0) {
            sb_cstr(b, "{}");
            break;
        }
        if (depth >= 2) {
            sb_cstr(b, "[Object]");
            break;
        }
        sb_cstr(b, "{ ");
        const char *key;
        json_t *item;
        bool first = true;
        json_object_foreach((json_t *)v, key, item)
        {
            if (!first)
                sb_cstr(b, ", ");
            first = false;
            sb_cstr(b, key);
            sb_cstr(b, ": ");
            sb_inspect(b, item, depth + 1);
        }
        sb_cstr(b, " }");
        break;
    }
    }
}

static void
sb_tref(struct sbuf *b, const struct gm_gql_tref *t)
{
    char tmp[256];
    sb_cstr(b, gm_gql_tref_str(t, tmp, sizeof(tmp)));
}

/* graphql-js's didYouMean([sub,] suggestions), appended to b. */
static void
sb_did_you_mean(struct sbuf *b, const char *sub, const char *const *sugg, size_t n)
{
    gm__gql_did_you_mean(b->p, sizeof(b->p), sub, sugg, n);
    b->len = strlen(b->p);
}

/* ---- execution state ---- */

/* An argument error: message and the node it concerns. */
struct argerr {
    struct sbuf msg;
    struct gm_gql_loc loc;
};

/* A plan built for one request where the prepared document's slot cannot keep it. */
struct plan_memo {
    const void *slot;
    const struct gm__gql_plan *plan;
};

struct exec {
    struct gm_gql_engine *e;
    const struct gm_gql_schema *s;
    const struct gm_gql_prepared *p;
    const struct gm__gql_op *op;
    const struct gm_gql_exec_params *params;
    struct gm_arena *a;
    struct jbuf out;
    struct gm_gql_errors errs;
    const struct gm_gql_ival **vars;  /* op->n_vars; NULL: no value */
    struct argerr argerr;             /* scratch of argument coercion, reported at once */
    struct plan_memo memo[PLAN_MEMO]; /* plans of shared slots built for this request only */
    size_t n_memo;
    size_t var_errors; /* errors of CoerceVariableValues so far */
    bool vars_aborted; /* past MAX_VAR_ERRORS: coercion stopped */
    int depth;         /* objects being completed */
    bool oom;
};

/* An input path for variable messages ("x.a[0]"). */
struct ipath {
    const struct ipath *parent;
    const char *key; /* NULL for an index */
    size_t index;
};

static void
sb_ipath(struct sbuf *b, const struct ipath *p)
{
    if (!p)
        return;
    sb_ipath(b, p->parent);
    if (p->key)
        sb_printf(b, ".%s", p->key);
    else
        sb_printf(b, "[%zu]", p->index);
}

static const struct gm_gql_ival *
var_value(const struct exec *ex, const char *name, bool *found)
{
    *found = false;
    if (!ex->op)
        return NULL;
    for (size_t i = 0; i < ex->op->n_vars; i++) {
        if (strcmp(ex->op->var_defs[i]->name, name) == 0) {
            *found = ex->vars && ex->vars[i];
            return *found ? ex->vars[i] : NULL;
        }
    }
    return NULL;
}

static struct gm_gql_ival *
ival_new(struct gm_arena *a, enum gm_gql_ikind kind)
{
    struct gm_gql_ival *v = gm_arena_alloc(a, sizeof(*v));
    if (v)
        v->kind = kind;
    return v;
}

/* ---- scalars ---- */

static bool
digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int
num2(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* Whether s is RFC 3339 date-time text: YYYY-MM-DDTHH:MM:SS(.frac)?(Z|+hh:mm|-hh:mm). */
static bool
datetime_valid(const char *s, size_t n)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
        return false;
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + num2(s + 2);
    int month = num2(s + 5), day = num2(s + 8);
    if (month < 1 || month > 12 || day < 1 || day > mdays[month - 1])
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap)
        return false;
    if (num2(s + 11) > 23 || num2(s + 14) > 59 || num2(s + 17) > 60)
        return false;
    size_t i = 19;
    if (s[i] == '.') {
        i++;
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == n;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        const char *z = s + i + 1;
        return n - i == 6 && digits(z, 2) && z[2] == ':' && digits(z + 3, 2) && num2(z) <= 23 &&
               num2(z + 3) <= 59;
    }
    return false;
}

/* ---- input coercion from JSON (CoerceVariableValues) ---- */

struct vctx {
    struct exec *ex;
    const struct gm_gql_var_def *vd;
    bool failed;
};

/*
 * Records an error of CoerceVariableValues at loc (NULL: none). As
 * graphql-js's getVariableValues with maxErrors, the error past the limit
 * becomes "Too many errors..." and coercion stops (vars_aborted).
 */
__attribute__((format(printf, 3, 4))) static void
var_error(struct exec *ex, const struct gm_gql_loc *loc, const char *fmt, ...)
{
    if (ex->vars_aborted)
        return;
    if (ex->var_errors >= MAX_VAR_ERRORS) {
        ex->vars_aborted = true;
        gm_gql_errors_add(&ex->errs, ex->a, GM_GQL_CODE_INPUT, NULL, 0, NULL,
                          "Too many errors processing variables, error limit reached. Execution "
                          "aborted.");
        return;
    }
    ex->var_errors++;
    va_list ap;
    va_start(ap, fmt);
    gm_gql_errors_addv(&ex->errs, ex->a, GM_GQL_CODE_INPUT, loc, loc ? 1 : 0, NULL, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 4, 5))) static void
vc_error(struct vctx *vc, const struct ipath *path, const json_t *invalid, const char *fmt, ...)
{
    struct sbuf m;
    sb_init(&m);
    sb_printf(&m, "Variable \"$%s\" got invalid value ", vc->vd->name);
    sb_inspect(&m, invalid, 0);
    if (path) {
        sb_printf(&m, " at \"%s", vc->vd->name);
        sb_ipath(&m, path);
        sb_cstr(&m, "\"");
    }
    sb_cstr(&m, "; ");
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof(m.p) - m.len;
    int n = vsnprintf(m.p + m.len, room, fmt, ap);
    va_end(ap);
    (void)n;
    vc->failed = true;
    var_error(vc->ex, &vc->vd->loc, "%s", m.p);
}

static const struct gm_gql_ival *lit_coerce(struct exec *ex, struct gm_arena *a,
                                            const struct gm_gql_value *v,
                                            const struct gm_gql_tref *t, int depth);

/*
 * graphql-js's didYouMeanEnumValue: appends to b the values of enum t near
 * input[0..len). Returns GM_ETOOBIG when a is full.
 */
static int
enum_did_you_mean(struct gm_arena *a, const struct gm_gql_stype *t, const char *input, size_t len,
                  struct sbuf *b)
{
    size_t n = t->n_values ? t->n_values : 1;
    const char **names = gm_arena_alloc(a, n * sizeof(*names));
    const char **sugg = gm_arena_alloc(a, n * sizeof(*sugg));
    if (!names || !sugg)
        return GM_ETOOBIG;
    for (size_t i = 0; i < t->n_values; i++)
        names[i] = t->values[i].name;
    sb_did_you_mean(b, "the enum value", sugg,
                    gm__gql_suggest(a, input, len, names, t->n_values, sugg));
    return 0;
}

/* Not inlined: its message buffer would weigh on json_coerce's recursion. */
__attribute__((noinline)) static const struct gm_gql_ival *
json_leaf(struct vctx *vc, const json_t *v, const struct gm_gql_stype *t, const struct ipath *path)
{
    struct gm_arena *a = vc->ex->a;
    struct sbuf m;
    sb_init(&m);
    struct gm_gql_ival *r = NULL;
    if (t->kind == GM_GQL_ENUM) {
        /* graphql-js's parseValue suggests values near the input, or near its inspect(). */
        struct sbuf dym;
        sb_init(&dym);
        if (!json_is_string(v)) {
            sb_inspect(&m, v, 0);
            if (enum_did_you_mean(a, t, m.p, m.len, &dym) < 0)
                return NULL;
            vc_error(vc, path, v, "Enum \"%s\" cannot represent non-string value: %s.%s", t->name,
                     m.p, dym.p);
            return NULL;
        }
        const struct gm_gql_senum_value *ev = gm_gql_enum_value(t, json_string_value(v));
        if (!ev || strlen(ev->name) != json_string_length(v)) {
            if (enum_did_you_mean(a, t, json_string_value(v), json_string_length(v), &dym) < 0)
                return NULL;
            vc_error(vc, path, v, "Value \"%s\" does not exist in \"%s\" enum.%s",
                     json_string_value(v), t->name, dym.p);
            return NULL;
        }
        r = ival_new(a, GM_GQL_I_ENUM);
        if (r) {
            r->s = ev->name;
            r->len = strlen(ev->name);
        }
        return r;
    }
    sb_inspect(&m, v, 0);
    switch (t->scalar) {
    case GM_GQL_SC_INT: {
        double d;
        if (json_is_integer(v))
            d = (double)json_integer_value(v);
        else if (json_is_real(v) && json_real_value(v) == trunc(json_real_value(v)))
            d = json_real_value(v);
        else {
            vc_error(vc, path, v, "Int cannot represent non-integer value: %s", m.p);
            return NULL;
        }
        if (d > 2147483647.0 || d < -2147483648.0) {
            vc_error(vc, path, v, "Int cannot represent non 32-bit signed integer value: %s", m.p);
            return NULL;
        }
        r = ival_new(a, GM_GQL_I_INT);
        if (r)
            r->i = (int64_t)d;
        return r;
    }
    case GM_GQL_SC_FLOAT:
        if (!json_is_number(v)) {
            vc_error(vc, path, v, "Float cannot represent non numeric value: %s", m.p);
            return NULL;
        }
        r = ival_new(a, GM_GQL_I_FLOAT);
        if (r)
            r->f = json_number_value(v);
        return r;
    case GM_GQL_SC_BOOLEAN:
        if (!json_is_boolean(v)) {
            vc_error(vc, path, v, "Boolean cannot represent a non boolean value: %s", m.p);
            return NULL;
        }
        r = ival_new(a, GM_GQL_I_BOOL);
        if (r)
            r->b = json_is_true(v);
        return r;
    case GM_GQL_SC_STRING:
    case GM_GQL_SC_DATETIME:
        if (!json_is_string(v)) {
            vc_error(vc, path, v, "%s cannot represent a non string value: %s", t->name, m.p);
            return NULL;
        }
        if (t->scalar == GM_GQL_SC_DATETIME &&
            !datetime_valid(json_string_value(v), json_string_length(v))) {
            vc_error(vc, path, v, "DateTime cannot represent an invalid date-time string: %s", m.p);
            return NULL;
        }
        r = ival_new(a, GM_GQL_I_STRING);
        if (r) {
            r->s = json_string_value(v);
            r->len = json_string_length(v);
        }
        return r;
    case GM_GQL_SC_ID:
        if (json_is_string(v)) {
            r = ival_new(a, GM_GQL_I_STRING);
            if (r) {
                r->s = json_string_value(v);
                r->len = json_string_length(v);
            }
            return r;
        }
        /* Number.isInteger: 1e21 is one too, and String() writes it "1e+21". */
        if (json_is_integer(v) ||
            (json_is_real(v) && json_real_value(v) == trunc(json_real_value(v)))) {
            char num[40];
            size_t n = gm__gql_fmt_number(num, sizeof(num), json_number_value(v));
            if (json_is_integer(v))
                n = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                                     json_integer_value(v));
            r = ival_new(a, GM_GQL_I_STRING);
            if (r) {
                r->s = gm_arena_strndup(a, num, n);
                r->len = n;
                if (!r->s)
                    return NULL;
            }
            return r;
        }
        vc_error(vc, path, v, "ID cannot represent value: %s", m.p);
        return NULL;
    case GM_GQL_SC_CUSTOM:
        if (json_is_string(v)) {
            r = ival_new(a, GM_GQL_I_STRING);
            if (r) {
                r->s = json_string_value(v);
                r->len = json_string_length(v);
            }
        } else if (json_is_integer(v)) {
            r = ival_new(a, GM_GQL_I_INT);
            if (r)
                r->i = json_integer_value(v);
        } else if (json_is_real(v)) {
            r = ival_new(a, GM_GQL_I_FLOAT);
            if (r)
                r->f = json_real_value(v);
        } else if (json_is_boolean(v)) {
            r = ival_new(a, GM_GQL_I_BOOL);
            if (r)
                r->b = json_is_true(v);
        } else {
            vc_error(vc, path, v, "Expected type \"%s\".", t->name);
        }
        return r;
    }
    return NULL;
}

/*
 * Reports key of object v as no field of input type nt, with graphql-js's
 * suggestions. Returns GM_ETOOBIG when the arena is full. Not inlined:
 * json_coerce recurses.
 */
__attribute__((noinline)) static int
unknown_field(struct vctx *vc, const struct ipath *path, const json_t *v,
              const struct gm_gql_stype *nt, const char *key)
{
    struct gm_arena *a = vc->ex->a;
    size_t cap = nt->n_input_fields ? nt->n_input_fields : 1;
    const char **sugg = gm_arena_alloc(a, cap * sizeof(*sugg));
    const char **names = gm_arena_alloc(a, cap * sizeof(*names));
    if (!sugg || !names)
        return GM_ETOOBIG;
    for (size_t i = 0; i < nt->n_input_fields; i++)
        names[i] = nt->input_fields[i].name;
    size_t ns = gm__gql_suggest(a, key, strlen(key), names, nt->n_input_fields, sugg);
    struct sbuf dym;
    sb_init(&dym);
    sb_did_you_mean(&dym, NULL, sugg, ns);
    vc_error(vc, path, v, "Field \"%s\" is not defined by type \"%s\".%s", key, nt->name, dym.p);
    return 0;
}

/* Returns the coerced value, or NULL after reporting (or when the arena is full). */
static const struct gm_gql_ival *
json_coerce(struct vctx *vc, const json_t *v, const struct gm_gql_tref *t, const struct ipath *path,
            int depth)
{
    struct gm_arena *a = vc->ex->a;
    if (vc->ex->vars_aborted)
        return NULL;
    if (depth > MAX_INPUT_DEPTH) {
        vc_error(vc, path, v, "Value nests too deeply.");
        return NULL;
    }
    if (t->kind == GM_GQL_TYPE_NON_NULL) {
        if (!v || json_is_null(v)) {
            char ts[256];
            vc_error(vc, path, v, "Expected non-nullable type \"%s\" not to be null.",
                     gm_gql_tref_str(t, ts, sizeof(ts)));
            return NULL;
        }
        return json_coerce(vc, v, t->of, path, depth + 1);
    }
    if (json_is_null(v))
        return &ival_null;
    if (t->kind == GM_GQL_TYPE_LIST) {
        struct gm_gql_ival *r = ival_new(a, GM_GQL_I_LIST);
        if (!r)
            return NULL;
        if (!json_is_array(v)) {
            const struct gm_gql_ival *one = json_coerce(vc, v, t->of, path, depth + 1);
            if (!one)
                return NULL;
            r->items = gm_arena_alloc(a, sizeof(*r->items));
            if (!r->items)
                return NULL;
            r->items[0] = one;
            r->n = 1;
            return r;
        }
        size_t n = json_array_size(v);
        r->items = gm_arena_alloc(a, (n ? n : 1) * sizeof(*r->items));
        if (!r->items)
            return NULL;
        bool ok = true;
        for (size_t i = 0; i < n; i++) {
            struct ipath ip = {path, NULL, i};
            r->items[i] = json_coerce(vc, json_array_get(v, i), t->of, &ip, depth + 1);
            ok = ok && r->items[i];
        }
        r->n = n;
        return ok ? r : NULL;
    }
    const struct gm_gql_stype *nt = t->named;
    if (nt->kind == GM_GQL_INPUT_OBJECT) {
        if (!json_is_object(v)) {
            vc_error(vc, path, v, "Expected type \"%s\" to be an object.", nt->name);
            return NULL;
        }
        struct gm_gql_ival *r = ival_new(a, GM_GQL_I_OBJECT);
        if (!r)
            return NULL;
        size_t cap = nt->n_input_fields ? nt->n_input_fields : 1;
        r->items = gm_arena_alloc(a, cap * sizeof(*r->items));
        r->names = gm_arena_alloc(a, cap * sizeof(*r->names));
        if (!r->items || !r->names)
            return NULL;
        bool ok = true;
        for (size_t i = 0; i < nt->n_input_fields; i++) {
            const struct gm_gql_sarg *f = &nt->input_fields[i];
            const json_t *fv = json_object_get(v, f->name);
            const struct gm_gql_ival *c;
            if (!fv) {
                if (f->default_value) {
                    /* The schema's defaults are checked: only a full arena fails here. */
                    c = lit_coerce(vc->ex, a, f->default_value, f->type, depth + 1);
                    if (!c)
                        return NULL;
                } else {
                    if (f->type->kind == GM_GQL_TYPE_NON_NULL) {
                        char ts[256];
                        vc_error(vc, path, v,
                                 "Field \"%s\" of required type \"%s\" was not provided.", f->name,
                                 gm_gql_tref_str(f->type, ts, sizeof(ts)));
                        ok = false;
                    }
                    continue;
                }
            } else {
                struct ipath ip = {path, f->name, 0};
                c = json_coerce(vc, fv, f->type, &ip, depth + 1);
                if (!c) {
                    ok = false;
                    continue;
                }
            }
            r->names[r->n] = f->name;
            r->items[r->n++] = c;
        }
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)v, key, item)
        {
            if (!gm_gql_input_field(nt, key)) {
                if (unknown_field(vc, path, v, nt, key) < 0)
                    return NULL;
                ok = false;
            }
        }
        return ok ? r : NULL;
    }
    return json_leaf(vc, v, nt, path);
}

/* ---- literal coercion (valueFromAST) ---- */

static bool
missing_var(const struct exec *ex, const struct gm_gql_value *v)
{
    bool found;
    if (v->kind != GM_GQL_VALUE_VARIABLE)
        return false;
    var_value(ex, v->str, &found);
    return !found;
}

static const struct gm_gql_ival *
lit_leaf(struct gm_arena *a, const struct gm_gql_value *v, const struct gm_gql_stype *t)
{
    struct gm_gql_ival *r = NULL;
    if (t->kind == GM_GQL_ENUM) {
        if (v->kind != GM_GQL_VALUE_ENUM)
            return NULL;
        const struct gm_gql_senum_value *ev = gm_gql_enum_value(t, v->str);
        if (!ev)
            return NULL;
        r = ival_new(a, GM_GQL_I_ENUM);
        if (r) {
            r->s = ev->name;
            r->len = strlen(ev->name);
        }
        return r;
    }
    switch (t->scalar) {
    case GM_GQL_SC_INT: {
        if (v->kind != GM_GQL_VALUE_INT)
            return NULL;
        errno = 0;
        long long i = strtoll(v->str, NULL, 10);
        if (errno || i > INT32_MAX || i < INT32_MIN)
            return NULL;
        r = ival_new(a, GM_GQL_I_INT);
        if (r)
            r->i = i;
        return r;
    }
    case GM_GQL_SC_FLOAT:
        if (v->kind != GM_GQL_VALUE_INT && v->kind != GM_GQL_VALUE_FLOAT)
            return NULL;
        r = ival_new(a, GM_GQL_I_FLOAT);
        if (r)
            r->f = strtod(v->str, NULL);
        return r;
    case GM_GQL_SC_BOOLEAN:
        if (v->kind != GM_GQL_VALUE_BOOLEAN)
            return NULL;
        r = ival_new(a, GM_GQL_I_BOOL);
        if (r)
            r->b = v->boolean;
        return r;
    case GM_GQL_SC_STRING:
    case GM_GQL_SC_DATETIME:
        if (v->kind != GM_GQL_VALUE_STRING)
            return NULL;
        if (t->scalar == GM_GQL_SC_DATETIME && !datetime_valid(v->str, v->len))
            return NULL;
        break;
    case GM_GQL_SC_ID:
        if (v->kind != GM_GQL_VALUE_STRING && v->kind != GM_GQL_VALUE_INT)
            return NULL;
        break;
    case GM_GQL_SC_CUSTOM:
        if (v->kind == GM_GQL_VALUE_INT) {
            r = ival_new(a, GM_GQL_I_INT);
            if (r)
                r->i = strtoll(v->str, NULL, 10);
            return r;
        }
        if (v->kind == GM_GQL_VALUE_FLOAT) {
            r = ival_new(a, GM_GQL_I_FLOAT);
            if (r)
                r->f = strtod(v->str, NULL);
            return r;
        }
        if (v->kind == GM_GQL_VALUE_BOOLEAN) {
            r = ival_new(a, GM_GQL_I_BOOL);
            if (r)
                r->b = v->boolean;
            return r;
        }
        if (v->kind != GM_GQL_VALUE_STRING)
            return NULL;
        break;
    }
    r = ival_new(a, GM_GQL_I_STRING);
    if (r) {
        r->s = v->str;
        r->len = v->kind == GM_GQL_VALUE_STRING ? v->len : strlen(v->str);
    }
    return r;
}

/*
 * graphql-js's valueFromAST: the value of literal v (variables from ex) as
 * type t, allocated in a; NULL when it does not fit (or a is full).
 */
static const struct gm_gql_ival *
lit_coerce(struct exec *ex, struct gm_arena *a, const struct gm_gql_value *v,
           const struct gm_gql_tref *t, int depth)
{
    if (depth > MAX_INPUT_DEPTH)
        return NULL;
    if (v->kind == GM_GQL_VALUE_VARIABLE) {
        bool found;
        const struct gm_gql_ival *val = var_value(ex, v->str, &found);
        if (!found)
            return NULL;
        if (val->kind == GM_GQL_I_NULL) {
            return t->kind == GM_GQL_TYPE_NON_NULL ? NULL : val;
        }
        const struct gm_gql_tref *base = t->kind == GM_GQL_TYPE_NON_NULL ? t->of : t;
        if (base->kind == GM_GQL_TYPE_LIST && val->kind != GM_GQL_I_LIST) {
            /* A list position given an item: a list of one (spec, Input Coercion). */
            struct gm_gql_ival *l = ival_new(a, GM_GQL_I_LIST);
            if (!l || !(l->items = gm_arena_alloc(a, sizeof(*l->items))))
                return NULL;
            l->items[0] = val;
            l->n = 1;
            return l;
        }
        return val;
    }
    if (t->kind == GM_GQL_TYPE_NON_NULL) {
        if (v->kind == GM_GQL_VALUE_NULL)
            return NULL;
        return lit_coerce(ex, a, v, t->of, depth + 1);
    }
    if (v->kind == GM_GQL_VALUE_NULL)
        return &ival_null;
    if (t->kind == GM_GQL_TYPE_LIST) {
        struct gm_gql_ival *r = ival_new(a, GM_GQL_I_LIST);
        if (!r)
            return NULL;
        if (v->kind != GM_GQL_VALUE_LIST) {
            const struct gm_gql_ival *one = lit_coerce(ex, a, v, t->of, depth + 1);
            if (!one || !(r->items = gm_arena_alloc(a, sizeof(*r->items))))
                return NULL;
            r->items[0] = one;
            r->n = 1;
            return r;
        }
        size_t n = 0;
        for (const struct gm_gql_value *i = v->items; i; i = i->next)
            n++;
        r->items = gm_arena_alloc(a, (n ? n : 1) * sizeof(*r->items));
        if (!r->items)
            return NULL;
        for (const struct gm_gql_value *i = v->items; i; i = i->next) {
            const struct gm_gql_ival *c;
            if (missing_var(ex, i)) {
                if (t->of->kind == GM_GQL_TYPE_NON_NULL)
                    return NULL;
                c = &ival_null;
            } else {
                c = lit_coerce(ex, a, i, t->of, depth + 1);
                if (!c)
                    return NULL;
            }
            r->items[r->n++] = c;
        }
        return r;
    }
    const struct gm_gql_stype *nt = t->named;
    if (nt->kind == GM_GQL_INPUT_OBJECT) {
        if (v->kind != GM_GQL_VALUE_OBJECT)
            return NULL;
        struct gm_gql_ival *r = ival_new(a, GM_GQL_I_OBJECT);
        if (!r)
            return NULL;
        size_t cap = nt->n_input_fields ? nt->n_input_fields : 1;
        r->items = gm_arena_alloc(a, cap * sizeof(*r->items));
        r->names = gm_arena_alloc(a, cap * sizeof(*r->names));
        if (!r->items || !r->names)
            return NULL;
        for (size_t i = 0; i < nt->n_input_fields; i++) {
            const struct gm_gql_sarg *f = &nt->input_fields[i];
            const struct gm_gql_object_field *fn = NULL;
            for (const struct gm_gql_object_field *of = v->fields; of; of = of->next)
                if (strcmp(of->name, f->name) == 0)
                    fn = of; /* the last one, as graphql-js's keyMap */
            const struct gm_gql_ival *c;
            if (!fn || missing_var(ex, fn->value)) {
                if (f->default_value) {
                    c = lit_coerce(ex, a, f->default_value, f->type, depth + 1);
                    if (!c)
                        return NULL;
                } else if (f->type->kind == GM_GQL_TYPE_NON_NULL) {
                    return NULL;
                } else {
                    continue;
                }
            } else {
                c = lit_coerce(ex, a, fn->value, f->type, depth + 1);
                if (!c)
                    return NULL;
            }
            r->names[r->n] = f->name;
            r->items[r->n++] = c;
        }
        return r;
    }
    if (!gm_gql_type_is_leaf(nt))
        return NULL;
    return lit_leaf(a, v, nt);
}

const struct gm_gql_ival *
gm__gql_coerce_const(struct gm_arena *a, const struct gm_gql_value *v, const struct gm_gql_tref *t)
{
    struct exec ex;
    memset(&ex, 0, sizeof(ex));
    ex.a = a;
    return lit_coerce(&ex, a, v, t, 0);
}

static bool
has_vars(const struct gm_gql_value *v)
{
    switch (v->kind) {
    case GM_GQL_VALUE_VARIABLE:
        return true;
    case GM_GQL_VALUE_LIST:
        for (const struct gm_gql_value *i = v->items; i; i = i->next)
            if (has_vars(i))
                return true;
        return false;
    case GM_GQL_VALUE_OBJECT:
        for (const struct gm_gql_object_field *f = v->fields; f; f = f->next)
            if (has_vars(f->value))
                return true;
        return false;
    default:
        return false;
    }
}

/* ---- argument coercion (CoerceArgumentValues) ---- */

/*
 * Coerces the arguments given in `given` for n definitions defs into out
 * (n slots, allocated by the caller). node_loc is where "not provided"
 * errors point. Returns 0, GM_EINVAL with *err filled, or GM_ETOOBIG.
 */
static int
coerce_args(struct exec *ex, struct gm_arena *a, const struct gm_gql_sarg *defs, size_t n,
            const struct gm_gql_argument *given, struct gm_gql_loc node_loc,
            const struct gm_gql_ival **out, struct argerr *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct gm_gql_sarg *d = &defs[i];
        const struct gm_gql_argument *arg = NULL;
        for (const struct gm_gql_argument *g = given; g; g = g->next)
            if (strcmp(g->name, d->name) == 0) {
                arg = g;
                break;
            }
        bool non_null = d->type->kind == GM_GQL_TYPE_NON_NULL;
        out[i] = NULL;
        if (!arg || missing_var(ex, arg->value)) {
            if (d->default_value) {
                out[i] = lit_coerce(ex, a, d->default_value, d->type, 0);
                if (!out[i])
                    return GM_ETOOBIG;
            } else if (non_null) {
                err->msg.len = 0;
                err->msg.p[0] = '\0';
                sb_printf(&err->msg, "Argument \"%s\" of required type \"", d->name);
                sb_tref(&err->msg, d->type);
                if (arg) {
                    sb_printf(&err->msg,
                              "\" was provided the variable \"$%s\" which was not provided a "
                              "runtime value.",
                              arg->value->str);
                    err->loc = arg->value->loc;
                } else {
                    sb_cstr(&err->msg, "\" was not provided.");
                    err->loc = node_loc;
                }
                return GM_EINVAL;
            }
            continue;
        }
        bool is_null = arg->value->kind == GM_GQL_VALUE_NULL;
        if (arg->value->kind == GM_GQL_VALUE_VARIABLE) {
            bool found;
            const struct gm_gql_ival *vv = var_value(ex, arg->value->str, &found);
            is_null = vv->kind == GM_GQL_I_NULL;
        }
        if (is_null && non_null) {
            err->msg.len = 0;
            err->msg.p[0] = '\0';
            sb_printf(&err->msg, "Argument \"%s\" of non-null type \"", d->name);
            sb_tref(&err->msg, d->type);
            sb_cstr(&err->msg, "\" must not be null.");
            err->loc = arg->value->loc;
            return GM_EINVAL;
        }
        out[i] = lit_coerce(ex, a, arg->value, d->type, 0);
        if (!out[i]) {
            err->msg.len = 0;
            err->msg.p[0] = '\0';
            char *text = gm_gql_print_value(arg->value);
            sb_printf(&err->msg, "Argument \"%s\" has invalid value %s.", d->name,
                      text ? text : "");
            free(text);
            err->loc = arg->value->loc;
            return GM_EINVAL;
        }
    }
    return 0;
}

/* ---- CollectFields and plans ---- */

struct coll {
    const struct gm_gql_selection **nodes;
    size_t n;
    size_t cap;
    const struct gm_gql_definition **visited;
    size_t n_visited;
    size_t cap_visited;
    bool uses_vars;
    bool failed;
    struct argerr err;
};

static bool
grow(struct gm_arena *a, void *arrp, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = gm_arena_alloc(a, ncap * size);
    if (!p)
        return false;
    void **arr = arrp;
    if (n)
        memcpy(p, *arr, n * size);
    *arr = p;
    *cap = ncap;
    return true;
}

/*
 * The `if` of directive d (@skip or @include; NULL: absent) into *cond,
 * left alone when there is no boolean. Returns false after an argument
 * error (c->failed, c->err).
 */
static bool
directive_if(struct exec *ex, struct coll *c, const struct gm_gql_directive *d, bool *cond)
{
    if (!d)
        return true;
    const struct gm_gql_sdirective *sd = gm_gql_schema_directive(ex->s, d->name);
    const struct gm_gql_ival *vals[4] = {NULL};
    if (!sd || sd->n_args > 4)
        return true;
    if (coerce_args(ex, ex->a, sd->args, sd->n_args, d->args, d->loc, vals, &c->err) < 0) {
        c->failed = true;
        return false;
    }
    const struct gm_gql_ival *v = sd->n_args ? vals[0] : NULL;
    if (v && v->kind == GM_GQL_I_BOOL)
        *cond = v->b;
    return true;
}

/*
 * graphql-js's shouldIncludeNode: the first @skip is decided before the
 * first @include, whatever their order in the document, so an @include
 * whose argument fails is not looked at when @skip already excludes.
 */
static bool
should_include(struct exec *ex, struct coll *c, const struct gm_gql_directive *dirs)
{
    const struct gm_gql_directive *skip = NULL, *include = NULL;
    for (const struct gm_gql_directive *d = dirs; d; d = d->next) {
        if (strcmp(d->name, "skip") == 0) {
            if (!skip)
                skip = d;
        } else if (strcmp(d->name, "include") == 0) {
            if (!include)
                include = d;
        } else {
            continue;
        }
        /* Whether or not it is evaluated: the decision may depend on variables. */
        for (const struct gm_gql_argument *g = d->args; g; g = g->next)
            if (has_vars(g->value))
                c->uses_vars = true;
    }
    bool skip_if = false, include_if = true;
    if (!directive_if(ex, c, skip, &skip_if) || skip_if)
        return false;
    if (!directive_if(ex, c, include, &include_if) || !include_if)
        return false;
    return true;
}

static bool
condition_matches(struct exec *ex, const char *cond, const struct gm_gql_stype *t)
{
    if (!cond)
        return true;
    if (strcmp(cond, t->name) == 0)
        return true;
    const struct gm_gql_stype *ct = gm_gql_schema_type(ex->s, cond);
    return ct && gm_gql_type_is_abstract(ct) && gm_gql_type_is_possible(ct, t);
}

static const struct gm_gql_definition *
find_fragment(const struct gm_gql_prepared *p, const char *name)
{
    for (size_t i = p->n_frags; i-- > 0;)
        if (strcmp(p->frags[i]->name, name) == 0)
            return p->frags[i];
    return NULL;
}

static void
collect(struct exec *ex, struct coll *c, const struct gm_gql_selection_set *set,
        const struct gm_gql_stype *t)
{
    if (!set)
        return;
    for (const struct gm_gql_selection *sel = set->selections; sel && !c->failed; sel = sel->next) {
        switch (sel->kind) {
        case GM_GQL_SEL_FIELD:
            if (!should_include(ex, c, sel->directives))
                break;
            if (!grow(ex->a, &c->nodes, &c->cap, c->n, sizeof(*c->nodes))) {
                ex->oom = true;
                c->failed = true;
                return;
            }
            c->nodes[c->n++] = sel;
            break;
        case GM_GQL_SEL_INLINE_FRAGMENT:
            if (!should_include(ex, c, sel->directives) ||
                !condition_matches(ex, sel->type_condition, t))
                break;
            collect(ex, c, sel->selection_set, t);
            break;
        case GM_GQL_SEL_FRAGMENT_SPREAD: {
            const struct gm_gql_definition *f = find_fragment(ex->p, sel->name);
            bool seen = false;
            for (size_t i = 0; i < c->n_visited; i++)
                if (strcmp(c->visited[i]->name, sel->name) == 0)
                    seen = true;
            if (seen || !should_include(ex, c, sel->directives))
                break;
            if (!f)
                break;
            if (!grow(ex->a, &c->visited, &c->cap_visited, c->n_visited, sizeof(*c->visited))) {
                ex->oom = true;
                c->failed = true;
                return;
            }
            c->visited[c->n_visited++] = f;
            if (!condition_matches(ex, f->type_condition, t))
                break;
            collect(ex, c, f->selection_set, t);
            break;
        }
        }
    }
}

static const char *
resp_key(const struct gm_gql_selection *sel)
{
    return sel->alias ? sel->alias : sel->name;
}

/*
 * Turns the collected nodes into a plan allocated in a (the prepared
 * document's arena when cached). Returns NULL when a is full.
 */
static struct gm__gql_plan *
materialize(struct exec *ex, struct coll *c, const struct gm_gql_stype *t, struct gm_arena *a,
            bool cached)
{
    struct gm__gql_plan *plan = gm_arena_alloc(a, sizeof(*plan));
    if (!plan)
        return NULL;
    plan->cached = cached;
    /* Group by response key, in first-occurrence order. */
    size_t *group = gm_arena_alloc(ex->a, (c->n ? c->n : 1) * sizeof(*group));
    size_t *first = gm_arena_alloc(ex->a, (c->n ? c->n : 1) * sizeof(*first));
    if (!group || !first)
        return NULL;
    size_t n_groups = 0;
    for (size_t i = 0; i < c->n; i++) {
        const char *k = resp_key(c->nodes[i]);
        size_t g = n_groups;
        for (size_t j = 0; j < n_groups; j++) {
            const char *kj = resp_key(c->nodes[first[j]]);
            if (kj[0] == k[0] && strcmp(kj, k) == 0) {
                g = j;
                break;
            }
        }
        if (g == n_groups)
            first[n_groups++] = i;
        group[i] = g;
    }
    plan->fields = gm_arena_alloc(a, (n_groups ? n_groups : 1) * sizeof(*plan->fields));
    if (!plan->fields)
        return NULL;
    for (size_t g = 0; g < n_groups; g++) {
        const struct gm_gql_selection *sel = c->nodes[first[g]];
        const struct gm_gql_sfield *f = gm_gql_sel_field(ex->s, t, sel);
        if (!f)
            continue; /* graphql-js leaves unknown fields out */
        struct gm__gql_pfield *pf = &plan->fields[plan->n++];
        pf->field = f;
        pf->cached = cached;
        pf->key = resp_key(sel);
        pf->is_typename = f == ex->s->typename_field;
        pf->resolve = f->resolve ? f->resolve : gm__gql_introspect;
        size_t kl = strlen(pf->key);
        char *jk = gm_arena_alloc(a, kl + 4);
        if (!jk)
            return NULL;
        jk[0] = ',';
        jk[1] = '"';
        memcpy(jk + 2, pf->key, kl); /* names need no escaping */
        jk[kl + 2] = '"';
        jk[kl + 3] = ':';
        pf->json_key = jk;
        pf->json_key_len = kl + 4;
        size_t nn = 0;
        for (size_t i = first[g]; i < c->n; i++)
            if (group[i] == g)
                nn++;
        pf->nodes = gm_arena_alloc(a, nn * sizeof(*pf->nodes));
        pf->locs = gm_arena_alloc(a, nn * sizeof(*pf->locs));
        if (!pf->nodes || !pf->locs)
            return NULL;
        for (size_t i = first[g]; i < c->n; i++)
            if (group[i] == g) {
                pf->locs[pf->n_nodes] = c->nodes[i]->loc;
                pf->nodes[pf->n_nodes++] = c->nodes[i];
            }
        bool vars = false;
        for (const struct gm_gql_argument *g2 = sel->args; g2; g2 = g2->next)
            vars = vars || has_vars(g2->value);
        if (!vars) {
            pf->args = gm_arena_alloc(a, (f->n_args ? f->n_args : 1) * sizeof(*pf->args));
            if (!pf->args)
                return NULL;
            pf->args_static = coerce_args(ex, a, f->args, f->n_args, sel->args, sel->loc, pf->args,
                                          &ex->argerr) == 0;
        }
        const struct gm_gql_stype *nt = gm_gql_tref_named(f->type);
        if (nt->kind == GM_GQL_OBJECT)
            pf->n_sub = 1;
        else if (gm_gql_type_is_abstract(nt))
            pf->n_sub = nt->n_possible;
        if (pf->n_sub) {
            pf->sub = gm_arena_alloc(a, pf->n_sub * sizeof(*pf->sub));
            if (!pf->sub)
                return NULL;
            for (size_t i = 0; i < pf->n_sub; i++)
                atomic_init(&pf->sub[i], NULL);
        }
        atomic_init(&pf->sub_dynamic, false);
    }
    return plan;
}

/*
 * The plan for nodes (n of them; their selection sets, or set alone) on
 * object type t, from *slot when cached there. Returns NULL on failure:
 * c->failed with c->err for an argument error of @skip/@include, else the
 * arena's budget ran out (ex->oom).
 */
static const struct gm__gql_plan *
get_plan(struct exec *ex, _Atomic(const struct gm__gql_plan *) *slot, atomic_bool *dynamic,
         bool cacheable, const struct gm_gql_selection *const *nodes, size_t n,
         const struct gm_gql_selection_set *set, const struct gm_gql_stype *t, struct coll *c)
{
    const struct gm__gql_plan *plan = atomic_load_explicit(slot, memory_order_acquire);
    if (plan)
        return plan;
    /* Built earlier in this request (it depends on the variables): list items reuse it. */
    for (size_t i = 0; i < ex->n_memo; i++)
        if (ex->memo[i].slot == slot)
            return ex->memo[i].plan;
    memset(c, 0, sizeof(*c));
    if (set)
        collect(ex, c, set, t);
    for (size_t i = 0; i < n && !c->failed; i++)
        collect(ex, c, nodes[i]->selection_set, t);
    if (c->failed)
        return NULL;
    struct gm_gql_prepared *p = (struct gm_gql_prepared *)ex->p;
    if (cacheable && !c->uses_vars && !atomic_load_explicit(dynamic, memory_order_relaxed)) {
        size_t grown = 0;
        pthread_mutex_lock(&p->plan_lock);
        plan = atomic_load_explicit(slot, memory_order_acquire);
        if (!plan) {
            struct gm__gql_plan *np = materialize(ex, c, t, &p->arena, true);
            if (np)
                atomic_store_explicit(slot, np, memory_order_release);
            plan = np;
            grown = gm_arena_reserved(&p->arena);
        }
        pthread_mutex_unlock(&p->plan_lock);
        /* The cache counts the document's arena: tell it that plans were added. */
        if (grown)
            gm__gql_cache_grew(ex->e, p, grown);
        if (plan)
            return plan;
        /* The prepared document's budget is spent: build per request. */
    }
    if (c->uses_vars)
        atomic_store_explicit(dynamic, true, memory_order_relaxed);
    plan = materialize(ex, c, t, ex->a, false);
    if (!plan) {
        ex->oom = true;
        return NULL;
    }
    if (!cacheable)
        atomic_store_explicit(slot, plan, memory_order_relaxed); /* the slot is this request's */
    else if (ex->n_memo < PLAN_MEMO)
        ex->memo[ex->n_memo++] = (struct plan_memo){slot, plan};
    return plan;
}

/* ---- field errors ---- */

__attribute__((format(printf, 5, 6))) static void
field_error(struct exec *ex, const struct gm__gql_pfield *pf, const struct gm_gql_path *path,
            const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gm_gql_errors_addv(&ex->errs, ex->a, code ? code : GM_GQL_CODE_INTERNAL, pf->locs, pf->n_nodes,
                       path, fmt, ap);
    va_end(ap);
}

/* ---- CompleteValue ---- */

static int exec_fields(struct exec *ex, const struct gm__gql_plan *plan,
                       const struct gm_gql_stype *t, const void *obj,
                       const struct gm_gql_path *path);

static int complete(struct exec *ex, const struct gm__gql_pfield *pf,
                    const struct gm_gql_stype *ptype, const struct gm_gql_tref *t,
                    const struct gm_gql_rval *v, const struct gm_gql_path *path);

static int
complete_leaf(struct exec *ex, const struct gm__gql_pfield *pf, const struct gm_gql_stype *t,
              const struct gm_gql_rval *v, const struct gm_gql_path *path)
{
    struct jbuf *b = &ex->out;
    char num[40];
    if (t->kind == GM_GQL_ENUM) {
        if (v->kind == GM_GQL_R_STRING) {
            for (size_t i = 0; i < t->n_values; i++) {
                const char *name = t->values[i].name;
                if (strlen(name) == v->len && memcmp(name, v->s, v->len) == 0) {
                    jb_putc(b, '"');
                    jb_put(b, name, v->len);
                    jb_putc(b, '"');
                    return 0;
                }
            }
            struct sbuf m;
            sb_init(&m);
            sb_quoted(&m, v->s, v->len);
            field_error(ex, pf, path, NULL, "Enum \"%s\" cannot represent value: %s", t->name, m.p);
            return PROP;
        }
        field_error(ex, pf, path, NULL, "Enum \"%s\" cannot represent value: a non-string",
                    t->name);
        return PROP;
    }
    switch (t->scalar) {
    case GM_GQL_SC_INT: {
        double d;
        /* graphql-js's messages show a string as the string, quoted (inspect()). */
        struct sbuf shown;
        sb_init(&shown);
        switch (v->kind) {
        case GM_GQL_R_INT:
            if (v->i > INT32_MAX || v->i < INT32_MIN) {
                field_error(ex, pf, path, NULL,
                            "Int cannot represent non 32-bit signed integer value: %" PRId64, v->i);
                return PROP;
            }
            jb_int(b, v->i);
            return 0;
        case GM_GQL_R_BOOL:
            jb_putc(b, v->b ? '1' : '0');
            return 0;
        case GM_GQL_R_FLOAT:
            d = v->f;
            break;
        case GM_GQL_R_STRING: {
            char *end = NULL;
            char tmp[64];
            size_t l = v->len < sizeof(tmp) - 1 ? v->len : sizeof(tmp) - 1;
            memcpy(tmp, v->s, l);
            tmp[l] = '\0';
            d = l ? strtod(tmp, &end) : NAN;
            sb_quoted(&shown, v->s, v->len);
            if (!end || *end || v->len != l) {
                field_error(ex, pf, path, NULL, "Int cannot represent non-integer value: %s",
                            shown.p);
                return PROP;
            }
            break;
        }
        default:
            field_error(ex, pf, path, NULL, "Int cannot represent non-integer value: [object]");
            return PROP;
        }
        if (!isfinite(d) || d != trunc(d)) {
            gm__gql_fmt_number(num, sizeof(num), d);
            field_error(ex, pf, path, NULL, "Int cannot represent non-integer value: %s",
                        shown.len  ? shown.p
                        : isnan(d) ? "NaN"
                        : isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                                   : num);
            return PROP;
        }
        if (d > 2147483647.0 || d < -2147483648.0) {
            gm__gql_fmt_number(num, sizeof(num), d);
            field_error(ex, pf, path, NULL,
                        "Int cannot represent non 32-bit signed integer value: %s",
                        shown.len ? shown.p : num);
            return PROP;
        }
        jb_int(b, (int64_t)d);
        return 0;
    }
    case GM_GQL_SC_FLOAT:
        switch (v->kind) {
        case GM_GQL_R_INT:
            jb_int(b, v->i);
            return 0;
        case GM_GQL_R_BOOL:
            jb_putc(b, v->b ? '1' : '0');
            return 0;
        case GM_GQL_R_FLOAT:
            if (!isfinite(v->f)) {
                field_error(ex, pf, path, NULL, "Float cannot represent non numeric value: %s",
                            isnan(v->f) ? "NaN" : (v->f > 0 ? "Infinity" : "-Infinity"));
                return PROP;
            }
            jb_double(b, v->f);
            return 0;
        default:
            field_error(ex, pf, path, NULL, "Float cannot represent non numeric value");
            return PROP;
        }
    case GM_GQL_SC_STRING:
    case GM_GQL_SC_ID:
    case GM_GQL_SC_DATETIME:
    case GM_GQL_SC_CUSTOM:
        switch (v->kind) {
        case GM_GQL_R_STRING:
            if (t->scalar == GM_GQL_SC_DATETIME && !datetime_valid(v->s, v->len)) {
                struct sbuf m;
                sb_init(&m);
                sb_quoted(&m, v->s, v->len);
                field_error(ex, pf, path, NULL,
                            "DateTime cannot represent an invalid date-time string: %s", m.p);
                return PROP;
            }
            jb_str(b, v->s, v->len);
            return 0;
        case GM_GQL_R_INT:
            if (t->scalar == GM_GQL_SC_CUSTOM) {
                jb_int(b, v->i);
                return 0;
            }
            if (t->scalar == GM_GQL_SC_DATETIME)
                break;
            jb_putc(b, '"');
            jb_int(b, v->i);
            jb_putc(b, '"');
            return 0;
        case GM_GQL_R_BOOL:
            if (t->scalar == GM_GQL_SC_STRING) {
                jb_cstr(b, v->b ? "true" : "false");
                return 0;
            }
            if (t->scalar == GM_GQL_SC_CUSTOM) {
                jb_put(b, v->b ? "true" : "false", v->b ? 4 : 5);
                return 0;
            }
            break;
        case GM_GQL_R_FLOAT:
            if (!isfinite(v->f) || t->scalar == GM_GQL_SC_DATETIME)
                break;
            if (t->scalar == GM_GQL_SC_ID && v->f != trunc(v->f))
                break;
            if (t->scalar == GM_GQL_SC_CUSTOM) {
                jb_double(b, v->f);
                return 0;
            }
            jb_putc(b, '"');
            jb_double(b, v->f);
            jb_putc(b, '"');
            return 0;
        default:
            break;
        }
        field_error(ex, pf, path, NULL, "%s cannot represent value of kind %d", t->name,
                    (int)v->kind);
        return PROP;
    case GM_GQL_SC_BOOLEAN:
        switch (v->kind) {
        case GM_GQL_R_BOOL:
            jb_put(b, v->b ? "true" : "false", v->b ? 4 : 5);
            return 0;
        case GM_GQL_R_INT:
            jb_put(b, v->i ? "true" : "false", v->i ? 4 : 5);
            return 0;
        case GM_GQL_R_FLOAT:
            if (isfinite(v->f)) {
                jb_put(b, v->f != 0 ? "true" : "false", v->f != 0 ? 4 : 5);
                return 0;
            }
            break;
        default:
            break;
        }
        field_error(ex, pf, path, NULL, "Boolean cannot represent a non boolean value");
        return PROP;
    }
    return PROP;
}

/*
 * The plan of pf's sub-selection on object type rt (pf->sub[slot]), or
 * NULL after recording the error. Not inlined: its collection state is
 * large and complete_object recurses.
 */
__attribute__((noinline)) static const struct gm__gql_plan *
sub_plan(struct exec *ex, const struct gm__gql_pfield *pf, size_t slot,
         const struct gm_gql_stype *rt, const struct gm_gql_path *path)
{
    struct coll c;
    /* Only a cached parent's slots outlive the request. */
    const struct gm__gql_plan *plan = get_plan(ex, &pf->sub[slot], (atomic_bool *)&pf->sub_dynamic,
                                               pf->cached, pf->nodes, pf->n_nodes, NULL, rt, &c);
    if (!plan && c.failed)
        gm_gql_errors_add(&ex->errs, ex->a, GM_GQL_CODE_INPUT, &c.err.loc, 1, path, "%s",
                          c.err.msg.p);
    return plan;
}

static int
complete_object(struct exec *ex, const struct gm__gql_pfield *pf, const struct gm_gql_stype *ptype,
                const struct gm_gql_stype *t, const struct gm_gql_rval *v,
                const struct gm_gql_path *path)
{
    if (v->kind != GM_GQL_R_OBJECT) {
        field_error(ex, pf, path, NULL, "Expected an object of type \"%s\" for field \"%s.%s\".",
                    t->name, ptype->name, pf->field->name);
        return PROP;
    }
    const struct gm_gql_stype *rt = t;
    size_t slot = 0;
    if (t->kind != GM_GQL_OBJECT) {
        rt = v->type;
        if (!rt || rt->kind != GM_GQL_OBJECT) {
            field_error(ex, pf, path, NULL,
                        "Abstract type \"%s\" must resolve to an Object type at runtime for "
                        "field \"%s.%s\". Either the \"%s\" type should provide a "
                        "\"resolveType\" function or each possible type should provide an "
                        "\"isTypeOf\" function.",
                        t->name, ptype->name, pf->field->name, t->name);
            return PROP;
        }
        for (slot = 0; slot < t->n_possible; slot++)
            if (t->possible[slot] == rt)
                break;
        if (slot == t->n_possible) {
            field_error(ex, pf, path, NULL,
                        "Runtime Object type \"%s\" is not a possible type for \"%s\".", rt->name,
                        t->name);
            return PROP;
        }
    }
    if (slot >= pf->n_sub) {
        field_error(ex, pf, path, NULL, "No plan for \"%s\".", t->name);
        return PROP;
    }
    if (ex->depth >= MAX_EXEC_DEPTH) {
        field_error(ex, pf, path, GM_GQL_CODE_COMPLEX, "The response nests too deeply.");
        return PROP;
    }
    const struct gm__gql_plan *plan = atomic_load_explicit(&pf->sub[slot], memory_order_acquire);
    if (!plan && !(plan = sub_plan(ex, pf, slot, rt, path)))
        return PROP;
    ex->depth++;
    int rc = exec_fields(ex, plan, rt, v->obj, path);
    ex->depth--;
    return rc;
}

static int
complete_inner(struct exec *ex, const struct gm__gql_pfield *pf, const struct gm_gql_stype *ptype,
               const struct gm_gql_tref *t, const struct gm_gql_rval *v,
               const struct gm_gql_path *path)
{
    if (t->kind == GM_GQL_TYPE_LIST) {
        if (v->kind != GM_GQL_R_LIST) {
            field_error(ex, pf, path, NULL,
                        "Expected Iterable, but did not find one for field \"%s.%s\".", ptype->name,
                        pf->field->name);
            return PROP;
        }
        jb_putc(&ex->out, '[');
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                jb_putc(&ex->out, ',');
            struct gm_gql_path ip = {path, NULL, i};
            if (complete(ex, pf, ptype, t->of, &v->items[i], &ip) == PROP)
                return PROP;
        }
        jb_putc(&ex->out, ']');
        return 0;
    }
    const struct gm_gql_stype *nt = t->named;
    if (nt->kind == GM_GQL_SCALAR || nt->kind == GM_GQL_ENUM)
        return complete_leaf(ex, pf, nt, v, path);
    return complete_object(ex, pf, ptype, nt, v, path);
}

/*
 * Writes v as type t. Returns 0, or PROP when t is non-null and the value
 * must be null (the error is recorded); a nullable position that fails is
 * cut back and written as null here.
 */
static int
complete(struct exec *ex, const struct gm__gql_pfield *pf, const struct gm_gql_stype *ptype,
         const struct gm_gql_tref *t, const struct gm_gql_rval *v, const struct gm_gql_path *path)
{
    if (t->kind == GM_GQL_TYPE_NON_NULL) {
        if (v->kind == GM_GQL_R_NULL) {
            field_error(ex, pf, path, NULL, "Cannot return null for non-nullable field %s.%s.",
                        ptype->name, pf->field->name);
            return PROP;
        }
        return complete_inner(ex, pf, ptype, t->of, v, path);
    }
    if (v->kind == GM_GQL_R_NULL) {
        JB_LIT(&ex->out, "null");
        return 0;
    }
    size_t start = ex->out.len;
    if (complete_inner(ex, pf, ptype, t, v, path) == PROP) {
        ex->out.len = start;
        JB_LIT(&ex->out, "null");
    }
    return 0;
}

/* ---- ExecuteField ---- */

static int
null_or_prop(struct exec *ex, const struct gm_gql_tref *t)
{
    if (t->kind == GM_GQL_TYPE_NON_NULL)
        return PROP;
    JB_LIT(&ex->out, "null");
    return 0;
}

static int
exec_field(struct exec *ex, const struct gm__gql_pfield *pf, const struct gm_gql_stype *ptype,
           const void *parent, const struct gm_gql_path *ppath)
{
    struct gm_gql_path path = {ppath, pf->key, 0};
    if (pf->is_typename) {
        jb_cstr(&ex->out, ptype->name);
        return 0;
    }
    const struct gm_gql_sfield *f = pf->field;
    const struct gm_gql_ival **args = pf->args;
    if (!pf->args_static) {
        args = gm_arena_alloc(ex->a, (f->n_args ? f->n_args : 1) * sizeof(*args));
        struct argerr *err = &ex->argerr;
        if (!args) {
            ex->oom = true;
            return null_or_prop(ex, f->type);
        }
        int rc = coerce_args(ex, ex->a, f->args, f->n_args, pf->nodes[0]->args, pf->nodes[0]->loc,
                             args, err);
        if (rc == GM_EINVAL) {
            gm_gql_errors_add(&ex->errs, ex->a, GM_GQL_CODE_INPUT, &err->loc, 1, &path, "%s",
                              err->msg.p);
            return null_or_prop(ex, f->type);
        }
        if (rc < 0) {
            ex->oom = true;
            return null_or_prop(ex, f->type);
        }
    }
    struct gm_gql_rctx ctx = {
        .arena = ex->a,
        .schema = ex->s,
        .context = ex->params->context,
        .field_data = f->resolve_data,
        .field = f,
        .parent_type = ptype,
        .parent = parent,
        .args = args,
        .path = &path,
        .node = pf->nodes[0],
    };
    struct gm_gql_rval v;
    v.kind = GM_GQL_R_NULL;
    int rc = pf->resolve(&ctx, &v);
    if (rc < 0) {
        if (ctx.err_msg)
            field_error(ex, pf, &path, ctx.err_code, "%s", ctx.err_msg);
        else
            field_error(ex, pf, &path, ctx.err_code, "%s", gm_strerror(rc));
        return null_or_prop(ex, f->type);
    }
    return complete(ex, pf, ptype, f->type, &v, &path);
}

static int
exec_fields(struct exec *ex, const struct gm__gql_plan *plan, const struct gm_gql_stype *t,
            const void *obj, const struct gm_gql_path *path)
{
    size_t start = ex->out.len;
    jb_putc(&ex->out, '{');
    for (size_t i = 0; i < plan->n; i++) {
        const struct gm__gql_pfield *pf = &plan->fields[i];
        if (i)
            jb_put(&ex->out, pf->json_key, pf->json_key_len);
        else
            jb_put(&ex->out, pf->json_key + 1, pf->json_key_len - 1);
        if (exec_field(ex, pf, t, obj, path) == PROP) {
            ex->out.len = start;
            return PROP;
        }
    }
    jb_putc(&ex->out, '}');
    return 0;
}

/* ---- the response ---- */

static void
write_errors(struct jbuf *b, const struct gm_gql_errors *errs)
{
    JB_LIT(b, "[");
    for (const struct gm_gql_error *e = errs->head; e; e = e->next) {
        if (e != errs->head)
            jb_putc(b, ',');
        JB_LIT(b, "{\"message\":");
        jb_cstr(b, e->message);
        if (e->n_locs) {
            JB_LIT(b, ",\"locations\":[");
            for (size_t i = 0; i < e->n_locs; i++) {
                if (i)
                    jb_putc(b, ',');
                JB_LIT(b, "{\"line\":");
                jb_int(b, e->locs[i].line);
                JB_LIT(b, ",\"column\":");
                jb_int(b, e->locs[i].column);
                jb_putc(b, '}');
            }
            jb_putc(b, ']');
        }
        if (e->n_path) {
            JB_LIT(b, ",\"path\":[");
            for (size_t i = 0; i < e->n_path; i++) {
                if (i)
                    jb_putc(b, ',');
                if (e->path_is_index[i])
                    jb_put(b, e->path[i], strlen(e->path[i]));
                else
                    jb_cstr(b, e->path[i]);
            }
            jb_putc(b, ']');
        }
        JB_LIT(b, ",\"extensions\":{\"code\":");
        jb_cstr(b, e->code ? e->code : GM_GQL_CODE_INTERNAL);
        JB_LIT(b, "}}");
    }
    jb_putc(b, ']');
}

static size_t
count_kept(const struct gm_gql_errors *errs)
{
    size_t n = 0;
    for (const struct gm_gql_error *e = errs->head; e; e = e->next)
        n++;
    return n;
}

static const char too_big[] =
    "{\"errors\":[{\"message\":\"The response is larger than the request's memory budget.\","
    "\"extensions\":{\"code\":\"" GM_GQL_CODE_COMPLEX "\"}}]}";

/*
 * The response past the budget. Static text, so that it exists even when
 * the arena was full before the request started (execute.h).
 */
static void
set_too_big(struct gm_gql_response *resp)
{
    resp->json = too_big;
    resp->len = sizeof(too_big) - 1;
    resp->has_data = false;
    resp->n_errors = 1;
}

int
gm_gql_errors_response(const struct gm_gql_errors *errs, struct gm_arena *a,
                       struct gm_gql_response *resp)
{
    struct jbuf b = {.a = a};
    memset(resp, 0, sizeof(*resp));
    JB_LIT(&b, "{\"errors\":");
    write_errors(&b, errs);
    JB_LIT(&b, "}");
    jb_putc(&b, '\0');
    if (b.oom) {
        set_too_big(resp);
        return GM_ETOOBIG;
    }
    resp->json = b.p;
    resp->len = b.len - 1;
    resp->n_errors = count_kept(errs);
    return 0;
}

/* Selects the operation as graphql-js's buildExecutionContext does; NULL with *msg. */
static const struct gm__gql_op *
select_op(const struct gm_gql_prepared *p, const char *name, const char **msg)
{
    const struct gm__gql_op *op = NULL;
    for (size_t i = 0; i < p->n_ops; i++) {
        if (!name) {
            if (op) {
                *msg = "Must provide operation name if query contains multiple operations.";
                return NULL;
            }
            op = &p->ops[i];
        } else if (p->ops[i].def->name && strcmp(p->ops[i].def->name, name) == 0) {
            op = &p->ops[i];
        }
    }
    if (!op)
        *msg = name ? NULL : "Must provide an operation.";
    return op;
}

int
gm_gql_prepared_op_type(const struct gm_gql_prepared *p, const char *operation_name)
{
    const char *msg;
    const struct gm__gql_op *op = select_op(p, operation_name, &msg);
    return op ? (int)op->def->op : -1;
}

/* CoerceVariableValues; false when any variable failed (errors recorded). */
static bool
coerce_vars(struct exec *ex)
{
    const struct gm__gql_op *op = ex->op;
    if (!op->n_vars)
        return true;
    ex->vars = gm_arena_alloc(ex->a, op->n_vars * sizeof(*ex->vars));
    if (!ex->vars) {
        ex->oom = true;
        return false;
    }
    const json_t *in = ex->params->variables;
    if (in && !json_is_object(in))
        in = NULL;
    bool ok = true;
    for (size_t i = 0; i < op->n_vars && !ex->vars_aborted; i++) {
        const struct gm_gql_var_def *vd = op->var_defs[i];
        const struct gm_gql_tref *t = op->var_types[i];
        struct vctx vc = {ex, vd, false};
        char *ts = NULL;
        if (!t || !gm_gql_tref_is_input(t)) {
            ts = gm_gql_print_type(vd->type);
            var_error(ex, &vd->loc,
                      "Variable \"$%s\" expected value of type \"%s\" which cannot be used as an "
                      "input type.",
                      vd->name, ts ? ts : "");
            free(ts);
            ok = false;
            continue;
        }
        const json_t *v = in ? json_object_get(in, vd->name) : NULL;
        if (!v) {
            if (vd->default_value) {
                ex->vars[i] = lit_coerce(ex, ex->a, vd->default_value, t, 0);
            } else if (t->kind == GM_GQL_TYPE_NON_NULL) {
                ts = gm_gql_print_type(vd->type);
                var_error(ex, &vd->loc,
                          "Variable \"$%s\" of required type \"%s\" was not provided.", vd->name,
                          ts ? ts : "");
                free(ts);
                ok = false;
            }
            continue;
        }
        if (json_is_null(v) && t->kind == GM_GQL_TYPE_NON_NULL) {
            ts = gm_gql_print_type(vd->type);
            var_error(ex, &vd->loc, "Variable \"$%s\" of non-null type \"%s\" must not be null.",
                      vd->name, ts ? ts : "");
            free(ts);
            ok = false;
            continue;
        }
        ex->vars[i] = json_coerce(&vc, v, t, NULL, 0);
        if (vc.failed || !ex->vars[i]) {
            /* No error recorded: the arena's budget ran out (answered as GM_ETOOBIG). */
            if (!vc.failed && !ex->vars_aborted)
                ex->oom = true;
            ex->vars[i] = NULL;
            ok = false;
        }
    }
    return ok && !ex->vars_aborted;
}

/* Finishes resp: `{"errors":[...],"data":...}` from the data written at data_off. */
static int
finish(struct exec *ex, size_t data_off, bool has_data, struct gm_gql_response *resp)
{
    struct jbuf *b = &ex->out;
    if (!has_data) {
        int rc = gm_gql_errors_response(&ex->errs, ex->a, resp);
        if (rc < 0 || ex->oom)
            return GM_ETOOBIG;
        return 0;
    }
    jb_putc(b, '}');
    jb_putc(b, '\0');
    if (b->oom || ex->oom)
        return GM_ETOOBIG;
    resp->has_data = true;
    if (!ex->errs.head) {
        resp->json = b->p;
        resp->len = b->len - 1;
        return 0;
    }
    struct jbuf w = {.a = ex->a};
    JB_LIT(&w, "{\"errors\":");
    write_errors(&w, &ex->errs);
    jb_putc(&w, ',');
    /* b holds `{"data":...}`: append it without its brace. */
    jb_put(&w, b->p + data_off, b->len - data_off);
    if (w.oom)
        return GM_ETOOBIG;
    resp->json = w.p;
    resp->len = w.len - 1;
    resp->n_errors = count_kept(&ex->errs);
    return 0;
}

int
gm_gql_execute(struct gm_gql_engine *e, const struct gm_gql_prepared *p,
               const struct gm_gql_exec_params *params, struct gm_arena *a,
               struct gm_gql_response *resp)
{
    static const struct gm_gql_exec_params no_params;
    struct exec ex = {
        .e = e,
        .s = e->schema,
        .p = p,
        .params = params ? params : &no_params,
        .a = a,
    };
    ex.out.a = a;
    gm_gql_errors_init(&ex.errs);
    memset(resp, 0, sizeof(*resp));
    size_t saved_budget = a->budget;
    if (!a->budget)
        a->budget = e->opts.arena_budget;
    int rc = 0;
    const char *msg = NULL;
    ex.op = select_op(p, ex.params->operation_name, &msg);
    if (!ex.op) {
        if (!msg)
            gm_gql_errors_add(&ex.errs, a, GM_GQL_CODE_INPUT, NULL, 0, NULL,
                              "Unknown operation named \"%s\".", ex.params->operation_name);
        else
            gm_gql_errors_add(&ex.errs, a, GM_GQL_CODE_INPUT, NULL, 0, NULL, "%s", msg);
        rc = finish(&ex, 0, false, resp);
        goto out;
    }
    if (!coerce_vars(&ex)) {
        rc = finish(&ex, 0, false, resp);
        goto out;
    }
    const struct gm_gql_definition *def = ex.op->def;
    const struct gm_gql_stype *root = def->op == GM_GQL_OP_QUERY      ? ex.s->query
                                      : def->op == GM_GQL_OP_MUTATION ? ex.s->mutation
                                                                      : ex.s->subscription;
    JB_LIT(&ex.out, "{\"data\":");
    size_t data_off = 1;
    size_t body = ex.out.len;
    if (!root) {
        gm_gql_errors_add(&ex.errs, a, GM_GQL_CODE_INPUT, &def->loc, 1, NULL,
                          "Schema is not configured to execute %s operation.",
                          gm_gql_op_name(def->op));
        JB_LIT(&ex.out, "null");
        rc = finish(&ex, data_off, true, resp);
        goto out;
    }
    struct coll c;
    const struct gm__gql_plan *plan =
        get_plan(&ex, (_Atomic(const struct gm__gql_plan *) *)&ex.op->plan,
                 (atomic_bool *)&ex.op->plan_dynamic, true, NULL, 0, def->selection_set, root, &c);
    if (!plan) {
        if (c.failed)
            gm_gql_errors_add(&ex.errs, a, GM_GQL_CODE_INPUT, &c.err.loc, 1, NULL, "%s",
                              c.err.msg.p);
        JB_LIT(&ex.out, "null");
    } else if (exec_fields(&ex, plan, root, ex.params->root_value, NULL) == PROP) {
        ex.out.len = body;
        JB_LIT(&ex.out, "null");
    }
    rc = finish(&ex, data_off, true, resp);
out:
    if (rc == GM_ETOOBIG)
        set_too_big(resp);
    a->budget = saved_budget;
    return rc;
}

int
gm_gql_run(struct gm_gql_engine *e, const char *src, size_t len,
           const struct gm_gql_exec_params *params, struct gm_arena *a,
           struct gm_gql_response *resp)
{
    struct gm_gql_errors errs;
    struct gm_gql_prepared *p = NULL;
    gm_gql_errors_init(&errs);
    memset(resp, 0, sizeof(*resp));
    int rc = gm_gql_prepare(e, src, len, a, &errs, &p);
    if (rc < 0) {
        rc = gm_gql_errors_response(&errs, a, resp);
        return rc < 0 ? rc : 0;
    }
    rc = gm_gql_execute(e, p, params, a, resp);
    gm_gql_prepared_release(e, p);
    return rc;
}

int
gm__gql_prepared_index(const struct gm_gql_schema *s, struct gm_gql_prepared *p)
{
    size_t n_ops = 0, n_frags = 0;
    for (const struct gm_gql_definition *d = p->doc->definitions; d; d = d->next) {
        if (d->kind == GM_GQL_DEF_OPERATION)
            n_ops++;
        else if (d->kind == GM_GQL_DEF_FRAGMENT)
            n_frags++;
    }
    p->ops = gm_arena_alloc(&p->arena, (n_ops ? n_ops : 1) * sizeof(*p->ops));
    p->frags = gm_arena_alloc(&p->arena, (n_frags ? n_frags : 1) * sizeof(*p->frags));
    if (!p->ops || !p->frags)
        return GM_ETOOBIG;
    for (const struct gm_gql_definition *d = p->doc->definitions; d; d = d->next) {
        if (d->kind == GM_GQL_DEF_FRAGMENT) {
            p->frags[p->n_frags++] = d;
            continue;
        }
        if (d->kind != GM_GQL_DEF_OPERATION)
            continue;
        struct gm__gql_op *op = &p->ops[p->n_ops++];
        op->def = d;
        atomic_init(&op->plan, NULL);
        atomic_init(&op->plan_dynamic, false);
        for (const struct gm_gql_var_def *vd = d->var_defs; vd; vd = vd->next)
            op->n_vars++;
        if (!op->n_vars)
            continue;
        op->var_types = gm_arena_alloc(&p->arena, op->n_vars * sizeof(*op->var_types));
        op->var_defs = gm_arena_alloc(&p->arena, op->n_vars * sizeof(*op->var_defs));
        if (!op->var_types || !op->var_defs)
            return GM_ETOOBIG;
        size_t i = 0;
        for (const struct gm_gql_var_def *vd = d->var_defs; vd; vd = vd->next, i++) {
            op->var_defs[i] = vd;
            op->var_types[i] = gm_gql_tref_resolve(s, vd->type, &p->arena);
        }
    }
    return 0;
}

/* ---- resolver helpers ---- */

void
gm_gql_rval_null(struct gm_gql_rval *v)
{
    memset(v, 0, sizeof(*v));
    v->kind = GM_GQL_R_NULL;
}

void
gm_gql_rval_int(struct gm_gql_rval *v, int64_t i)
{
    v->kind = GM_GQL_R_INT;
    v->i = i;
}

void
gm_gql_rval_float(struct gm_gql_rval *v, double f)
{
    v->kind = GM_GQL_R_FLOAT;
    v->f = f;
}

void
gm_gql_rval_bool(struct gm_gql_rval *v, bool b)
{
    v->kind = GM_GQL_R_BOOL;
    v->b = b;
}

void
gm_gql_rval_str(struct gm_gql_rval *v, const char *s, size_t len)
{
    v->kind = s ? GM_GQL_R_STRING : GM_GQL_R_NULL;
    v->s = s;
    v->len = len;
}

void
gm_gql_rval_obj(struct gm_gql_rval *v, const void *obj, const struct gm_gql_stype *type)
{
    v->kind = obj ? GM_GQL_R_OBJECT : GM_GQL_R_NULL;
    v->obj = obj;
    v->type = type;
}

struct gm_gql_rval *
gm_gql_rval_list(struct gm_gql_rctx *ctx, struct gm_gql_rval *v, size_t n)
{
    if (n > SIZE_MAX / sizeof(struct gm_gql_rval))
        return NULL; /* n * size would wrap to a small block */
    struct gm_gql_rval *items = gm_arena_alloc(ctx->arena, (n ? n : 1) * sizeof(*items));
    if (!items)
        return NULL;
    v->kind = GM_GQL_R_LIST;
    v->items = items;
    v->n = n;
    return items;
}

const struct gm_gql_ival *
gm_gql_arg(const struct gm_gql_rctx *ctx, const char *name)
{
    const struct gm_gql_sfield *f = ctx->field;
    if (!ctx->args)
        return NULL;
    for (size_t i = 0; i < f->n_args; i++)
        if (strcmp(f->args[i].name, name) == 0)
            return ctx->args[i];
    return NULL;
}

int
gm_gql_rctx_error(struct gm_gql_rctx *ctx, const char *code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    ctx->err_code = code;
    ctx->err_msg = gm_arena_strndup(ctx->arena, buf, (size_t)n);
    return GM_EINVAL;
}
