/*
 * auth.c: JWT bearer tokens checked with libjwt 1.10 (Debian 12), see
 * auth.h for the rules. libjwt 1.x verifies with whatever key it is given
 * under the algorithm the token names, so the algorithm is chosen here,
 * from the configured ones, before libjwt sees the token.
 */
#include "auth.h"

#include <errno.h>
#include <stdbool.h>
#include <jansson.h>
#include <jwt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Tokens verified by this thread, so that a client sending the same token
 * again costs a hash and a compare instead of base64, JSON and a
 * signature: direct-mapped by a hash of the whole token, compared in full.
 * The time claims are checked again on every hit.
 */
#define CACHE_SLOTS 256

struct cached {
    uint64_t h;
    char *token; /* NULL: free slot */
    size_t len;
    char user[GM_API_USER_MAX + 1];
    enum gm_api_role role;
    long exp;
    long nbf;
    bool has_nbf;
};

struct gm_api_auth {
    pthread_key_t cache_key; /* struct cached[CACHE_SLOTS] per thread */
    unsigned char *hs_key;   /* NULL: HS256 off */
    size_t hs_len;
    unsigned char *rs_key; /* NULL: RS256 off */
    size_t rs_len;
    char *issuer;
    char *audience;
    int leeway_s;
};

#define KEY_FILE_MAX (64 * 1024)

/* Reads a whole key file; returns new (free with free()) or NULL with err. */
static unsigned char *
read_key(const char *what, const char *path, bool strip, size_t *len, struct gm_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        gm_err_set(err, -errno, "--%s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = malloc(KEY_FILE_MAX + 1);
    if (!buf)
        abort();
    size_t n = fread(buf, 1, KEY_FILE_MAX + 1, f);
    fclose(f);
    if (n > KEY_FILE_MAX) {
        free(buf);
        gm_err_set(err, GM_ETOOBIG, "--%s %s: larger than %d bytes", what, path, KEY_FILE_MAX);
        return NULL;
    }
    /* A secret written with echo ends with a newline that is not part of it. */
    while (strip && n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 0) {
        free(buf);
        gm_err_set(err, GM_EINVAL, "--%s %s: empty", what, path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static void
cache_free(void *p)
{
    struct cached *c = p;
    for (size_t i = 0; c && i < CACHE_SLOTS; i++)
        free(c[i].token);
    free(c);
}

void
gm_api_auth_free(struct gm_api_auth *a)
{
    if (!a)
        return;
    /* This thread's cache; the HTTP threads freed theirs when they ended. */
    cache_free(pthread_getspecific(a->cache_key));
    pthread_key_delete(a->cache_key);
    if (a->hs_key) {
        memset(a->hs_key, 0, a->hs_len);
        free(a->hs_key);
    }
    free(a->rs_key);
    free(a->issuer);
    free(a->audience);
    free(a);
}

int
gm_api_auth_new(const struct gm_api_auth_opts *o, struct gm_api_auth **out, struct gm_err *err)
{
    int rc = 0;
    *out = NULL;
    struct gm_api_auth *a = calloc(1, sizeof *a);
    if (!a || pthread_key_create(&a->cache_key, cache_free) != 0)
        abort();
    if (!o->hs256_secret_file && !o->rs256_public_key_file) {
        rc = gm_err_set(err, GM_EINVAL,
                        "no token key: give --jwt-hs256-secret-file or --jwt-rs256-public-key");
        goto out;
    }
    if (o->hs256_secret_file) {
        a->hs_key = read_key("jwt-hs256-secret-file", o->hs256_secret_file, true, &a->hs_len, err);
        if (!a->hs_key) {
            rc = err->code;
            goto out;
        }
        if (a->hs_len < 32) {
            rc = gm_err_set(err, GM_EINVAL,
                            "--jwt-hs256-secret-file %s: %zu bytes; HS256 needs at least 32",
                            o->hs256_secret_file, a->hs_len);
            goto out;
        }
    }
    if (o->rs256_public_key_file) {
        a->rs_key =
            read_key("jwt-rs256-public-key", o->rs256_public_key_file, false, &a->rs_len, err);
        if (!a->rs_key) {
            rc = err->code;
            goto out;
        }
        if (!strstr((char *)a->rs_key, "-----BEGIN PUBLIC KEY-----")) {
            rc = gm_err_set(err, GM_EINVAL,
                            "--jwt-rs256-public-key %s: not a PEM public key (BEGIN PUBLIC KEY)",
                            o->rs256_public_key_file);
            goto out;
        }
    }
    a->issuer = o->issuer && *o->issuer ? strdup(o->issuer) : NULL;
    a->audience = o->audience && *o->audience ? strdup(o->audience) : NULL;
    a->leeway_s = o->leeway_s;
out:
    if (rc) {
        gm_api_auth_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

/* Decodes base64url src[0..n) into dst (size cap); returns the length or -1. */
static long
b64url_decode(const char *src, size_t n, unsigned char *dst, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)src[i], v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            dst[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

/* The `alg` of the token's header, copied into alg (size n); false when unreadable. */
static bool
header_alg(const char *token, char *alg, size_t n)
{
    const char *dot = strchr(token, '.');
    if (!dot)
        return false;
    unsigned char buf[1024];
    long len = b64url_decode(token, (size_t)(dot - token), buf, sizeof buf);
    if (len <= 0)
        return false;
    json_t *h = json_loadb((const char *)buf, (size_t)len, 0, NULL);
    bool ok = false;
    if (json_is_object(h) && json_is_string(json_object_get(h, "alg")) &&
        strlen(json_string_value(json_object_get(h, "alg"))) < n) {
        strcpy(alg, json_string_value(json_object_get(h, "alg")));
        ok = true;
    }
    json_decref(h);
    return ok;
}

/*
 * Whether token (tlen bytes) is three non-empty parts of base64url (RFC 7515's
 * compact form: A-Z a-z 0-9 - _, no padding) joined by two dots. libjwt 1.10
 * decodes an RS256 signature leniently (other bytes in it are skipped), so a
 * valid token with junk in its signature would pass; fuzz_jwt found it.
 */
static bool
compact_form(const char *token, size_t tlen)
{
    int dots = 0;
    size_t part = 0;
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)token[i];
        if (c == '.') {
            if (part == 0 || ++dots > 2)
                return false;
            part = 0;
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            part++;
        } else {
            return false;
        }
    }
    return dots == 2 && part > 0;
}

/* Whether the token's aud (a string or an array of strings) names aud. */
static bool
audience_ok(jwt_t *jwt, const char *aud)
{
    char *s = jwt_get_grants_json(jwt, "aud");
    if (!s)
        return false;
    json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
    free(s);
    bool ok = false;
    if (json_is_string(v)) {
        ok = strcmp(json_string_value(v), aud) == 0;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (json_is_string(item) && strcmp(json_string_value(item), aud) == 0)
                ok = true;
        }
    }
    json_decref(v);
    return ok;
}

/* A numeric date claim; false when absent (or not an integer). */
static bool
time_claim(jwt_t *jwt, const char *name, long *out)
{
    errno = 0;
    long v = jwt_get_grant_int(jwt, name);
    if (errno)
        return false;
    *out = v;
    return true;
}

static uint64_t
hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* The time checks, for fresh and cached tokens alike; 0 or GM_EINVAL with why. */
static int
check_times(const struct gm_api_auth *a, time_t now, long exp, bool has_nbf, long nbf, char *why,
            size_t why_len)
{
    if ((long)now > exp + a->leeway_s) {
        snprintf(why, why_len, "token expired");
        return GM_EINVAL;
    }
    if (has_nbf && (long)now + a->leeway_s < nbf) {
        snprintf(why, why_len, "token not yet valid");
        return GM_EINVAL;
    }
    return 0;
}

int
gm_api_auth_verify(const struct gm_api_auth *a, const char *token, time_t now, char *user,
                   enum gm_api_role *role, char *why, size_t why_len)
{
    jwt_t *jwt = NULL;
    int rc = GM_EINVAL;
    char alg[16];
    const unsigned char *key;
    size_t key_len;
    jwt_alg_t want;
    size_t tlen = strlen(token);
    if (tlen == 0 || tlen > GM_API_TOKEN_MAX) {
        snprintf(why, why_len, "malformed token");
        goto out;
    }
    struct cached *cache = pthread_getspecific(a->cache_key);
    if (!cache) {
        cache = calloc(CACHE_SLOTS, sizeof *cache);
        if (!cache)
            abort();
        pthread_setspecific(a->cache_key, cache);
    }
    uint64_t h = hash(token, tlen);
    struct cached *slot = &cache[h % CACHE_SLOTS];
    if (slot->token && slot->h == h && slot->len == tlen && memcmp(slot->token, token, tlen) == 0) {
        rc = check_times(a, now, slot->exp, slot->has_nbf, slot->nbf, why, why_len);
        if (rc == 0) {
            strcpy(user, slot->user);
            *role = slot->role;
        }
        return rc;
    }
    if (!compact_form(token, tlen)) {
        snprintf(why, why_len, "malformed token");
        goto out;
    }
    if (!header_alg(token, alg, sizeof alg)) {
        snprintf(why, why_len, "malformed token header");
        goto out;
    }
    if (strcmp(alg, "HS256") == 0 && a->hs_key) {
        key = a->hs_key, key_len = a->hs_len, want = JWT_ALG_HS256;
    } else if (strcmp(alg, "RS256") == 0 && a->rs_key) {
        key = a->rs_key, key_len = a->rs_len, want = JWT_ALG_RS256;
    } else {
        snprintf(why, why_len, "token algorithm not accepted");
        goto out;
    }
    if (jwt_decode(&jwt, token, key, (int)key_len) != 0 || !jwt) {
        jwt = NULL;
        snprintf(why, why_len, "invalid token signature");
        goto out;
    }
    if (jwt_get_alg(jwt) != want) {
        snprintf(why, why_len, "token algorithm not accepted");
        goto out;
    }
    long exp, nbf;
    if (!time_claim(jwt, "exp", &exp)) {
        snprintf(why, why_len, "token has no exp");
        goto out;
    }
    bool has_nbf = time_claim(jwt, "nbf", &nbf);
    if (!has_nbf)
        nbf = 0;
    if (check_times(a, now, exp, has_nbf, nbf, why, why_len) != 0)
        goto out;
    if (a->issuer) {
        const char *iss = jwt_get_grant(jwt, "iss");
        if (!iss || strcmp(iss, a->issuer) != 0) {
            snprintf(why, why_len, "token issuer not accepted");
            goto out;
        }
    }
    if (a->audience && !audience_ok(jwt, a->audience)) {
        snprintf(why, why_len, "token audience not accepted");
        goto out;
    }
    const char *sub = jwt_get_grant(jwt, "sub");
    if (!sub || !*sub || strlen(sub) > GM_API_USER_MAX) {
        snprintf(why, why_len, "token sub missing or longer than %d bytes", GM_API_USER_MAX);
        goto out;
    }
    const char *r = jwt_get_grant(jwt, "role");
    if (!r || strcmp(r, "student") == 0) {
        *role = GM_API_ROLE_STUDENT;
    } else if (strcmp(r, "staff") == 0) {
        *role = GM_API_ROLE_STAFF;
    } else if (strcmp(r, "service") == 0) {
        *role = GM_API_ROLE_SERVICE;
    } else {
        snprintf(why, why_len, "token role is not student, staff or service");
        goto out;
    }
    strcpy(user, sub);
    free(slot->token);
    slot->token = strndup(token, tlen);
    if (!slot->token)
        abort();
    slot->h = h;
    slot->len = tlen;
    strcpy(slot->user, sub);
    slot->role = *role;
    slot->exp = exp;
    slot->nbf = nbf;
    slot->has_nbf = has_nbf;
    rc = 0;
out:
    jwt_free(jwt);
    return rc;
}
