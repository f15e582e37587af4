/*
 * eventdec.c: the plain event decoded by hand (codec.h,
 * gm__event_decode_plain). Every record the processor folds goes through
 * gm_event_decode_in; protobuf-c's generic unpack and the scan for merged
 * fields before it were about a sixth of the instructions of a folded
 * event. Most records are plain: every field known and of its wire type,
 * each singular field once, at most one member of the oneof, strings in
 * ASCII, numbers in range. Those are decoded here, walking the generated
 * descriptors (so a field of a covered kind added to the contract is
 * decoded too), into exactly the message protobuf-c would build, through
 * the same allocator. Anything else is declined and takes the general path
 * (scan, merge, protobuf-c), with its errors: this decoder never rejects.
 */
#include "codec.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PLAIN_MAX_FIELD 32 /* field numbers covered: 1..31 */
#define PLAIN_DEPTH_MAX 4
#define WT_VARINT       0
#define WT_LEN          2

static void *
plain_alloc(ProtobufCAllocator *a, size_t n)
{
    void *p = a ? a->alloc(a->allocator_data, n) : malloc(n);
    if (!p)
        abort();
    return p;
}

/* Reads a varint of at most max bytes; returns its length, 0 otherwise. */
static size_t
plain_varint(const uint8_t *p, size_t len, size_t max, uint64_t *v)
{
    uint64_t r = 0;
    for (size_t i = 0; i < len && i < max; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

/* Field number -> descriptor of each message an event holds, built once. */
#define PLAIN_MSGS_MAX 16
struct plain_table {
    const ProtobufCMessageDescriptor *desc;
    const ProtobufCFieldDescriptor *by_num[PLAIN_MAX_FIELD];
    const struct plain_table *sub[PLAIN_MAX_FIELD];
    bool has_repeated;
};
static struct plain_table tables[PLAIN_MSGS_MAX];
static size_t n_tables;
static const struct plain_table *event_table; /* NULL: not covered */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static struct plain_table *
table_for(const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < n_tables; i++) {
        if (tables[i].desc == d)
            return &tables[i];
    }
    if (n_tables == PLAIN_MSGS_MAX)
        return NULL;
    struct plain_table *t = &tables[n_tables++];
    t->desc = d;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->id >= PLAIN_MAX_FIELD)
            continue; /* never met: a record using it is declined */
        t->by_num[f->id] = f;
        t->has_repeated |= f->label == PROTOBUF_C_LABEL_REPEATED;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && !(t->sub[f->id] = table_for(f->descriptor)))
            return NULL;
    }
    return t;
}

static void
tables_init(void)
{
    event_table = table_for(&gamification__v1__event__descriptor);
}

/* Whether n bytes at p are all ASCII (eight at a time). */
static bool
ascii(const uint8_t *p, size_t n)
{
    uint64_t acc = 0, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= p[i];
    return (acc & UINT64_C(0x8080808080808080)) == 0;
}

/*
 * First pass over one message: every field known and of its wire type,
 * singular fields and the oneof once, counts of repeated strings into
 * counts[]. False: declined.
 */
static bool
plain_shape(const struct plain_table *t, const uint8_t *p, size_t len,
            size_t counts[PLAIN_MAX_FIELD])
{
    uint32_t seen = 0;
    bool oneof_seen = false;
    for (size_t r = 0; r < len;) {
        uint64_t key, v;
        size_t n = plain_varint(p + r, len - r, 5, &key);
        if (!n || key >> 3 == 0 || key >> 3 >= PLAIN_MAX_FIELD)
            return false;
        r += n;
        unsigned num = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
        const ProtobufCFieldDescriptor *f = t->by_num[num];
        if (!f)
            return false;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (f->type != PROTOBUF_C_TYPE_STRING)
                return false;
            counts[num]++;
        } else if (f->label != PROTOBUF_C_LABEL_NONE || (seen & (UINT32_C(1) << num))) {
            return false;
        } else {
            seen |= UINT32_C(1) << num;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (oneof_seen)
                return false;
            oneof_seen = true;
        }
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_ENUM:
            /* non-negative and in range: protobuf-c reads the same */
            if (wt != WT_VARINT || !(n = plain_varint(p + r, len - r, 5, &v)) || v > INT32_MAX)
                return false;
            break;
        case PROTOBUF_C_TYPE_INT64:
            if (wt != WT_VARINT || !(n = plain_varint(p + r, len - r, 10, &v)))
                return false;
            break;
        case PROTOBUF_C_TYPE_BOOL:
            if (wt != WT_VARINT || !(n = plain_varint(p + r, len - r, 1, &v)))
                return false;
            break;
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_MESSAGE:
            if (wt != WT_LEN || !(n = plain_varint(p + r, len - r, 5, &v)) || v > len - r - n)
                return false;
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                if (!ascii(p + r + n, (size_t)v))
                    return false; /* UTF-8 is protobuf-c's and validation's */
            }
            n += (size_t)v;
            break;
        default:
            return false;
        }
        r += n;
    }
    return true;
}

/* Decodes a message of t (shape checked here); NULL: declined, nothing kept. */
static ProtobufCMessage *
plain_msg(const struct plain_table *t, const uint8_t *p, size_t len, ProtobufCAllocator *alloc,
          int depth, bool *ok)
{
    const ProtobufCMessageDescriptor *d = t->desc;
    size_t counts[PLAIN_MAX_FIELD];
    if (t->has_repeated)
        memset(counts, 0, sizeof counts);
    if (depth > PLAIN_DEPTH_MAX || !plain_shape(t, p, len, counts)) {
        *ok = false;
        return NULL;
    }
    ProtobufCMessage *m = plain_alloc(alloc, d->sizeof_message);
    d->message_init(m);
    for (unsigned num = 1; t->has_repeated && num < PLAIN_MAX_FIELD; num++) {
        if (counts[num]) {
            const ProtobufCFieldDescriptor *f = t->by_num[num];
            *(char ***)((char *)m + f->offset) = plain_alloc(alloc, counts[num] * sizeof(char *));
        }
    }
    for (size_t r = 0; r < len && *ok;) {
        uint64_t key = 0, v = 0; /* the shape pass read them all */
        r += plain_varint(p + r, len - r, 5, &key);
        const ProtobufCFieldDescriptor *f = t->by_num[key >> 3];
        void *at = (char *)m + f->offset;
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
            r += plain_varint(p + r, len - r, 10, &v);
            if (f->type == PROTOBUF_C_TYPE_INT64)
                *(int64_t *)at = (int64_t)v;
            else if (f->type == PROTOBUF_C_TYPE_BOOL)
                *(protobuf_c_boolean *)at = v != 0;
            else
                *(int32_t *)at = (int32_t)v;
        } else {
            r += plain_varint(p + r, len - r, 5, &v);
            const uint8_t *data = p + r;
            r += (size_t)v;
            void *value;
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                char *s = plain_alloc(alloc, (size_t)v + 1);
                memcpy(s, data, (size_t)v);
                s[v] = '\0';
                value = s;
            } else {
                value = plain_msg(t->sub[key >> 3], data, (size_t)v, alloc, depth + 1, ok);
                if (!value)
                    break;
            }
            if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                size_t *n = (size_t *)((char *)m + f->quantifier_offset);
                (*(char ***)at)[(*n)++] = value;
            } else {
                *(void **)at = value;
            }
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
    }
    if (!*ok) {
        protobuf_c_message_free_unpacked(m, alloc);
        return NULL;
    }
    return m;
}

int
gm__event_decode_plain(const uint8_t *buf, size_t len, ProtobufCAllocator *alloc,
                       Gamification__V1__Event **out)
{
    pthread_once(&tables_once, tables_init);
    if (!event_table)
        return 0;
    bool ok = true;
    ProtobufCMessage *m = plain_msg(event_table, buf, len, alloc, 0, &ok);
    *out = (Gamification__V1__Event *)m;
    return m != NULL;
}
