#ifndef SPILLWAY_SRTP_CRYPTO_H
#define SPILLWAY_SRTP_CRYPTO_H

/// Replaces libsrtp2's AES-ICM and AES-GCM ciphers (128 and 256 bit) and HMAC-SHA1 authentication
/// with OpenSSL libcrypto ones. Debian builds libsrtp2 against NSS, whose PKCS#11 layer creates a
/// context for every packet (about 3 us per protect or unprotect); these keep one context per
/// session key and reset only the counter. libsrtp2 still does everything else: key derivation,
/// packet indices and rollover, replay protection, SRTCP, MKI. Each replacement passes libsrtp2's
/// self-test (RFC 3711 B.2, RFC 7714 section 16, RFC 2202) before it is installed. Call after srtp_init(); returns a
/// libsrtp2 status (0 for success).
int spw_srtp_use_openssl(void);

#endif
