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

// A libsrtp2 cipher or auth object and its state, allocated together; both freed on failure.
static int allocate_with_state(size_t object_size, void **object, size_t state_size, void **state) {
    *object = calloc(1, object_size);
    *state = calloc(1, state_size);
    if (*object != NULL && *state != NULL) return 1;
    free(*object);
    free(*state);
    return 0;
}

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
    srtp_cipher_t *allocated;
    icm_state *state;
    if (!allocate_with_state(sizeof *allocated, (void **)&allocated, sizeof *state, (void **)&state)) {
        return srtp_err_status_alloc_fail;
    }
    if ((state->context = EVP_CIPHER_CTX_new()) == NULL) {
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

// MARK: AES-GCM (RFC 7714): libsrtp2 computes the 96-bit IV and passes the header (and SRTCP
// index) as AAD; the tag follows the ciphertext. One context per session key; a packet resets the IV.

typedef struct {
    EVP_CIPHER_CTX *context;
    const EVP_CIPHER *cipher;
    int tag_length;
    int encrypting;
} gcm_state;

static const srtp_cipher_type_t gcm_128_type;
static const srtp_cipher_type_t gcm_256_type;

static srtp_err_status_t gcm_alloc(srtp_cipher_t **cipher, int key_length, int tag_length) {
    const srtp_cipher_type_t *type;
    if (key_length == SRTP_AES_GCM_128_KEY_LEN_WSALT) {
        type = &gcm_128_type;
    } else if (key_length == SRTP_AES_GCM_256_KEY_LEN_WSALT) {
        type = &gcm_256_type;
    } else {
        return srtp_err_status_bad_param;
    }
    if (tag_length != 16 && tag_length != 8) return srtp_err_status_bad_param;
    srtp_cipher_t *allocated;
    gcm_state *state;
    if (!allocate_with_state(sizeof *allocated, (void **)&allocated, sizeof *state, (void **)&state)) {
        return srtp_err_status_alloc_fail;
    }
    if ((state->context = EVP_CIPHER_CTX_new()) == NULL) {
        free(allocated);
        free(state);
        return srtp_err_status_alloc_fail;
    }
    state->tag_length = tag_length;
    state->cipher = type == &gcm_128_type ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    allocated->type = type;
    allocated->state = state;
    allocated->key_len = key_length;
    allocated->algorithm = type->id;
    *cipher = allocated;
    return srtp_err_status_ok;
}

static srtp_err_status_t gcm_dealloc(srtp_cipher_t *cipher) {
    gcm_state *state = cipher->state;
    EVP_CIPHER_CTX_free(state->context);
    free(state);
    free(cipher);
    return srtp_err_status_ok;
}

// The salt after the key is libsrtp2's to fold into the IV; the cipher takes the key alone.
static srtp_err_status_t gcm_init(void *opaque, const uint8_t *key) {
    gcm_state *state = opaque;
    return EVP_CipherInit_ex(state->context, state->cipher, NULL, key, NULL, 1) == 1 ? srtp_err_status_ok
                                                                                    : srtp_err_status_init_fail;
}

static srtp_err_status_t gcm_set_iv(void *opaque, uint8_t *iv, srtp_cipher_direction_t direction) {
    gcm_state *state = opaque;
    state->encrypting = direction == srtp_direction_encrypt;
    return EVP_CipherInit_ex(state->context, NULL, NULL, NULL, iv, state->encrypting) == 1 ? srtp_err_status_ok
                                                                                          : srtp_err_status_cipher_fail;
}

static srtp_err_status_t gcm_set_aad(void *opaque, const uint8_t *aad, uint32_t length) {
    gcm_state *state = opaque;
    int written = 0;
    return EVP_CipherUpdate(state->context, NULL, &written, aad, (int)length) == 1 ? srtp_err_status_ok
                                                                                   : srtp_err_status_cipher_fail;
}

static srtp_err_status_t gcm_encrypt(void *opaque, uint8_t *buffer, unsigned int *length) {
    gcm_state *state = opaque;
    int written = 0;
    if (!state->encrypting) return srtp_err_status_bad_param;
    return EVP_EncryptUpdate(state->context, buffer, &written, buffer, (int)*length) == 1 ? srtp_err_status_ok
                                                                                          : srtp_err_status_cipher_fail;
}

static srtp_err_status_t gcm_get_tag(void *opaque, uint8_t *tag, uint32_t *length) {
    gcm_state *state = opaque;
    uint8_t unused[16];
    int written = 0;
    if (EVP_EncryptFinal_ex(state->context, unused, &written) != 1 ||
        EVP_CIPHER_CTX_ctrl(state->context, EVP_CTRL_GCM_GET_TAG, state->tag_length, tag) != 1) {
        return srtp_err_status_cipher_fail;
    }
    *length = (uint32_t)state->tag_length;
    return srtp_err_status_ok;
}

// The buffer holds the ciphertext followed by the tag; on success `length` drops the tag.
static srtp_err_status_t gcm_decrypt(void *opaque, uint8_t *buffer, unsigned int *length) {
    gcm_state *state = opaque;
    if (state->encrypting || *length < (unsigned int)state->tag_length) return srtp_err_status_bad_param;
    unsigned int ciphertext = *length - (unsigned int)state->tag_length;
    int written = 0;
    uint8_t unused[16];
    if (EVP_CIPHER_CTX_ctrl(state->context, EVP_CTRL_GCM_SET_TAG, state->tag_length, buffer + ciphertext) != 1 ||
        EVP_DecryptUpdate(state->context, buffer, &written, buffer, (int)ciphertext) != 1) {
        return srtp_err_status_cipher_fail;
    }
    if (EVP_DecryptFinal_ex(state->context, unused, &written) != 1) return srtp_err_status_auth_fail;
    *length = ciphertext;
    return srtp_err_status_ok;
}

// RFC 7714 section 16.1.1 (AEAD_AES_128_GCM): key and salt, the IV it derives, the RTP header as AAD,
// and the ciphertext with its 16-byte tag. The AES-256 case keeps the IV, AAD and plaintext under a
// 32-byte key; its ciphertext is AES-256-GCM's (checked with Python's cryptography package).
static const uint8_t gcm_128_test_key[SRTP_AES_GCM_128_KEY_LEN_WSALT] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x51, 0x75, 0x69, 0x64, 0x20, 0x70, 0x72, 0x6f, 0x20, 0x71, 0x75, 0x6f};
static const uint8_t gcm_256_test_key[SRTP_AES_GCM_256_KEY_LEN_WSALT] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x51, 0x75, 0x69, 0x64, 0x20, 0x70, 0x72, 0x6f, 0x20, 0x71, 0x75, 0x6f};
static uint8_t gcm_test_iv[12] = {0x51, 0x75, 0x3c, 0x65, 0x80, 0xc2, 0x72, 0x6f, 0x20, 0x71, 0x84, 0x14};
static const uint8_t gcm_test_aad[12] = {0x80, 0x40, 0xf1, 0x7b, 0x80, 0x41, 0xf8, 0xd3, 0x55, 0x01, 0xa0, 0xb2};
static const uint8_t gcm_test_plaintext[38] = {
    0x47, 0x61, 0x6c, 0x6c, 0x69, 0x61, 0x20, 0x65, 0x73, 0x74, 0x20, 0x6f, 0x6d, 0x6e, 0x69, 0x73, 0x20, 0x64, 0x69,
    0x76, 0x69, 0x73, 0x61, 0x20, 0x69, 0x6e, 0x20, 0x70, 0x61, 0x72, 0x74, 0x65, 0x73, 0x20, 0x74, 0x72, 0x65, 0x73};
static const uint8_t gcm_128_test_ciphertext[54] = {
    0xf2, 0x4d, 0xe3, 0xa3, 0xfb, 0x34, 0xde, 0x6c, 0xac, 0xba, 0x86, 0x1c, 0x9d, 0x7e, 0x4b, 0xca, 0xbe, 0x63,
    0x3b, 0xd5, 0x0d, 0x29, 0x4e, 0x6f, 0x42, 0xa5, 0xf4, 0x7a, 0x51, 0xc7, 0xd1, 0x9b, 0x36, 0xde, 0x3a, 0xdf,
    0x88, 0x33, 0x89, 0x9d, 0x7f, 0x27, 0xbe, 0xb1, 0x6a, 0x91, 0x52, 0xcf, 0x76, 0x5e, 0xe4, 0x39, 0x0c, 0xce};
static const uint8_t gcm_256_test_ciphertext[54] = {
    0x32, 0xb1, 0xde, 0x78, 0xa8, 0x22, 0xfe, 0x12, 0xef, 0x9f, 0x78, 0xfa, 0x33, 0x2e, 0x33, 0xaa, 0xb1, 0x80,
    0x12, 0x38, 0x9a, 0x58, 0xe2, 0xf3, 0xb5, 0x0b, 0x2a, 0x02, 0x76, 0xff, 0xae, 0x0f, 0x1b, 0xa6, 0x37, 0x99,
    0xb8, 0x7b, 0x7a, 0xa3, 0xdb, 0x36, 0xdf, 0xff, 0xd6, 0xb0, 0xf9, 0xbb, 0x78, 0x78, 0xd7, 0xa7, 0x6c, 0x13};

static const srtp_cipher_test_case_t gcm_128_test = {
    SRTP_AES_GCM_128_KEY_LEN_WSALT, gcm_128_test_key, gcm_test_iv, 38, gcm_test_plaintext, 54,
    gcm_128_test_ciphertext, 12, gcm_test_aad, 16, NULL};
static const srtp_cipher_test_case_t gcm_256_test = {
    SRTP_AES_GCM_256_KEY_LEN_WSALT, gcm_256_test_key, gcm_test_iv, 38, gcm_test_plaintext, 54,
    gcm_256_test_ciphertext, 12, gcm_test_aad, 16, NULL};

static const srtp_cipher_type_t gcm_128_type = {
    gcm_alloc, gcm_dealloc, gcm_init, gcm_set_aad, gcm_encrypt, gcm_decrypt, gcm_set_iv, gcm_get_tag,
    "AES-128 GCM (OpenSSL)", &gcm_128_test, SRTP_AES_GCM_128};
static const srtp_cipher_type_t gcm_256_type = {
    gcm_alloc, gcm_dealloc, gcm_init, gcm_set_aad, gcm_encrypt, gcm_decrypt, gcm_set_iv, gcm_get_tag,
    "AES-256 GCM (OpenSSL)", &gcm_256_test, SRTP_AES_GCM_256};

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
    srtp_auth_t *allocated;
    hmac_state *state;
    if (!allocate_with_state(sizeof *allocated, (void **)&allocated, sizeof *state, (void **)&state)) {
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
    if (status == srtp_err_status_ok) status = srtp_replace_cipher_type(&gcm_128_type, SRTP_AES_GCM_128);
    if (status == srtp_err_status_ok) status = srtp_replace_cipher_type(&gcm_256_type, SRTP_AES_GCM_256);
    if (status == srtp_err_status_ok) status = srtp_replace_auth_type(&hmac_type, SRTP_HMAC_SHA1);
    return (int)status;
}
