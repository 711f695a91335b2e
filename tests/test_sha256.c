/* core/sha256: the FIPS 180-2 examples (one block, two blocks, a million 'a's), the NIST
 * short-message vectors around the padding boundary, any split of the input giving the same
 * digest, and sr_sha256_file on a file and on a missing one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/sha256.h"

static void digest_of(const void *data, size_t n, char hex[65]) {
  sr_sha256 s;
  uint8_t d[32];
  sr_sha256_init(&s);
  sr_sha256_update(&s, data, n);
  sr_sha256_final(&s, d);
  sr_sha256_hex(d, hex);
}

static void test_fips_examples(void **state) {
  (void)state;
  char hex[65];
  digest_of("abc", 3, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  digest_of(two, strlen(two), hex);
  assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  digest_of("", 0, hex);
  assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  /* One million 'a', fed in pieces of 1000. */
  sr_sha256 s;
  uint8_t d[32];
  char block[1000];
  memset(block, 'a', sizeof block);
  sr_sha256_init(&s);
  for (int i = 0; i < 1000; i++) sr_sha256_update(&s, block, sizeof block);
  sr_sha256_final(&s, d);
  sr_sha256_hex(d, hex);
  assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Around the padding: 55 bytes still fit one block with the length, 56 need a second, 64 fill
 * one exactly; and the 896-bit message of the FIPS examples (two blocks of text). Digests
 * cross-checked with an independent implementation (Python's hashlib). */
static void test_padding_boundaries(void **state) {
  (void)state;
  char hex[65];
  const char *s896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                     "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  digest_of(s896, strlen(s896), hex);
  assert_string_equal(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  char a[64];
  memset(a, 'a', sizeof a);
  digest_of(a, 55, hex);
  assert_string_equal(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  digest_of(a, 56, hex);
  assert_string_equal(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  digest_of(a, 64, hex);
  assert_string_equal(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

/* The digest does not depend on how the input is split. */
static void test_any_split(void **state) {
  (void)state;
  unsigned char data[300];
  for (int i = 0; i < 300; i++) data[i] = (unsigned char)(i * 7 + 3);
  char whole[65];
  digest_of(data, sizeof data, whole);
  for (size_t cut = 0; cut <= sizeof data; cut += 13) {
    sr_sha256 s;
    uint8_t d[32];
    char hex[65];
    sr_sha256_init(&s);
    sr_sha256_update(&s, data, cut);
    sr_sha256_update(&s, data + cut, sizeof data - cut);
    sr_sha256_final(&s, d);
    sr_sha256_hex(d, hex);
    assert_string_equal(hex, whole);
  }
}

static void test_file(void **state) {
  (void)state;
  mkdir(SEQREC_TEST_TMP, 0777);
  const char *path = SEQREC_TEST_TMP "/sha256.txt";
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (int i = 0; i < 200000; i++) fputs("abc", f); /* several read blocks */
  fclose(f);
  char hex[65], want[65];
  char *all = malloc(600000);
  assert_non_null(all);
  for (int i = 0; i < 200000; i++) memcpy(all + 3 * i, "abc", 3);
  digest_of(all, 600000, want);
  free(all);
  assert_int_equal(sr_sha256_file(path, hex), SR_OK);
  assert_string_equal(hex, want);
  assert_int_equal(sr_sha256_file(SEQREC_TEST_TMP "/no-such-file", hex), SR_EIO);
  assert_non_null(strstr(sr_error_message(), "no-such-file"));
  sr_error_clear();
}

int main(void) {
  sr_log_set_quiet(1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fips_examples),
      cmocka_unit_test(test_padding_boundaries),
      cmocka_unit_test(test_any_split),
      cmocka_unit_test(test_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
