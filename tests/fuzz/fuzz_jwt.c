/*
 * fuzz_jwt.c: gm_api_auth_verify (api/http/auth.c) on the bytes as a bearer
 * token, with both algorithms configured (an HS256 secret and an RS256
 * public key, written to temporary files once), an issuer and an audience.
 * The token is the input up to its first NUL, as a header value would be.
 *
 * Invariants: no crash, no read past the token; a token accepted names a
 * user of 1 to GM_API_USER_MAX bytes and a known role, and its signature
 * is checked here again without libjwt (OpenSSL: HMAC-SHA256 with the
 * secret, or RSA-SHA256 with the public key, as its header's alg says).
 * So `alg: none`, an HS256 token signed with the public key as its secret,
 * and any other way past the signature are caught. The same token asked
 * again (the per-thread cache of verified tokens) gives the same answer.
 */
#include "auth.h"
#include "fuzz.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* The secret and the public key the seeds in corpus/jwt were made with. */
static const char secret[] = "gamify-fuzz-hs256-secret-0123456789abcdef";
static const char public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwg0pt2b8n2lR07JN8ctS\n"
    "O2XN2YVoyfb8C3JbJ2U6VCVFjuyRfOEp0Tfw9+D4Y5gF6tULDtigZ6duivcZ3UGQ\n"
    "RUge817YexDa6yNFiPAEDy27XZRz2CYUqsWvxIj/jqCWWu3VfnYoeV+riB8OPT0m\n"
    "ssW1PWN1fgoMZ3gDAxvZC13+T2B5Y2mC/KRdIvxQDdaEGow+V6i4i9MpWE4s9mvT\n"
    "IJfmhIl3aeQ9/V5HoVZC/zpB6J/nyRW0ct07+TZb7UZi7uvfR+dEidy5qLhrAHOD\n"
    "Gxf/dpoUvSkCcIEtC/8ki6MatAN9gPEDbqZiqg3LtPlJ9ZJ09QH7/oatkEXoHEiR\n"
    "UwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

/* 2030-01-01T00:00:00Z: the seeds' tokens are valid then. */
#define FUZZ_NOW ((time_t)1893456000)

static struct gm_api_auth *auth;
static EVP_PKEY *public_key;

/* Writes text to a new temporary file; returns its path (new; free with free()). */
static char *
temp_file(const char *text)
{
    const char *dir = getenv("TMPDIR");
    char *path = malloc(4096);
    if (!path)
        abort();
    snprintf(path, 4096, "%s/gm-fuzz-jwt-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    GM_FUZZ_CHECK(fd >= 0, "a temporary file");
    size_t n = strlen(text);
    GM_FUZZ_CHECK(write(fd, text, n) == (ssize_t)n, "the key written");
    close(fd);
    return path;
}

static void
setup(void)
{
    char *hs = temp_file(secret), *rs = temp_file(public_pem);
    struct gm_api_auth_opts o = {.hs256_secret_file = hs,
                                 .rs256_public_key_file = rs,
                                 .issuer = "gamify-fuzz",
                                 .audience = "api",
                                 .leeway_s = 30};
    struct gm_err err;
    gm_err_clear(&err);
    GM_FUZZ_CHECK(gm_api_auth_new(&o, &auth, &err) == 0, "the keys are accepted");
    unlink(hs);
    unlink(rs);
    free(hs);
    free(rs);
    BIO *bio = BIO_new_mem_buf(public_pem, -1);
    public_key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    GM_FUZZ_CHECK(public_key != NULL, "the public key reads");
    BIO_free(bio);
}

/* Decodes base64url src[0..n) into dst (size cap) with OpenSSL's decoder (not the code under
 * test): the length, or -1. Lenient where a decoder might be (the standard alphabet's + and
 * /, = padding): this check is about the signature, not the encoding. */
static long
b64url(const char *src, size_t n, unsigned char *dst, size_t cap)
{
    while (n && src[n - 1] == '=')
        n--;
    size_t padded = (n + 3) / 4 * 4;
    if (padded / 4 * 3 > cap || n % 4 == 1)
        return -1;
    unsigned char *std = malloc(padded + 1);
    if (!std)
        abort();
    for (size_t i = 0; i < padded; i++)
        std[i] = i >= n ? '=' : src[i] == '-' ? '+' : src[i] == '_' ? '/' : (unsigned char)src[i];
    int len = padded ? EVP_DecodeBlock(dst, std, (int)padded) : 0;
    free(std);
    return len < 0 ? -1 : len - (long)(padded - n); /* each = stands for a zero byte out */
}

/* Whether token's signature is right for the alg its header names, checked with OpenSSL. */
static bool
signature_ok(const char *token)
{
    const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2)
        return false;
    unsigned char head[2048], sig[1024];
    long hl = b64url(token, (size_t)(d1 - token), head, sizeof head);
    long sl = b64url(d2 + 1, strlen(d2 + 1), sig, sizeof sig);
    if (hl <= 0 || sl < 0)
        return false;
    json_t *h = json_loadb((const char *)head, (size_t)hl, 0, NULL);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    bool ok = false;
    size_t signed_len = (size_t)(d2 - token);
    if (alg && strcmp(alg, "HS256") == 0) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned mac_len = 0;
        HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)token, signed_len,
             mac, &mac_len);
        ok = mac_len == (unsigned)sl && memcmp(mac, sig, mac_len) == 0;
    } else if (alg && strcmp(alg, "RS256") == 0) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, public_key) == 1 &&
             EVP_DigestVerify(md, sig, (size_t)sl, (const unsigned char *)token, signed_len) == 1;
        EVP_MD_CTX_free(md);
    }
    json_decref(h);
    return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!auth)
        setup();
    if (size > 2 * GM_API_TOKEN_MAX)
        return 0;
    char *token = malloc(size + 1);
    if (!token)
        abort();
    memcpy(token, data, size);
    token[size] = 0;
    char user[GM_API_USER_MAX + 1], why[256];
    enum gm_api_role role = GM_API_ROLE_STUDENT;
    why[0] = 0;
    int rc = gm_api_auth_verify(auth, token, FUZZ_NOW, user, &role, why, sizeof why);
    GM_FUZZ_CHECK(rc == 0 || rc == GM_EINVAL, "accepted or refused");
    if (rc == 0) {
        size_t ul = strnlen(user, sizeof user);
        GM_FUZZ_CHECK(ul >= 1 && ul <= GM_API_USER_MAX, "a user of 1 to 128 bytes");
        GM_FUZZ_CHECK(role == GM_API_ROLE_STUDENT || role == GM_API_ROLE_STAFF ||
                          role == GM_API_ROLE_SERVICE,
                      "a known role");
        GM_FUZZ_CHECK(signature_ok(token), "an accepted token is signed with a configured key");
    } else {
        GM_FUZZ_CHECK(why[0] != 0 && strnlen(why, sizeof why) < sizeof why, "a reason");
    }
    /* again: the cache of verified tokens answers as the first check did */
    char user2[GM_API_USER_MAX + 1], why2[256];
    enum gm_api_role role2 = GM_API_ROLE_STUDENT;
    int rc2 = gm_api_auth_verify(auth, token, FUZZ_NOW, user2, &role2, why2, sizeof why2);
    GM_FUZZ_CHECK(rc2 == rc, "the same answer twice");
    if (rc == 0)
        GM_FUZZ_CHECK(strcmp(user, user2) == 0 && role == role2, "the same user and role twice");
    free(token);
    return 0;
}
