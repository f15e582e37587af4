/*
 * json.c: the proto3 JSON mapping, driven by protobuf-c's message
 * descriptors, so one walker serves every message of the contract.
 *
 * Building a message from JSON keeps it freeable at every step: repeated
 * arrays count only the elements already filled, and a oneof's case is set
 * before its member, so protobuf_c_message_free_unpacked can always clean
 * up after an error part-way through.
 */
#include "json.h"

#include "timefmt.h"
#include "timestamp.pb-c.h"
#include "wrappers.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 120

/* The lowerCamelCase JSON name of a proto field name, as protoc makes it. */
static void
json_name(const char *name, char *out, size_t cap)
{
    size_t n = 0;
    bool upper = false;
    for (const char *p = name; *p && n + 1 < cap; p++) {
        if (*p == '_') {
            upper = true;
            continue;
        }
        out[n++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        upper = false;
    }
    out[n] = '\0';
}

static const ProtobufCFieldDescriptor *
find_field(const ProtobufCMessageDescriptor *desc, const char *key)
{
    char jn[128];
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (strcmp(f->name, key) == 0)
            return f;
        json_name(f->name, jn, sizeof jn);
        if (strcmp(jn, key) == 0)
            return f;
    }
    return NULL;
}

static bool
is_wrapper(const ProtobufCMessageDescriptor *d)
{
    return d == &google__protobuf__int32_value__descriptor ||
           d == &google__protobuf__int64_value__descriptor ||
           d == &google__protobuf__uint32_value__descriptor ||
           d == &google__protobuf__uint64_value__descriptor ||
           d == &google__protobuf__bool_value__descriptor ||
           d == &google__protobuf__string_value__descriptor;
}

static const char *
json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static int
type_error(struct gm_err *err, const char *path, const char *want, const json_t *v)
{
    gm_err_set(err, GM_EINVAL, "%s: expected %s, got %s", path, want, json_type_name(v));
    return gm_err_where(err, path);
}

/* Reads an integer in [lo, hi] from a JSON number or a decimal string. */
static int
get_int(const json_t *v, int64_t lo, uint64_t hi, bool is_unsigned, uint64_t *bits,
        const char *path, struct gm_err *err)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if ((x < 0 && (is_unsigned || x < lo)) || (x > 0 && (uint64_t)x > hi))
            goto range;
        *bits = (uint64_t)x;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || d != floor(d))
            goto notint;
        if (d < (double)lo || d > (double)hi || d >= 18446744073709551616.0)
            goto range;
        *bits = d < 0 ? (uint64_t)(int64_t)d : (uint64_t)d;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (len == 0 || len > 20)
            goto notint;
        for (size_t i = (s[0] == '-'); i < len; i++) {
            if (s[i] < '0' || s[i] > '9')
                goto notint;
        }
        if (s[0] == '-' && len == 1)
            goto notint;
        errno = 0;
        if (s[0] == '-') {
            long long x = strtoll(s, NULL, 10);
            if (errno || is_unsigned || x < lo)
                goto range;
            *bits = (uint64_t)x;
        } else {
            unsigned long long x = strtoull(s, NULL, 10);
            if (errno || x > hi)
                goto range;
            *bits = x;
        }
        return 0;
    }
    return type_error(err, path, "an integer", v);
notint:
    gm_err_set(err, GM_EINVAL, "%s: not an integer", path);
    return gm_err_where(err, path);
range:
    gm_err_set(err, GM_EINVAL, "%s: out of range for its type", path);
    return gm_err_where(err, path);
}

static int build_message(const ProtobufCMessageDescriptor *desc, json_t *v, const char *path,
                         ProtobufCMessage **out, struct gm_err *err);

static size_t
elem_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

/* Converts one JSON value into the field's C representation at dst. */
static int
set_value(const ProtobufCFieldDescriptor *f, json_t *v, const char *path, void *dst,
          struct gm_err *err)
{
    uint64_t bits;
    int rc;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((rc = get_int(v, INT32_MIN, INT32_MAX, false, &bits, path, err)))
            return rc;
        *(int32_t *)dst = (int32_t)(int64_t)bits;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((rc = get_int(v, 0, UINT32_MAX, true, &bits, path, err)))
            return rc;
        *(uint32_t *)dst = (uint32_t)bits;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((rc = get_int(v, INT64_MIN, INT64_MAX, false, &bits, path, err)))
            return rc;
        *(int64_t *)dst = (int64_t)bits;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((rc = get_int(v, 0, UINT64_MAX, true, &bits, path, err)))
            return rc;
        *(uint64_t *)dst = bits;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return type_error(err, path, "true or false", v);
        *(protobuf_c_boolean *)dst = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        if (json_is_string(v)) {
            const ProtobufCEnumValue *ev =
                protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
            if (!ev) {
                gm_err_set(err, GM_EINVAL, "%s: unknown value \"%.64s\" for enum %s", path,
                           json_string_value(v), ed->name);
                return gm_err_where(err, path);
            }
            *(int *)dst = ev->value;
            return 0;
        }
        if (json_is_integer(v) && !json_is_real(v)) {
            if ((rc = get_int(v, INT32_MIN, INT32_MAX, false, &bits, path, err)))
                return rc;
            *(int *)dst = (int)(int64_t)bits;
            return 0;
        }
        return type_error(err, path, "an enum name", v);
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v))
            return type_error(err, path, "a string", v);
        /* jansson rejects \u0000 unless asked, so strlen is the length. */
        char *s = strdup(json_string_value(v));
        if (!s)
            abort();
        *(char **)dst = s;
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *sub = NULL;
        if ((rc = build_message(f->descriptor, v, path, &sub, err)))
            return rc;
        *(ProtobufCMessage **)dst = sub;
        return 0;
    }
    default:
        gm_err_set(err, GM_EINVAL, "%s: field type not supported by the JSON mapping", path);
        return gm_err_where(err, path);
    }
}

static int
set_field(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, json_t *v, const char *path,
          struct gm_err *err)
{
    char *base = (char *)m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        if (!json_is_array(v))
            return type_error(err, path, "an array", v);
        size_t n = json_array_size(v);
        if (n > GM_JSON_REPEATED_MAX) {
            gm_err_set(err, GM_EINVAL, "%s: %zu elements, at most %d allowed", path, n,
                       GM_JSON_REPEATED_MAX);
            return gm_err_where(err, path);
        }
        size_t *count = (size_t *)(base + f->quantifier_offset);
        void **arr = (void **)(base + f->offset);
        if (*arr) {
            gm_err_set(err, GM_EINVAL, "%s: given twice", path);
            return gm_err_where(err, path);
        }
        if (n == 0)
            return 0;
        size_t es = elem_size(f->type);
        *arr = calloc(n, es);
        if (!*arr)
            abort();
        for (size_t i = 0; i < n; i++) {
            char ipath[PATH_MAX_LEN + 24];
            snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
            json_t *item = json_array_get(v, i);
            if (json_is_null(item)) {
                gm_err_set(err, GM_EINVAL, "%s: null is not allowed in a list", ipath);
                return gm_err_where(err, ipath);
            }
            int rc = set_value(f, item, ipath, (char *)*arr + i * es, err);
            if (rc)
                return rc;
            (*count)++;
        }
        return 0;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
        if (*which != 0) {
            gm_err_set(err, GM_EINVAL, "%s: another member of the same oneof is already set", path);
            return gm_err_where(err, path);
        }
        *which = f->id;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
               f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
        *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
    }
    return set_value(f, v, path, base + f->offset, err);
}

static int
build_message(const ProtobufCMessageDescriptor *desc, json_t *v, const char *path,
              ProtobufCMessage **out, struct gm_err *err)
{
    int rc = 0;
    bool *seen = NULL;
    *out = NULL;
    if (desc == &google__protobuf__timestamp__descriptor) {
        int64_t sec;
        int32_t ns;
        if (!json_is_string(v))
            return type_error(err, path, "an RFC 3339 timestamp string", v);
        if (gm_time_parse_rfc3339(json_string_value(v), json_string_length(v), &sec, &ns)) {
            gm_err_set(err, GM_EINVAL,
                       "%s: \"%.64s\" is not an RFC 3339 timestamp (e.g. 2026-11-25T10:00:00Z)",
                       path, json_string_value(v));
            return gm_err_where(err, path);
        }
        Google__Protobuf__Timestamp *ts = malloc(sizeof *ts);
        if (!ts)
            abort();
        google__protobuf__timestamp__init(ts);
        ts->seconds = sec;
        ts->nanos = ns;
        *out = &ts->base;
        return 0;
    }

    ProtobufCMessage *m = calloc(1, desc->sizeof_message);
    if (!m)
        abort();
    desc->message_init(m);

    if (is_wrapper(desc)) {
        rc = set_field(m, &desc->fields[0], v, path, err);
        goto out;
    }
    if (!json_is_object(v)) {
        rc = type_error(err, path, "an object", v);
        goto out;
    }
    /* A field given twice, under its JSON and its proto name, is an error
     * (as in protobuf's own JSON parsers): silently keeping the last would
     * also leak the first value. */
    seen = calloc(desc->n_fields ? desc->n_fields : 1, sizeof *seen);
    if (!seen)
        abort();
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        char fpath[PATH_MAX_LEN + 8];
        if (*path)
            snprintf(fpath, sizeof fpath, "%s.%.64s", path, key);
        else
            snprintf(fpath, sizeof fpath, "%.64s", key);
        const ProtobufCFieldDescriptor *f = find_field(desc, key);
        if (!f) {
            gm_err_set(err, GM_EINVAL, "%s: unknown field in %s", fpath, desc->name);
            rc = gm_err_where(err, fpath);
            goto out;
        }
        if (seen[f - desc->fields]) {
            gm_err_set(err, GM_EINVAL, "%s: field %s given twice", fpath, f->name);
            rc = gm_err_where(err, fpath);
            goto out;
        }
        seen[f - desc->fields] = true;
        if (json_is_null(val))
            continue; /* proto3: null means the default */
        if ((rc = set_field(m, f, val, fpath, err)))
            goto out;
    }
out:
    free(seen);
    if (rc) {
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    *out = m;
    return 0;
}

int
gm_pb_from_json_value(const ProtobufCMessageDescriptor *desc, json_t *v, ProtobufCMessage **out,
                      struct gm_err *err)
{
    return build_message(desc, v, "", out, err);
}

int
gm_pb_from_json(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
                ProtobufCMessage **out, struct gm_err *err)
{
    *out = NULL;
    if (len > GM_JSON_MAX)
        return gm_err_set(err, GM_ETOOBIG, "JSON of %zu bytes exceeds the %d byte limit", len,
                          GM_JSON_MAX);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root)
        return gm_err_setpos(err, GM_EJSON, jerr.line, jerr.column, "invalid JSON: %s", jerr.text);
    int rc;
    if (!json_is_object(root))
        rc = gm_err_set(err, GM_EINVAL, "expected a JSON object, got %s", json_type_name(root));
    else
        rc = build_message(desc, root, "", out, err);
    json_decref(root);
    return rc;
}

/* Returns a new JSON value for one scalar or message, or NULL. */
static json_t *
value_to_json(const ProtobufCFieldDescriptor *f, const void *src)
{
    char buf[32];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)src);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)src);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof buf, "%" PRId64, *(const int64_t *)src);
        return json_string(buf);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)src);
        return json_string(buf);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)src);
    case PROTOBUF_C_TYPE_ENUM: {
        int val = *(const int *)src;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
            (const ProtobufCEnumDescriptor *)f->descriptor, val);
        return ev ? json_string(ev->name) : json_integer(val);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)src;
        return json_string(s ? s : "");
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return gm_pb_to_json_value(*(ProtobufCMessage *const *)src);
    default:
        return NULL;
    }
}

/* True when a proto3 implicit-presence field holds its default. */
static bool
is_default(const ProtobufCFieldDescriptor *f, const void *src)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)src == 0;
    case PROTOBUF_C_TYPE_BOOL:
        return !*(const protobuf_c_boolean *)src;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)src;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)src == NULL;
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int *)src == 0;
    default:
        return *(const uint32_t *)src == 0;
    }
}

json_t *
gm_pb_to_json_value(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    const char *base = (const char *)msg;
    if (desc == &google__protobuf__timestamp__descriptor) {
        const Google__Protobuf__Timestamp *ts = (const Google__Protobuf__Timestamp *)msg;
        char buf[GM_RFC3339_MAX];
        if (gm_time_format_rfc3339(ts->seconds, ts->nanos, buf))
            return NULL;
        return json_string(buf);
    }
    if (is_wrapper(desc))
        return value_to_json(&desc->fields[0], base + desc->fields[0].offset);

    json_t *obj = json_object();
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const void *src = base + f->offset;
        json_t *v = NULL;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            if (n == 0)
                continue;
            v = json_array();
            for (size_t k = 0; k < n; k++) {
                json_t *item = value_to_json(f, *(char *const *)src + k * elem_size(f->type));
                if (!item || json_array_append_new(v, item)) {
                    json_decref(v);
                    goto fail;
                }
            }
        } else {
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                    continue;
            } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
                       f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
                if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset))
                    continue;
            } else if (is_default(f, src)) {
                continue;
            }
            v = value_to_json(f, src);
            if (!v)
                goto fail;
        }
        char jn[128];
        json_name(f->name, jn, sizeof jn);
        json_object_set_new(obj, jn, v);
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

char *
gm_pb_to_json(const ProtobufCMessage *msg)
{
    json_t *v = gm_pb_to_json_value(msg);
    if (!v)
        return NULL;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    return s;
}

int
gm_event_from_json(const char *text, size_t len, Gamification__V1__Event **out, struct gm_err *err)
{
    ProtobufCMessage *m = NULL;
    *out = NULL;
    int rc = gm_pb_from_json(&gamification__v1__event__descriptor, text, len, &m, err);
    if (rc)
        return rc;
    Gamification__V1__Event *ev = (Gamification__V1__Event *)m;
    if ((rc = gm_event_validate(ev, err))) {
        gm_event_free(ev);
        return rc;
    }
    *out = ev;
    return 0;
}

char *
gm_event_to_json(const Gamification__V1__Event *ev)
{
    return gm_pb_to_json(&ev->base);
}
