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
 * One walk per message: each field is checked as it is stored (a record
 * declined part way gives back what was built); repeated strings are held
 * aside until their count is known.
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

static void
plain_free(ProtobufCAllocator *a, void *p)
{
    if (a)
        a->free(a->allocator_data, p);
    else
        free(p);
}

/* Repeated strings a message may hold before it is declined (the general
 * path takes more): held aside until their count is known. */
#define PLAIN_REPEATED_MAX 32

/*
 * Decodes a message of t in one walk: every field known and of its wire
 * type, singular fields and the oneof once, strings in ASCII, numbers in
 * range, each checked as it is read and stored. NULL: declined, nothing
 * kept (what was built is freed).
 */
static ProtobufCMessage *
plain_msg(const struct plain_table *t, const uint8_t *p, size_t len, ProtobufCAllocator *alloc,
          int depth)
{
    if (depth > PLAIN_DEPTH_MAX)
        return NULL;
    const ProtobufCMessageDescriptor *d = t->desc;
    ProtobufCMessage *m = plain_alloc(alloc, d->sizeof_message);
    d->message_init(m);
    uint32_t seen = 0;
    bool oneof_seen = false;
    char *rep[PLAIN_REPEATED_MAX];
    unsigned rep_num[PLAIN_REPEATED_MAX];
    size_t n_rep = 0;
    for (size_t r = 0; r < len;) {
        uint64_t key, v;
        size_t n = plain_varint(p + r, len - r, 5, &key);
        if (!n || key >> 3 == 0 || key >> 3 >= PLAIN_MAX_FIELD)
            goto decline;
        r += n;
        unsigned num = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
        const ProtobufCFieldDescriptor *f = t->by_num[num];
        if (!f)
            goto decline;
        bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
        if (repeated) {
            if (f->type != PROTOBUF_C_TYPE_STRING || n_rep == PLAIN_REPEATED_MAX)
                goto decline;
        } else if (f->label != PROTOBUF_C_LABEL_NONE || (seen & (UINT32_C(1) << num))) {
            goto decline;
        } else {
            seen |= UINT32_C(1) << num;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (oneof_seen)
                goto decline;
            oneof_seen = true;
        }
        void *at = (char *)m + f->offset;
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_ENUM:
            /* non-negative and in range: protobuf-c reads the same */
            if (wt != WT_VARINT || !(n = plain_varint(p + r, len - r, 5, &v)) || v > INT32_MAX)
                goto decline;
            *(int32_t *)at = (int32_t)v;
            break;
        case PROTOBUF_C_TYPE_INT64:
            if (wt != WT_VARINT || !(n = plain_varint(p + r, len - r, 10, &v)))
                goto decline;
            *(int64_t *)at = (int64_t)v;
            break;
        case PROTOBUF_C_TYPE_BOOL:
            if (wt != WT_VARINT || !(n = plain_varint(p + r, len - r, 1, &v)))
                goto decline;
            *(protobuf_c_boolean *)at = v != 0;
            break;
        case PROTOBUF_C_TYPE_STRING: {
            if (wt != WT_LEN || !(n = plain_varint(p + r, len - r, 5, &v)) || v > len - r - n)
                goto decline;
            const uint8_t *data = p + r + n;
            if (!ascii(data, (size_t)v))
                goto decline; /* UTF-8 is protobuf-c's and validation's */
            char *str = plain_alloc(alloc, (size_t)v + 1);
            memcpy(str, data, (size_t)v);
            str[v] = '\0';
            if (repeated) {
                rep[n_rep] = str;
                rep_num[n_rep++] = num;
            } else {
                *(char **)at = str;
            }
            n += (size_t)v;
            break;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            if (wt != WT_LEN || !(n = plain_varint(p + r, len - r, 5, &v)) || v > len - r - n)
                goto decline;
            ProtobufCMessage *sub = plain_msg(t->sub[num], p + r + n, (size_t)v, alloc, depth + 1);
            if (!sub)
                goto decline;
            *(void **)at = sub;
            n += (size_t)v;
            break;
        }
        default:
            goto decline;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            *(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
        r += n;
    }
    /* the repeated strings, each field's in the order read */
    for (size_t i = 0; i < n_rep; i++) {
        const ProtobufCFieldDescriptor *f = t->by_num[rep_num[i]];
        char ***arr = (char ***)((char *)m + f->offset);
        size_t *count = (size_t *)((char *)m + f->quantifier_offset);
        if (*arr)
            continue; /* filled with the first of its field */
        size_t k = 0;
        for (size_t j = i; j < n_rep; j++)
            k += rep_num[j] == rep_num[i];
        *arr = plain_alloc(alloc, k * sizeof(char *));
        for (size_t j = i; j < n_rep; j++) {
            if (rep_num[j] == rep_num[i])
                (*arr)[(*count)++] = rep[j];
        }
    }
    return m;
decline:
    for (size_t i = 0; i < n_rep; i++)
        plain_free(alloc, rep[i]);
    protobuf_c_message_free_unpacked(m, alloc);
    return NULL;
}

int
gm__event_decode_plain(const uint8_t *buf, size_t len, ProtobufCAllocator *alloc,
                       Gamification__V1__Event **out)
{
    pthread_once(&tables_once, tables_init);
    if (!event_table)
        return 0;
    ProtobufCMessage *m = plain_msg(event_table, buf, len, alloc, 0);
    *out = (Gamification__V1__Event *)m;
    return m != NULL;
}
