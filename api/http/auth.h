/*
 * auth.h: bearer tokens (JWT) for gamify-api, checked with libjwt.
 *
 * Two algorithms: HS256 with a shared secret (a file) and RS256 with a
 * public key (a PEM file); either or both may be configured. The key is
 * chosen by the token's own `alg` header and only among the configured
 * ones, and the algorithm libjwt verified is checked again after decoding:
 * `alg: none`, algorithms not configured, and an HS256 token made with the
 * RS256 public key as its secret (algorithm confusion) are all refused.
 *
 * Claims: `exp` required, `nbf` optional, both with a leeway in seconds;
 * `iss` and `aud` (a string or an array of strings) equal to the
 * configured ones when configured; `sub` is the user id (1 to 128 bytes);
 * `role` is student (the default when absent), staff or service.
 *
 * Each thread keeps the last tokens it verified (256, by a hash of the
 * whole token, compared in full); a repeated token skips decoding and the
 * signature, not the exp and nbf checks.
 */
#ifndef GM_API_AUTH_H
#define GM_API_AUTH_H

#include "err.h"
#include "resolvers.h"

#include <stddef.h>
#include <time.h>

#define GM_API_USER_MAX  128
#define GM_API_TOKEN_MAX 8192

struct gm_api_auth_opts {
    const char *hs256_secret_file;     /* NULL: HS256 off */
    const char *rs256_public_key_file; /* NULL: RS256 off */
    const char *issuer;                /* NULL: not checked */
    const char *audience;              /* NULL: not checked */
    int leeway_s;
};

struct gm_api_auth;

/*
 * Reads the key files of o (at least one must be given). Returns 0 and
 * *out (free with gm_api_auth_free), or GM_EINVAL / -errno with err naming
 * the file.
 */
int gm_api_auth_new(const struct gm_api_auth_opts *o, struct gm_api_auth **out, struct gm_err *err);
void gm_api_auth_free(struct gm_api_auth *a);

/*
 * Checks token (borrowed, NUL-terminated, without "Bearer ") at time now.
 * On success returns 0, the user id copied into user (size GM_API_USER_MAX
 * + 1) and the role. Otherwise returns GM_EINVAL and a short reason in why
 * (safe to send to the client: it never echoes the token).
 */
int gm_api_auth_verify(const struct gm_api_auth *a, const char *token, time_t now, char *user,
                       enum gm_api_role *role, char *why, size_t why_len);

#endif
