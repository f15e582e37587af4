/*
 * usercodec.c: the hand decoder and encoder of learner records (see
 * usercodec.h). Both walk a table built once from the generated
 * descriptors (field number -> descriptor), so a proto3 scalar, string or
 * bytes field added to UserState, HeldBadge or Holding is read and written
 * too; a field of any other kind turns the codec off (protobuf-c then
 * does all the work, as before).
 */
#include "usercodec.h"

#include "varint.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELD 32 /* field numbers covered: 1..31 (keys of at most 2 bytes) */
#define WT_VARINT 0
#define WT_LEN    2

struct msg_info {
    const ProtobufCMessageDescriptor *desc;
    const ProtobufCFieldDescriptor *by_num[MAX_FIELD];
    const struct msg_info *sub[MAX_FIELD]; /* repeated message fields */
    /* the fields that own memory (strings, bytes, repeated messages), by
     * number: what gm_user_free walks */
    const ProtobufCFieldDescriptor *owning[MAX_FIELD];
    unsigned n_owning;
};

static struct msg_info user_info, badge_info, holding_info;
static bool covered;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Fills mi from d; false when d has a field kind this codec does not know. */
static bool
info_init(struct msg_info *mi, const ProtobufCMessageDescriptor *d)
{
    mi->desc = d;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->id == 0 || f->id >= MAX_FIELD || (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
            (i > 0 && f->id <= d->fields[i - 1].id))
            return false;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (f->type != PROTOBUF_C_TYPE_MESSAGE)
                return false;
            const ProtobufCMessageDescriptor *sd = f->descriptor;
            if (sd == &gamify__internal__held_badge__descriptor)
                mi->sub[f->id] = &badge_info;
            else if (sd == &gamify__internal__holding__descriptor)
                mi->sub[f->id] = &holding_info;
            else
                return false;
        } else if (f->label != PROTOBUF_C_LABEL_NONE ||
                   (f->type != PROTOBUF_C_TYPE_INT64 && f->type != PROTOBUF_C_TYPE_BOOL &&
                    f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES)) {
            return false;
        }
        mi->by_num[f->id] = f;
        if (f->label == PROTOBUF_C_LABEL_REPEATED || f->type == PROTOBUF_C_TYPE_STRING ||
            f->type == PROTOBUF_C_TYPE_BYTES)
            mi->owning[mi->n_owning++] = f;
    }
    return true;
}

static void
init_once(void)
{
    covered = info_init(&badge_info, &gamify__internal__held_badge__descriptor) &&
              info_init(&holding_info, &gamify__internal__holding__descriptor) &&
              info_init(&user_info, &gamify__internal__user_state__descriptor);
}

/* ---- decoding ---- */

/* Decodes len bytes at p into msg (initialised, of mi's type). Returns
 * false when not covered or malformed; msg stays consistent for
 * protobuf_c_message_free_unpacked. */
static bool
decode_msg(const struct msg_info *mi, const uint8_t *p, size_t len, void *msg)
{
    uint32_t seen = 0;
    size_t caps[MAX_FIELD] = {0};
    for (size_t r = 0; r < len;) {
        uint64_t key, v;
        size_t n = gm__varint_get(p + r, len - r, &key);
        if (!n || key >> 3 >= MAX_FIELD)
            return false;
        r += n;
        unsigned num = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
        const ProtobufCFieldDescriptor *f = mi->by_num[num];
        if (!f)
            return false; /* unknown field: protobuf-c keeps it, so it decodes */
        bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
        if (!repeated) {
            if (seen & (UINT32_C(1) << num))
                return false; /* merged by protobuf-c: left to it */
            seen |= UINT32_C(1) << num;
        }
        void *m = (char *)msg + f->offset;
        if (f->type == PROTOBUF_C_TYPE_INT64 || f->type == PROTOBUF_C_TYPE_BOOL) {
            if (wt != WT_VARINT || !(n = gm__varint_get(p + r, len - r, &v)))
                return false;
            r += n;
            if (f->type == PROTOBUF_C_TYPE_INT64)
                *(int64_t *)m = (int64_t)v;
            else
                *(protobuf_c_boolean *)m = v != 0;
            continue;
        }
        if (wt != WT_LEN || !(n = gm__varint_get(p + r, len - r, &v)) || v > len - r - n)
            return false;
        r += n;
        const uint8_t *d = p + r;
        size_t dl = (size_t)v;
        r += dl;
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            for (size_t i = 0; i < dl; i++) {
                if (d[i] >= 0x80)
                    return false; /* UTF-8 checks are protobuf-c's */
            }
            char *s = malloc(dl + 1);
            if (!s)
                abort();
            memcpy(s, d, dl);
            s[dl] = '\0';
            *(char **)m = s;
        } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
            ProtobufCBinaryData *b = m;
            if (dl) {
                if (!(b->data = malloc(dl)))
                    abort();
                memcpy(b->data, d, dl);
            }
            b->len = dl;
        } else {
            const struct msg_info *si = mi->sub[num];
            size_t *count = (size_t *)((char *)msg + f->quantifier_offset);
            void ***arr = m;
            if (*count == caps[num]) {
                caps[num] = caps[num] ? caps[num] * 2 : 4;
                void **grown = realloc(*arr, caps[num] * sizeof **arr);
                if (!grown)
                    abort();
                *arr = grown;
            }
            ProtobufCMessage *sub = malloc(si->desc->sizeof_message);
            if (!sub)
                abort();
            si->desc->message_init(sub);
            (*arr)[(*count)++] = sub;
            if (!decode_msg(si, d, dl, sub))
                return false;
        }
    }
    return true;
}

Gamify__Internal__UserState *
gm_user_decode(const uint8_t *data, size_t len)
{
    pthread_once(&once, init_once);
    if (!covered)
        return NULL;
    Gamify__Internal__UserState *st = malloc(sizeof *st);
    if (!st)
        abort();
    gamify__internal__user_state__init(st);
    if (!decode_msg(&user_info, data, len, st)) {
        gamify__internal__user_state__free_unpacked(st, NULL);
        return NULL;
    }
    return st;
}

/* ---- freeing ---- */

/* Frees msg (of mi's type) as protobuf_c_message_free_unpacked does with
 * the default allocator, walking only the fields that own memory; a
 * message with unknown fields is left to protobuf-c whole. */
static void
free_msg(const struct msg_info *mi, ProtobufCMessage *msg)
{
    if (msg->n_unknown_fields) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return;
    }
    for (unsigned i = 0; i < mi->n_owning; i++) {
        const ProtobufCFieldDescriptor *f = mi->owning[i];
        void *m = (char *)msg + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)msg + f->quantifier_offset);
            void **arr = *(void ***)m;
            if (!arr)
                continue;
            for (size_t j = 0; j < n; j++)
                if (arr[j])
                    free_msg(mi->sub[f->id], arr[j]);
            free(arr);
        } else if (f->type == PROTOBUF_C_TYPE_STRING) {
            char *str = *(char **)m;
            if (str && str != f->default_value)
                free(str);
        } else {
            const ProtobufCBinaryData *def = f->default_value;
            void *data = ((ProtobufCBinaryData *)m)->data;
            if (data && (!def || def->data != data))
                free(data);
        }
    }
    free(msg);
}

void
gm_user_free(Gamify__Internal__UserState *st)
{
    if (!st)
        return;
    pthread_once(&once, init_once);
    if (!covered) {
        gamify__internal__user_state__free_unpacked(st, NULL);
        return;
    }
    free_msg(&user_info, &st->base);
}

/* ---- encoding (protobuf-c's order and defaults: fields by number, proto3
 * zero values left out, bools as 1, int64 as plain varints) ---- */

/* The size of msg's fields, or 0 with *ok false when it has unknown fields. */
static size_t
msg_size(const struct msg_info *mi, const void *msg, bool *ok)
{
    const ProtobufCMessageDescriptor *d = mi->desc;
    if (((const ProtobufCMessage *)msg)->n_unknown_fields)
        *ok = false;
    size_t n = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *m = (const char *)msg + f->offset;
        size_t key = f->id < 16 ? 1 : 2;
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT64:
            if (*(const int64_t *)m)
                n += key + gm__varint_size((uint64_t) * (const int64_t *)m);
            break;
        case PROTOBUF_C_TYPE_BOOL:
            if (*(const protobuf_c_boolean *)m)
                n += key + 1;
            break;
        case PROTOBUF_C_TYPE_STRING: {
            const char *s = *(char *const *)m;
            if (s && *s) {
                size_t l = strlen(s);
                n += key + gm__varint_size(l) + l;
            }
            break;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *b = m;
            if (b->len)
                n += key + gm__varint_size(b->len) + b->len;
            break;
        }
        default: {
            size_t count = *(const size_t *)((const char *)msg + f->quantifier_offset);
            void *const *arr = *(void *const *const *)m;
            for (size_t k = 0; k < count; k++) {
                size_t sub = msg_size(mi->sub[f->id], arr[k], ok);
                n += key + gm__varint_size(sub) + sub;
            }
            break;
        }
        }
    }
    return n;
}

static uint8_t *
put_key(uint8_t *p, unsigned num, unsigned wt)
{
    return gm__varint_put(p, (uint64_t)(num << 3 | wt));
}

static uint8_t *
msg_write(const struct msg_info *mi, const void *msg, uint8_t *p)
{
    const ProtobufCMessageDescriptor *d = mi->desc;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *m = (const char *)msg + f->offset;
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT64:
            if (*(const int64_t *)m) {
                p = put_key(p, f->id, WT_VARINT);
                p = gm__varint_put(p, (uint64_t) * (const int64_t *)m);
            }
            break;
        case PROTOBUF_C_TYPE_BOOL:
            if (*(const protobuf_c_boolean *)m) {
                p = put_key(p, f->id, WT_VARINT);
                *p++ = 1;
            }
            break;
        case PROTOBUF_C_TYPE_STRING: {
            const char *s = *(char *const *)m;
            if (s && *s) {
                size_t l = strlen(s);
                p = put_key(p, f->id, WT_LEN);
                p = gm__varint_put(p, l);
                memcpy(p, s, l);
                p += l;
            }
            break;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *b = m;
            if (b->len) {
                p = put_key(p, f->id, WT_LEN);
                p = gm__varint_put(p, b->len);
                memcpy(p, b->data, b->len);
                p += b->len;
            }
            break;
        }
        default: {
            size_t count = *(const size_t *)((const char *)msg + f->quantifier_offset);
            void *const *arr = *(void *const *const *)m;
            for (size_t k = 0; k < count; k++) {
                bool ok = true;
                size_t sub = msg_size(mi->sub[f->id], arr[k], &ok);
                p = put_key(p, f->id, WT_LEN);
                p = gm__varint_put(p, sub);
                p = msg_write(mi->sub[f->id], arr[k], p);
            }
            break;
        }
        }
    }
    return p;
}

size_t
gm_user_encode_size(const Gamify__Internal__UserState *st)
{
    pthread_once(&once, init_once);
    if (!covered)
        return 0;
    bool ok = true;
    size_t n = msg_size(&user_info, st, &ok);
    return ok ? n : 0;
}

uint8_t *
gm_user_encode(const Gamify__Internal__UserState *st, uint8_t *out)
{
    return msg_write(&user_info, st, out);
}

/* ---- the packed scores of a stored record, found without decoding ---- */

bool
gm_user_scores_span(const uint8_t *data, size_t len, size_t *key_at, size_t *at, size_t *n)
{
    pthread_once(&once, init_once);
    const ProtobufCFieldDescriptor *sf = user_info.by_num[27];
    if (!covered || !sf || sf->type != PROTOBUF_C_TYPE_BYTES ||
        strcmp(sf->name, "scores_packed") != 0)
        return false;
    unsigned prev = 0;
    *key_at = *at = len;
    *n = 0;
    for (size_t r = 0; r < len;) {
        uint64_t key, v;
        size_t k = gm__varint_get(data + r, len - r, &key);
        if (!k || key >> 3 >= MAX_FIELD)
            return false;
        unsigned num = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
        const ProtobufCFieldDescriptor *f = user_info.by_num[num];
        /* protobuf-c's order: by number, a repeated field's items together;
         * the v1 scores of an old state are converted by the full decode */
        if (!f || num < prev || (num == prev && f->label != PROTOBUF_C_LABEL_REPEATED) ||
            num == 26 || *at != len)
            return false;
        prev = num;
        size_t start = r;
        r += k;
        size_t m = gm__varint_get(data + r, len - r, &v);
        if (!m)
            return false;
        r += m;
        if (wt == WT_LEN) {
            if (v > len - r)
                return false;
            if (num == 27) {
                *key_at = start;
                *at = r;
                *n = (size_t)v;
            }
            r += (size_t)v;
        } else if (wt != WT_VARINT) {
            return false;
        }
    }
    return true;
}

uint8_t *
gm_user_put_scores(uint8_t *p, size_t n)
{
    if (!n)
        return p;
    p = put_key(p, 27, WT_LEN);
    return gm__varint_put(p, n);
}
