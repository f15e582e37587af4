/*
 * deadletter.c: dead letters: a record that cannot be folded is stored with its
 * reason, detail and offset (and its event id when one can be salvaged),
 * so that `gamify dlq` can list and requeue it.
 */
#include "state_int.h"

#include "codec.h"
#include "json.h"
#include "log.h"

#include <jansson.h>
#include <string.h>

int
gm__dead_letter(struct gm_state *s, const struct pending *rec, const char *reason,
                const char *detail, const char *event_id)
{
    Gamify__Internal__DeadLetter dl = GAMIFY__INTERNAL__DEAD_LETTER__INIT;
    dl.seq = s->meta.dl_seq;
    dl.offset = rec->offset;
    dl.reason = (char *)reason;
    dl.detail = (char *)detail;
    dl.record.data = rec->data;
    dl.record.len = rec->len;
    dl.json = rec->json;
    dl.event_id = (char *)(event_id ? event_id : "");
    int rc = gm__put_seq_msg(s, s->deadletters, s->meta.dl_seq, &dl.base);
    if (rc)
        return gm__db_fail(s, rc, "deadletters put");
    s->meta.dl_seq++;
    s->stats.dead_letters++;
    gm_log(GM_LOG_WARN, "dead letter at offset %llu: %s: %s", (unsigned long long)rec->offset,
           reason, detail);
    return 0;
}

/*
 * The event id of a record that decoded but did not validate, so that its
 * dead letter can be found by id; NULL when there is none to show (not
 * decodable, empty, too long, not UTF-8). Fills buf (cap bytes).
 */
const char *
gm__salvage_event_id(const struct pending *rec, char *buf, size_t cap)
{
    const char *id = NULL;
    Gamification__V1__Event *ev = NULL;
    json_t *root = NULL;
    if (rec->json) {
        root = json_loadb((const char *)rec->data, rec->len, JSON_REJECT_DUPLICATES, NULL);
        json_t *v = json_object_get(root, "eventId");
        id = json_string_value(v ? v : json_object_get(root, "event_id"));
    } else {
        ev = gamification__v1__event__unpack(NULL, rec->len, rec->data);
        id = ev ? ev->event_id : NULL;
    }
    const char *out = NULL;
    if (id && id[0] && strlen(id) < cap) {
        json_t *check = json_string(id); /* NULL unless valid UTF-8 */
        if (check) {
            strcpy(buf, id);
            out = buf;
        }
        json_decref(check);
    }
    json_decref(root);
    if (ev)
        gamification__v1__event__free_unpacked(ev, NULL);
    return out;
}
