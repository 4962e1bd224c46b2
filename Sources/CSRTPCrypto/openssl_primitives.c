// OpenSSL-backed cipher and authentication types for libsrtp2 (see CSRTPCrypto.h).
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "CSRTPCrypto.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <srtp2/crypto_types.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

// MARK: AES-ICM (RFC 3711 section 4.1.1): AES-CTR whose counter block is the session salt XOR the
// IV libsrtp2 passes (SSRC and packet index), over a context keyed once.

typedef struct {
    EVP_CIPHER_CTX *context;
    uint8_t salt[16];
    int key_length;
} icm_state;

static const srtp_cipher_type_t icm_128_type;
static const srtp_cipher_type_t icm_256_type;

static srtp_err_status_t icm_alloc(srtp_cipher_t **cipher, int key_length, int tag_length) {
    (void)tag_length;
    const srtp_cipher_type_t *type;
    if (key_length == SRTP_AES_ICM_128_KEY_LEN_WSALT) {
        type = &icm_128_type;
    } else if (key_length == SRTP_AES_ICM_256_KEY_LEN_WSALT) {
        type = &icm_256_type;
    } else {
        return srtp_err_status_bad_param;
    }
    srtp_cipher_t *allocated = calloc(1, sizeof(srtp_cipher_t));
    icm_state *state = calloc(1, sizeof(icm_state));
    if (allocated == NULL || state == NULL || (state->context = EVP_CIPHER_CTX_new()) == NULL) {
        free(allocated);
        free(state);
        return srtp_err_status_alloc_fail;
    }
    state->key_length = key_length - SRTP_SALT_LEN;
    allocated->type = type;
    allocated->state = state;
    allocated->key_len = key_length;
    allocated->algorithm = type->id;
    *cipher = allocated;
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_dealloc(srtp_cipher_t *cipher) {
    icm_state *state = cipher->state;
    EVP_CIPHER_CTX_free(state->context);
    memset(state, 0, sizeof *state);
    free(state);
    free(cipher);
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_init(void *opaque, const uint8_t *key) {
    icm_state *state = opaque;
    memset(state->salt, 0, sizeof state->salt);
    memcpy(state->salt, key + state->key_length, SRTP_SALT_LEN);
    const EVP_CIPHER *cipher = state->key_length == 16 ? EVP_aes_128_ctr() : EVP_aes_256_ctr();
    return EVP_EncryptInit_ex(state->context, cipher, NULL, key, NULL) == 1 ? srtp_err_status_ok
                                                                            : srtp_err_status_init_fail;
}

static srtp_err_status_t icm_set_iv(void *opaque, uint8_t *iv, srtp_cipher_direction_t direction) {
    (void)direction;
    icm_state *state = opaque;
    uint8_t counter[16];
    for (int index = 0; index < 16; index++) counter[index] = state->salt[index] ^ iv[index];
    return EVP_EncryptInit_ex(state->context, NULL, NULL, NULL, counter) == 1 ? srtp_err_status_ok
                                                                              : srtp_err_status_cipher_fail;
}

static srtp_err_status_t icm_encrypt(void *opaque, uint8_t *buffer, unsigned int *length) {
    icm_state *state = opaque;
    int written = 0;
    if (EVP_EncryptUpdate(state->context, buffer, &written, buffer, (int)*length) != 1) return srtp_err_status_cipher_fail;
    return srtp_err_status_ok;
}

// RFC 3711 appendix B.2: the first keystream block for its session key and salt.
static const uint8_t icm_128_test_key[SRTP_AES_ICM_128_KEY_LEN_WSALT] = {
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd};
static const uint8_t icm_128_test_keystream[16] = {
    0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d, 0xd9, 0x2b, 0x4e, 0xb4};
// The same salt under a 256-bit key; the keystream is AES-256-CTR's (checked with `openssl enc`).
static const uint8_t icm_256_test_key[SRTP_AES_ICM_256_KEY_LEN_WSALT] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd};
static const uint8_t icm_256_test_keystream[16] = {
    0x78, 0xf5, 0x6e, 0x51, 0xa9, 0x82, 0x19, 0x04, 0x5c, 0xca, 0x17, 0x11, 0x3f, 0xe7, 0x45, 0xd9};
static uint8_t icm_test_index[16];
static const uint8_t icm_test_plaintext[16];

static const srtp_cipher_test_case_t icm_128_test = {
    SRTP_AES_ICM_128_KEY_LEN_WSALT, icm_128_test_key, icm_test_index, 16, icm_test_plaintext, 16,
    icm_128_test_keystream, 0, NULL, 0, NULL};
static const srtp_cipher_test_case_t icm_256_test = {
    SRTP_AES_ICM_256_KEY_LEN_WSALT, icm_256_test_key, icm_test_index, 16, icm_test_plaintext, 16,
    icm_256_test_keystream, 0, NULL, 0, NULL};

static const srtp_cipher_type_t icm_128_type = {
    icm_alloc, icm_dealloc, icm_init, NULL, icm_encrypt, icm_encrypt, icm_set_iv, NULL,
    "AES-128 counter mode (OpenSSL)", &icm_128_test, SRTP_AES_ICM_128};
static const srtp_cipher_type_t icm_256_type = {
    icm_alloc, icm_dealloc, icm_init, NULL, icm_encrypt, icm_encrypt, icm_set_iv, NULL,
    "AES-256 counter mode (OpenSSL)", &icm_256_test, SRTP_AES_ICM_256};

// MARK: HMAC-SHA1 (RFC 2104) from SHA-1 states that have absorbed the padded key once, so a packet
// costs two state copies and the hashing itself: no allocation, no per-packet key schedule.

typedef struct {
    SHA_CTX inner_start;
    SHA_CTX outer_start;
    SHA_CTX inner;
} hmac_state;

static const srtp_auth_type_t hmac_type;

static srtp_err_status_t hmac_alloc(srtp_auth_t **auth, int key_length, int output_length) {
    if (key_length > SHA_CBLOCK || output_length > SHA_DIGEST_LENGTH) return srtp_err_status_bad_param;
    srtp_auth_t *allocated = calloc(1, sizeof(srtp_auth_t));
    hmac_state *state = calloc(1, sizeof(hmac_state));
    if (allocated == NULL || state == NULL) {
        free(allocated);
        free(state);
        return srtp_err_status_alloc_fail;
    }
    allocated->type = &hmac_type;
    allocated->state = state;
    allocated->out_len = output_length;
    allocated->key_len = key_length;
    allocated->prefix_len = 0;
    *auth = allocated;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_dealloc(srtp_auth_t *auth) {
    memset(auth->state, 0, sizeof(hmac_state));
    free(auth->state);
    free(auth);
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_init(void *opaque, const uint8_t *key, int key_length) {
    hmac_state *state = opaque;
    if (key_length > SHA_CBLOCK) return srtp_err_status_bad_param;
    uint8_t inner_pad[SHA_CBLOCK], outer_pad[SHA_CBLOCK];
    for (int index = 0; index < SHA_CBLOCK; index++) {
        uint8_t byte = index < key_length ? key[index] : 0;
        inner_pad[index] = byte ^ 0x36;
        outer_pad[index] = byte ^ 0x5c;
    }
    SHA1_Init(&state->inner_start);
    SHA1_Update(&state->inner_start, inner_pad, SHA_CBLOCK);
    SHA1_Init(&state->outer_start);
    SHA1_Update(&state->outer_start, outer_pad, SHA_CBLOCK);
    state->inner = state->inner_start;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_start(void *opaque) {
    hmac_state *state = opaque;
    state->inner = state->inner_start;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_update(void *opaque, const uint8_t *buffer, int length) {
    hmac_state *state = opaque;
    SHA1_Update(&state->inner, buffer, (size_t)length);
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_compute(void *opaque, const uint8_t *buffer, int length, int tag_length, uint8_t *tag) {
    hmac_state *state = opaque;
    if (tag_length > SHA_DIGEST_LENGTH) return srtp_err_status_bad_param;
    uint8_t digest[SHA_DIGEST_LENGTH];
    SHA1_Update(&state->inner, buffer, (size_t)length);
    SHA1_Final(digest, &state->inner);
    SHA_CTX outer = state->outer_start;
    SHA1_Update(&outer, digest, SHA_DIGEST_LENGTH);
    SHA1_Final(digest, &outer);
    memcpy(tag, digest, (size_t)tag_length);
    return srtp_err_status_ok;
}

// RFC 2202 test case 1.
static const uint8_t hmac_test_key[20] = {
    0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b};
static const uint8_t hmac_test_data[8] = {'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'};
static const uint8_t hmac_test_tag[20] = {
    0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72, 0x64, 0xe2, 0x8b, 0xc0, 0xb6, 0xfb, 0x37, 0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00};
static const srtp_auth_test_case_t hmac_test = {20, hmac_test_key, 8, hmac_test_data, 20, hmac_test_tag, NULL};

static const srtp_auth_type_t hmac_type = {
    hmac_alloc, hmac_dealloc, hmac_init, hmac_compute, hmac_update, hmac_start,
    "HMAC-SHA1 (OpenSSL SHA-1)", &hmac_test, SRTP_HMAC_SHA1};

int spw_srtp_use_openssl(void) {
    srtp_err_status_t status = srtp_replace_cipher_type(&icm_128_type, SRTP_AES_ICM_128);
    if (status == srtp_err_status_ok) status = srtp_replace_cipher_type(&icm_256_type, SRTP_AES_ICM_256);
    if (status == srtp_err_status_ok) status = srtp_replace_auth_type(&hmac_type, SRTP_HMAC_SHA1);
    return (int)status;
}
