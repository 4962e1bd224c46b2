import CSRTP

/// The SDES crypto suites (RFC 4568 section 6.2, RFC 6188, RFC 7714 section 12) this relay keys
/// through libsrtp2, by their SDP names.
public enum SRTPSuite: String, CaseIterable, Sendable, CustomStringConvertible {
    case aesCM128HMACSHA1_80 = "AES_CM_128_HMAC_SHA1_80"
    case aesCM128HMACSHA1_32 = "AES_CM_128_HMAC_SHA1_32"
    case aes256CMHMACSHA1_80 = "AES_256_CM_HMAC_SHA1_80"
    case aeadAES128GCM = "AEAD_AES_128_GCM"
    case aeadAES256GCM = "AEAD_AES_256_GCM"

    /// The order the relay offers suites in when the offerer gave no preference: the suite every
    /// SDES peer implements first, the stronger ones after.
    public static let offerOrder: [SRTPSuite] = [
        .aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32, .aes256CMHMACSHA1_80, .aeadAES128GCM, .aeadAES256GCM,
    ]

    public var description: String { rawValue }

    /// Bytes of the master key.
    public var keyLength: Int {
        switch self {
        case .aesCM128HMACSHA1_80, .aesCM128HMACSHA1_32, .aeadAES128GCM: 16
        case .aes256CMHMACSHA1_80, .aeadAES256GCM: 32
        }
    }

    /// Bytes of the master salt: 112 bits for AES-CM, 96 bits for AES-GCM (RFC 7714 section 11).
    public var saltLength: Int { isAEAD ? 12 : 14 }

    /// Bytes of the `inline:` key material: the master key followed by the master salt.
    public var keyMaterialLength: Int { keyLength + saltLength }

    /// Bytes the SRTP authentication tag adds to an RTP packet.
    public var rtpTagLength: Int {
        switch self {
        case .aesCM128HMACSHA1_32: 4
        case .aesCM128HMACSHA1_80, .aes256CMHMACSHA1_80: 10
        case .aeadAES128GCM, .aeadAES256GCM: 16
        }
    }

    /// The AES-GCM suites (RFC 7714): an AEAD cipher, a 96-bit salt and no separate authentication key.
    public var isAEAD: Bool { self == .aeadAES128GCM || self == .aeadAES256GCM }

    /// The libsrtp policies for RTP and RTCP. SRTCP keeps the 80-bit tag even for the `_32` suite
    /// (RFC 4568 section 6.2.1).
    func cryptoPolicies() -> (rtp: srtp_crypto_policy_t, rtcp: srtp_crypto_policy_t) {
        var rtp = srtp_crypto_policy_t()
        var rtcp = srtp_crypto_policy_t()
        switch self {
        case .aesCM128HMACSHA1_80:
            srtp_crypto_policy_set_rtp_default(&rtp)
            srtp_crypto_policy_set_rtcp_default(&rtcp)
        case .aesCM128HMACSHA1_32:
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&rtp)
            srtp_crypto_policy_set_rtcp_default(&rtcp)
        case .aes256CMHMACSHA1_80:
            srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtp)
            srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&rtcp)
        case .aeadAES128GCM:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&rtcp)
        case .aeadAES256GCM:
            srtp_crypto_policy_set_aes_gcm_256_16_auth(&rtp)
            srtp_crypto_policy_set_aes_gcm_256_16_auth(&rtcp)
        }
        return (rtp, rtcp)
    }
}
