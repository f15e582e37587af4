/*
 * publish.c: the rules of a state: seeding them (--rules), a what-if state's
 * own rules (replay --rules-override), and a RulesPublished event switching
 * them inside a batch; each stored as the current rules and appended to
 * the rules history.
 */
#include "state_int.h"

#include "log.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stores yaml as the current rules and appends it to the history. */
static int
save_rules(struct gm_state *s, const char *yaml, size_t len)
{
    MDB_val k = {5, "rules"}, v = {len, (void *)yaml};
    int rc = mdb_put(s->txn, s->meta_db, &k, &v, 0);
    if (rc)
        return rc;
    uint8_t kb[8];
    gm__put_be64(kb, (uint64_t)s->meta.rules_seq++);
    MDB_val hk = {8, kb};
    return mdb_put(s->txn, s->rules_db, &hk, &v, MDB_APPEND);
}

/*
 * Parses yaml and stores it as the state's rules in a batch of its own,
 * with the what-if mark sha when it is not NULL. Errors: GM_EINVAL with the
 * first error's line and column, GM_EDB.
 */
static int
install_rules(struct gm_state *s, const char *yaml, size_t len, const char *sha, struct gm_err *err)
{
    struct gm_err *errs = NULL;
    size_t n_errs = 0;
    struct gm_rules *r;
    if (gm_rules_parse(yaml, len, &r, &errs, &n_errs)) {
        if (n_errs)
            gm_err_setpos(err, GM_EINVAL, errs[0].line, errs[0].column, "%s", errs[0].msg);
        else
            gm_err_set(err, GM_EINVAL, "invalid rules");
        free(errs);
        return GM_EINVAL;
    }
    int rc = gm_state_begin(s, err);
    if (rc) {
        gm_rules_free(r);
        return rc;
    }
    MDB_val wk = {7, "what_if"}, wv = {64, (void *)sha};
    if ((rc = save_rules(s, yaml, len)) ||
        (sha && (rc = mdb_put(s->txn, s->meta_db, &wk, &wv, 0)))) {
        gm_state_abort(s);
        gm_rules_free(r);
        return gm__lmdb_error(err, rc, sha ? "what-if rules" : "seed rules");
    }
    s->rules = r;
    return gm_state_commit(s, s->meta.offset, err);
}

int
gm_state_seed_rules(struct gm_state *s, const char *yaml, size_t len, struct gm_err *err)
{
    if (s->rules)
        return 0;
    return install_rules(s, yaml, len, NULL, err);
}

static void
sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int md_len = 0;
    EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int
gm_state_set_what_if(struct gm_state *s, const char *yaml, size_t len, struct gm_err *err)
{
    char sha[65];
    sha256_hex(yaml, len, sha);
    if (s->what_if[0]) {
        if (strcmp(s->what_if, sha) == 0)
            return 0; /* resuming the same what-if replay */
        return gm_err_set(err, GM_EINVAL,
                          "this state is a what-if replay under other rules (sha256 %s); "
                          "replay into a fresh folder",
                          s->what_if);
    }
    const struct meta *m = &s->meta_committed;
    if (s->rules || m->offset || m->change_seq || m->ledger_seq || m->dl_seq)
        return gm_err_set(err, GM_EINVAL,
                          "a what-if replay needs a fresh state folder; this one holds a state "
                          "already");
    int rc = install_rules(s, yaml, len, sha, err);
    if (rc)
        return rc;
    memcpy(s->what_if, sha, sizeof sha);
    return 0;
}

const char *
gm_state_what_if(const struct gm_state *s)
{
    return s->what_if[0] ? s->what_if : NULL;
}

/* Parses the rules EV carries into *R; rules that do not check are a
 * RULES_INVALID dead letter (*R NULL; the return is the dead letter's). */
static int
parse_published(struct gm_state *s, const struct pending *rec, const Gamification__V1__Event *ev,
                struct gm_rules **r)
{
    const char *yaml = ev->rules_published->rules_yaml;
    struct gm_err *errs = NULL;
    size_t n_errs = 0;
    *r = NULL;
    if (gm_rules_parse(yaml, strlen(yaml), r, &errs, &n_errs)) {
        char detail[600];
        snprintf(detail, sizeof detail, "%zu error(s); first at %d:%d: %s", n_errs,
                 n_errs ? errs[0].line : 0, n_errs ? errs[0].column : 0,
                 n_errs ? errs[0].msg : "?");
        free(errs);
        *r = NULL;
        return gm__dead_letter(s, rec, "RULES_INVALID", detail, ev->event_id);
    }
    return 0;
}

int
gm__ignore_rules(struct gm_state *s, const struct pending *rec, const Gamification__V1__Event *ev)
{
    struct gm_rules *r;
    int rc = parse_published(s, rec, ev, &r);
    if (r) {
        gm_rules_free(r);
        s->stats.rules_ignored++;
    }
    return rc;
}

int
gm__publish_rules(struct gm_state *s, const struct pending *rec, const Gamification__V1__Event *ev)
{
    const char *yaml = ev->rules_published->rules_yaml;
    struct gm_rules *r;
    int prc = parse_published(s, rec, ev, &r);
    if (!r)
        return prc;
    int rc = save_rules(s, yaml, strlen(yaml));
    if (rc) {
        gm_rules_free(r);
        return gm__db_fail(s, rc, "rules put");
    }
    if (s->rules != s->rules_committed)
        gm_rules_free(s->rules);
    s->rules = r;
    s->stats.rules_published++;
    gm_log(GM_LOG_INFO, "rules published by %s at offset %llu (event %s)", ev->user_id,
           (unsigned long long)rec->offset, ev->event_id);
    return 0;
}
