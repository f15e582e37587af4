/*
 * webhook_receiver.c: a webhook receiver for the tests (libmicrohttpd). It
 * verifies each POST as docs/operations.md tells receivers to: the
 * Gamify-Signature header "t=T,v1=HEX" must be HMAC-SHA256 with the secret
 * over T "." body, and T within --window-s of its clock. It prints one
 * line per request, flushed:
 *   OK ID USER TYPE     verified and accepted (200); USER "-" for an
 *                       ops.alert, which has no userId
 *   FAIL ID             verified, refused on purpose (503, the first N)
 *   BAD REASON          not verified (401)
 *
 * usage: webhook_receiver --port P --secret-file F [--fail-first N]
 *                         [--window-s S]
 * Runs until SIGTERM or SIGINT.
 */
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (64 * 1024)

static char secret[4097];
static size_t secret_len;
static long fail_first, window_s = 300, requests;
static volatile sig_atomic_t stop;

struct upload {
    char *buf;
    size_t len;
    bool too_big;
};

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* NULL when sig verifies for body, else why not. */
static const char *
verify(const char *sig, const char *body, size_t len)
{
    long long t;
    char hex[65];
    int used = 0;
    if (!sig || sscanf(sig, "t=%lld,v1=%64[0-9a-f]%n", &t, hex, &used) != 2 ||
        (size_t)used != strlen(sig) || strlen(hex) != 64)
        return "malformed-signature";
    if (llabs((long long)time(NULL) - t) > window_s)
        return "stale-timestamp";
    char ts[32];
    int tl = snprintf(ts, sizeof ts, "%lld.", t);
    char *msg = malloc((size_t)tl + len);
    if (!msg)
        abort();
    memcpy(msg, ts, (size_t)tl);
    memcpy(msg + tl, body, len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), secret, (int)secret_len, (unsigned char *)msg, (size_t)tl + len, md, &mdlen);
    free(msg);
    char want[65];
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(want + 2 * i, 3, "%02x", md[i]);
    return CRYPTO_memcmp(want, hex, 64) == 0 ? NULL : "wrong-signature";
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    struct upload *u = *con_cls;
    if (!u) {
        if (!(u = calloc(1, sizeof *u)))
            abort();
        *con_cls = u;
        return MHD_YES;
    }
    if (*size) {
        if (u->len + *size > BODY_MAX) {
            u->too_big = true;
        } else {
            u->buf = realloc(u->buf, u->len + *size + 1);
            if (!u->buf)
                abort();
            memcpy(u->buf + u->len, data, *size);
            u->len += *size;
            u->buf[u->len] = '\0';
        }
        *size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") != 0 || u->too_big || !u->buf)
        return reply(conn, 400, "bad request\n");
    const char *why = verify(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Gamify-Signature"),
                             u->buf, u->len);
    if (why) {
        printf("BAD %s\n", why);
        fflush(stdout);
        return reply(conn, 401, "bad signature\n");
    }
    json_t *body = json_loadb(u->buf, u->len, 0, NULL);
    const char *id = json_string_value(json_object_get(body, "id"));
    const char *user = json_string_value(json_object_get(body, "userId"));
    const char *type = json_string_value(json_object_get(body, "type"));
    const char *hid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Gamify-Event-Id");
    enum MHD_Result ret;
    /* ops alerts (type ops.alert) concern no learner: no userId */
    if (type && !user && strcmp(type, "ops.alert") == 0)
        user = "-";
    if (!id || !user || !type || !hid || strcmp(hid, id) != 0) {
        printf("BAD body-fields\n");
        ret = reply(conn, 400, "bad body\n");
    } else if (++requests <= fail_first) {
        printf("FAIL %s\n", id);
        ret = reply(conn, 503, "failing on purpose\n");
    } else {
        printf("OK %s %s %s\n", id, user, type);
        ret = reply(conn, 200, "ok\n");
    }
    fflush(stdout);
    json_decref(body);
    return ret;
}

static void
done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct upload *u = *con_cls;
    if (u) {
        free(u->buf);
        free(u);
    }
    *con_cls = NULL;
}

int
main(int argc, char **argv)
{
    int port = 0;
    const char *secret_file = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--secret-file") == 0)
            secret_file = argv[i + 1];
        else if (strcmp(argv[i], "--fail-first") == 0)
            fail_first = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--window-s") == 0)
            window_s = atol(argv[i + 1]);
    }
    FILE *f = secret_file ? fopen(secret_file, "rb") : NULL;
    if (port <= 0 || !f) {
        fprintf(stderr, "usage: webhook_receiver --port P --secret-file F [--fail-first N] "
                        "[--window-s S]\n");
        return 2;
    }
    secret_len = fread(secret, 1, sizeof secret - 1, f);
    fclose(f);
    while (secret_len && (secret[secret_len - 1] == '\n' || secret[secret_len - 1] == '\r'))
        secret_len--;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* one internal thread: requests are handled one at a time, in order */
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, handle, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "webhook_receiver: cannot listen on port %d\n", port);
        return 1;
    }
    fprintf(stderr, "webhook_receiver: listening on %d\n", port);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    return 0;
}
