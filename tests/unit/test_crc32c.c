/*
 * test_crc32c.c: CRC-32C against published vectors (RFC 3720 B.4 and the
 * usual "123456789" check value), chaining, and the software and SSE4.2
 * versions against each other on random buffers, lengths and alignments.
 */
#include "crc32c.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct vector {
    const char *name;
    uint8_t data[48];
    size_t len;
    uint32_t crc;
};

static void
vectors(struct vector *v, size_t *n)
{
    size_t i = 0;
    v[i] = (struct vector){"check", {0}, 9, 0xE3069283u};
    memcpy(v[i].data, "123456789", 9);
    i++;
    v[i] = (struct vector){"32 zeros", {0}, 32, 0x8A9136AAu};
    i++;
    v[i] = (struct vector){"32 ones", {0}, 32, 0x62A8AB43u};
    memset(v[i].data, 0xff, 32);
    i++;
    v[i] = (struct vector){"incrementing", {0}, 32, 0x46DD794Eu};
    for (int k = 0; k < 32; k++)
        v[i].data[k] = (uint8_t)k;
    i++;
    v[i] = (struct vector){"decrementing", {0}, 32, 0x113FDB5Cu};
    for (int k = 0; k < 32; k++)
        v[i].data[k] = (uint8_t)(31 - k);
    i++;
    v[i] = (struct vector){"empty", {0}, 0, 0};
    i++;
    *n = i;
}

Test(crc32c, known_vectors)
{
    struct vector v[8];
    size_t n;
    vectors(v, &n);
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(gm_crc32c(0, v[i].data, v[i].len), v[i].crc, "%s: dispatch", v[i].name);
        cr_expect_eq(gm_crc32c_sw(0, v[i].data, v[i].len), v[i].crc, "%s: software", v[i].name);
        if (gm_crc32c_hw_available())
            cr_expect_eq(gm_crc32c_hw(0, v[i].data, v[i].len), v[i].crc, "%s: sse4.2", v[i].name);
    }
}

Test(crc32c, chaining_equals_whole)
{
    const char *s = "The quick brown fox jumps over the lazy dog, twice or more.";
    size_t len = strlen(s);
    uint32_t whole = gm_crc32c(0, s, len);
    for (size_t cut = 0; cut <= len; cut++) {
        uint32_t c = gm_crc32c(0, s, cut);
        cr_assert_eq(gm_crc32c(c, s + cut, len - cut), whole, "cut at %zu", cut);
        c = gm_crc32c_sw(0, s, cut);
        cr_assert_eq(gm_crc32c_sw(c, s + cut, len - cut), whole, "sw cut at %zu", cut);
    }
}

Test(crc32c, hardware_matches_software)
{
    if (!gm_crc32c_hw_available())
        cr_skip_test("no SSE4.2 on this CPU");
    enum { SIZE = 4096 + 16 };
    uint8_t *buf = malloc(SIZE);
    cr_assert_not_null(buf);
    srand(12345);
    for (int round = 0; round < 2000; round++) {
        size_t off = (size_t)rand() % 16;
        size_t len = (size_t)rand() % (SIZE - 16);
        for (size_t i = 0; i < off + len; i++)
            buf[i] = (uint8_t)rand();
        uint32_t seed = round % 3 == 0 ? 0 : (uint32_t)rand();
        uint32_t sw = gm_crc32c_sw(seed, buf + off, len);
        uint32_t hw = gm_crc32c_hw(seed, buf + off, len);
        cr_assert_eq(sw, hw, "round %d: off %zu len %zu: sw %08x hw %08x", round, off, len, sw, hw);
    }
    free(buf);
}

Test(crc32c, detects_single_bit_flips)
{
    uint8_t buf[64];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    uint32_t good = gm_crc32c(0, buf, sizeof buf);
    for (size_t bit = 0; bit < sizeof buf * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_neq(gm_crc32c(0, buf, sizeof buf), good, "bit %zu", bit);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}
