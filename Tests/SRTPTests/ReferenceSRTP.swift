import Crypto
import Foundation
import SRTP
import _CryptoExtras

/// An independent SRTP computation for checking libsrtp's output: RFC 3711's key derivation and
/// AES-CM/HMAC-SHA1 transform, and RFC 7714's AES-GCM transform, written from the RFCs with
/// swift-crypto's AES-CTR, AES-GCM and HMAC. Test-only and slow; it is checked against the RFCs'
/// own vectors before it checks anything else.
enum ReferenceSRTP {
    struct SessionKeys {
        var cipherKey: [UInt8]
        var salt: [UInt8]
        var authenticationKey: [UInt8]
    }

    /// The first `count` bytes of AES-CTR keystream from the 16-byte counter block `iv`.
    static func keystream(key: [UInt8], iv: [UInt8], count: Int) throws -> [UInt8] {
        let nonce = try AES._CTR.Nonce(nonceBytes: iv)
        return Array(
            try AES._CTR.encrypt([UInt8](repeating: 0, count: count), using: SymmetricKey(data: key), nonce: nonce))
    }

    /// RFC 3711 section 4.3.1 with a key derivation rate of 0: label 0 cipher key, 1 authentication
    /// key, 2 salt. A 96-bit GCM master salt is padded to 112 bits with zeros on the right.
    static func derive(masterKey: [UInt8], masterSalt: [UInt8], label: UInt8, count: Int) throws -> [UInt8] {
        var x = masterSalt + [UInt8](repeating: 0, count: 14 - masterSalt.count)
        x[7] ^= label
        return try keystream(key: masterKey, iv: x + [0, 0], count: count)
    }

    /// The SRTP session keys of `suite` (labels 0-2; RFC 3711 section 4.3.2, RFC 7714 section 11).
    static func sessionKeys(suite: SRTPSuite, material: [UInt8]) throws -> SessionKeys {
        let masterKey = Array(material.prefix(suite.keyLength))
        let masterSalt = Array(material.dropFirst(suite.keyLength))
        return SessionKeys(
            cipherKey: try derive(masterKey: masterKey, masterSalt: masterSalt, label: 0, count: suite.keyLength),
            salt: try derive(masterKey: masterKey, masterSalt: masterSalt, label: 2, count: suite.saltLength),
            authenticationKey: suite.isAEAD
                ? [] : try derive(masterKey: masterKey, masterSalt: masterSalt, label: 1, count: 20))
    }

    /// Protects `packet` (a 12-byte header, no CSRC or extension) with session keys; `mki` goes
    /// between the encrypted payload and the tag (RFC 3711 section 3.1).
    static func protect(
        _ packet: [UInt8], suite: SRTPSuite, keys: SessionKeys, rolloverCounter: UInt32 = 0, mki: [UInt8] = []
    ) throws -> [UInt8] {
        let header = Array(packet.prefix(12))
        let payload = Array(packet.dropFirst(12))
        let ssrc = header[8..<12]
        let sequence = header[2..<4]
        let roc = withUnsafeBytes(of: rolloverCounter.bigEndian, Array.init)
        if suite.isAEAD {
            // RFC 7714 section 8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt; the header is the AAD.
            let iv = zip([0, 0] + ssrc + roc + sequence, keys.salt).map { $0 ^ $1 }
            let sealed = try AES.GCM.seal(
                payload, using: SymmetricKey(data: keys.cipherKey), nonce: AES.GCM.Nonce(data: iv),
                authenticating: header)
            return header + sealed.ciphertext + mki + sealed.tag
        }
        // RFC 3711 section 4.1.1: IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16).
        var iv = keys.salt + [0, 0]
        for (offset, byte) in ssrc.enumerated() { iv[4 + offset] ^= byte }
        for (offset, byte) in (roc + sequence).enumerated() { iv[8 + offset] ^= byte }
        let encrypted = zip(payload, try keystream(key: keys.cipherKey, iv: iv, count: payload.count)).map { $0 ^ $1 }
        var authenticator = HMAC<Insecure.SHA1>(key: SymmetricKey(data: keys.authenticationKey))
        authenticator.update(data: header + encrypted + roc)
        let tag = Array(authenticator.finalize()).prefix(suite.rtpTagLength)
        return header + encrypted + mki + tag
    }
}

extension Array where Element == UInt8 {
    /// Bytes from hex digits, ignoring spaces.
    init(hex: String) {
        let digits = hex.filter { !$0.isWhitespace }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        self = bytes
    }
}
