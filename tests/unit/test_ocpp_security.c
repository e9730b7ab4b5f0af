/* OCPP security helpers: password hashing and verification, the hash shape
 * the config accepts, and HTTP Basic credentials parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "config.h"
#include "ocpp/security.h"

static void test_hash_and_verify(void **state)
{
    (void)state;
    static const char pw[] = "cp1-password-0123456789";
    char h1[FG_OCPP_PWHASH_MAX], h2[FG_OCPP_PWHASH_MAX];
    assert_int_equal(fg_ocpp_sec_hash_password(pw, strlen(pw), h1), 0);
    assert_int_equal(fg_ocpp_sec_hash_password(pw, strlen(pw), h2), 0);
    assert_string_not_equal(h1, h2);        /* salted */
    assert_true(fg_config_argon2id_ok(h1)); /* what the CLI prints, the config takes */
    assert_int_equal(strncmp(h1, "$argon2id$v=19$m=65536,t=2,p=1$", 31), 0);
    assert_int_equal(fg_ocpp_sec_verify_password(h1, pw, strlen(pw)), 0);
    assert_int_equal(fg_ocpp_sec_verify_password(h2, pw, strlen(pw)), 0);
    assert_int_equal(fg_ocpp_sec_verify_password(h1, pw, strlen(pw) - 1), FG_EAUTH);
    assert_int_equal(fg_ocpp_sec_verify_password(h1, "CP1-password-0123456789", 23),
                     FG_EAUTH);
    assert_int_equal(fg_ocpp_sec_verify_password("$argon2id$garbage", pw, strlen(pw)),
                     FG_EAUTH);
    assert_int_equal(fg_ocpp_sec_hash_password("", 0, h1), FG_EINVAL);
    assert_int_equal(fg_ocpp_sec_hash_password("a\0b", 3, h1), FG_EINVAL);
}

static void expect_basic(const char *header, const char *user, const char *pw)
{
    char u[49], p[256];
    size_t n = 0;
    int rc = fg_ocpp_sec_parse_basic(header, u, sizeof(u), p, sizeof(p), &n);
    if (!user) {
        if (rc != FG_EINVAL)
            fail_msg("accepted: %s", header);
        return;
    }
    if (rc)
        fail_msg("refused: %s", header);
    assert_string_equal(u, user);
    assert_string_equal(p, pw);
    assert_int_equal(n, strlen(pw));
}

static void test_parse_basic(void **state)
{
    (void)state;
    expect_basic("Basic Q1AxOnNlY3JldA==", "CP1", "secret"); /* CP1:secret */
    expect_basic("basic   Q1AxOnNlY3JldA==  ", "CP1", "secret");
    expect_basic("Basic Q1AxOmE6Yg==", "CP1", "a:b"); /* first ':' splits */
    expect_basic("Basic Q1AxOg==", "CP1", "");        /* CP1: */
    expect_basic("Basic OnB3", "", "pw");             /* :pw */
    expect_basic("Bearer Q1AxOnNlY3JldA==", NULL, NULL);
    expect_basic("Basic", NULL, NULL);
    expect_basic("Basic !!!!", NULL, NULL);
    expect_basic("Basic Q1Ax", NULL, NULL);         /* "CP1": no ':' */
    expect_basic("Basic Q1AxADpwdw==", NULL, NULL); /* NUL in the user */
    /* a user of 60 characters: longer than the buffer */
    expect_basic("Basic QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
                 "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBOnB3",
                 NULL, NULL);
    /* longer than any password we take */
    char big[1200] = "Basic ";
    memset(big + 6, 'Q', 1100);
    big[1106] = '\0';
    expect_basic(big, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_parse_basic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
