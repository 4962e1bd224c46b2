import CSRTP
import CSRTPCrypto

/// A master key as SDES carries it: key and salt, and the master key identifier (MKI) the peer
/// puts in every packet, if it announced one.
public struct SRTPMasterKey: Equatable, Sendable {
    /// The master key followed by the master salt.
    public var material: [UInt8]
    /// The MKI bytes (RFC 3711 section 3.1), big-endian in the announced length; nil for none.
    public var identifier: [UInt8]?

    public init(material: [UInt8], identifier: [UInt8]? = nil) {
        self.material = material
        self.identifier = identifier
    }

    /// Fresh key material for `suite` from the system's cryptographic random source.
    public static func random(for suite: SRTPSuite) -> SRTPMasterKey {
        var generator = SystemRandomNumberGenerator()
        return SRTPMasterKey(material: (0..<suite.keyMaterialLength).map { _ in generator.next() })
    }
}

/// One libsrtp session: every stream (SSRC) one party sends, or everything the relay sends to one
/// party, under one master key. It owns the libsrtp context; the data plane works through its
/// `transform`, which is only valid while the session lives.
public final class SRTPSession: @unchecked Sendable {
    /// What the session does to packets.
    public enum Role: Sendable {
        /// Checks and decrypts what a party sent (libsrtp's "any inbound" SSRC template).
        case decrypting
        /// Encrypts and signs what the relay sends to a party ("any outbound").
        case encrypting
    }

    public let suite: SRTPSuite
    public let key: SRTPMasterKey
    public let role: Role
    private let context: OpaquePointer

    /// Packets behind the newest one that are still accepted once (RFC 3711 section 3.3.2).
    public static let replayWindow = 128

    /// Where one SSRC's stream stood in a session that another one carries on (a call taken over
    /// by another node): its rollover counter and highest sequence number, so that the new
    /// session's packet indices, and so its keystream and replay window, continue the old ones.
    public struct StreamPosition: Sendable, Equatable {
        public var ssrc: UInt32
        /// The extended highest sequence number: the rollover counter in the upper half.
        public var extendedSequence: UInt32

        public init(ssrc: UInt32, extendedSequence: UInt32) {
            self.ssrc = ssrc
            self.extendedSequence = extendedSequence
        }
    }

    /// Creates the libsrtp context; fails when the key material does not fit the suite.
    /// `resuming` names streams that carry on from another session, at their positions.
    public convenience init(
        suite: SRTPSuite, key: SRTPMasterKey, role: Role, resuming streams: [StreamPosition] = []
    ) throws(SRTPError) {
        try self.init(suite: suite, key: key, role: role, resuming: streams, primed: true)
    }

    /// `primed`: whether resumed streams get their synthetic packet (a priming twin gets none).
    private init(
        suite: SRTPSuite, key: SRTPMasterKey, role: Role, resuming streams: [StreamPosition], primed: Bool
    ) throws(SRTPError) {
        guard key.material.count == suite.keyMaterialLength else {
            throw .keyLength(suite: suite, expected: suite.keyMaterialLength, actual: key.material.count)
        }
        try SRTPLibrary.initialize()
        self.suite = suite
        self.key = key
        self.role = role

        var policy = srtp_policy_t()
        (policy.rtp, policy.rtcp) = suite.cryptoPolicies()
        policy.ssrc.type = role == .decrypting ? ssrc_any_inbound : ssrc_any_outbound
        policy.window_size = UInt(Self.replayWindow)
        policy.allow_repeat_tx = 0
        var material = key.material
        var identifier = key.identifier ?? []
        var created: srtp_t?
        let status = material.withUnsafeMutableBufferPointer { materialBytes in
            identifier.withUnsafeMutableBufferPointer { identifierBytes in
                var masterKey = srtp_master_key_t(
                    key: materialBytes.baseAddress, mki_id: identifierBytes.baseAddress,
                    mki_size: UInt32(identifierBytes.count))
                return withUnsafeMutablePointer(to: &masterKey) { masterKeyPointer in
                    var keys: [UnsafeMutablePointer<srtp_master_key_t>?] = [masterKeyPointer]
                    return keys.withUnsafeMutableBufferPointer { keyList in
                        if key.identifier != nil {
                            policy.keys = keyList.baseAddress
                            policy.num_master_keys = 1
                        } else {
                            policy.key = materialBytes.baseAddress
                        }
                        var status = srtp_create(&created, &policy)
                        // The same key, one stream per resumed SSRC (libsrtp copies the policy),
                        // at its rollover counter.
                        for stream in streams where status == srtp_err_status_ok {
                            policy.ssrc = srtp_ssrc_t(type: ssrc_specific, value: stream.ssrc)
                            status = srtp_add_stream(created, &policy)
                            if status == srtp_err_status_ok {
                                status = srtp_set_stream_roc(created, stream.ssrc, stream.extendedSequence >> 16)
                            }
                        }
                        return status
                    }
                }
            }
        }
        guard status == srtp_err_status_ok, let created else {
            if let created { srtp_dealloc(created) }
            throw .library(
                operation: streams.isEmpty ? "srtp_create" : "srtp_create (resuming \(streams.count) streams)",
                status: status.rawValue)
        }
        context = created
        if primed {
            for stream in streams { try prime(stream) }
        }
    }

    /// Makes libsrtp take a resumed stream's next packets as following its last one: with only the
    /// rollover counter set, a first packet just past a sequence-number wrap would be placed a
    /// whole cycle back (and fail to decrypt). A synthetic packet at the stream's last index,
    /// protected here (or, when decrypting, protected by a twin session and checked here), pins
    /// both halves of the index; it is then thrown away.
    private func prime(_ stream: StreamPosition) throws(SRTPError) {
        var header = [UInt8](repeating: 0, count: 13)
        header[0] = 0x80
        header[2] = UInt8(truncatingIfNeeded: stream.extendedSequence >> 8)
        header[3] = UInt8(truncatingIfNeeded: stream.extendedSequence)
        for byte in 0..<4 { header[8 + byte] = UInt8(truncatingIfNeeded: stream.ssrc >> (24 - 8 * byte)) }
        let outcome: Result<[UInt8], SRTPOutcome>
        switch role {
        case .encrypting:
            outcome = protect(header)
        case .decrypting:
            let twin = try SRTPSession(suite: suite, key: key, role: .encrypting, resuming: [stream], primed: false)
            outcome = twin.protect(header).flatMap { unprotect($0) }
        }
        if case .failure(let failure) = outcome {
            throw .library(
                operation: "resuming SSRC \(stream.ssrc) at index \(stream.extendedSequence)", status: failure.status)
        }
    }

    deinit {
        srtp_dealloc(context)
    }

    /// A non-owning handle for the data plane's hot path (no reference counting per packet).
    public var transform: SRTPTransform {
        SRTPTransform(context: context, usesMKI: key.identifier != nil)
    }
}

extension SRTPSession {
    /// Protects a copy of `packet` (RTP, or RTCP when `rtcp`), for tools and tests; the data plane
    /// works in place through `transform` instead.
    public func protect(_ packet: [UInt8], rtcp: Bool = false) -> Result<[UInt8], SRTPOutcome> {
        apply(to: packet) { transform, bytes, length in transform.protect(bytes, length: &length, rtcp: rtcp) }
    }

    /// Checks and decrypts a copy of `packet` (SRTP, or SRTCP when `rtcp`).
    public func unprotect(_ packet: [UInt8], rtcp: Bool = false) -> Result<[UInt8], SRTPOutcome> {
        apply(to: packet) { transform, bytes, length in transform.unprotect(bytes, length: &length, rtcp: rtcp) }
    }

    private func apply(
        to packet: [UInt8], _ body: (SRTPTransform, UnsafeMutableRawPointer, inout Int) -> SRTPOutcome
    ) -> Result<[UInt8], SRTPOutcome> {
        var buffer = packet + [UInt8](repeating: 0, count: SRTPTransform.trailerRoom)
        var length = packet.count
        let outcome = buffer.withUnsafeMutableBytes { body(transform, $0.baseAddress!, &length) }
        guard outcome == .ok else { return .failure(outcome) }
        return .success(Array(buffer.prefix(length)))
    }
}

/// Protects or unprotects packets in place with a session's context. The buffer must have
/// `SRTPTransform.trailerRoom` writable bytes past the packet for protection.
public struct SRTPTransform: @unchecked Sendable {
    let context: OpaquePointer
    let usesMKI: Bool

    /// Bytes protection may append: the longest tag and MKI, plus the SRTCP index.
    public static let trailerRoom = Int(SRTP_MAX_TRAILER_LEN) + 4

    /// Checks and decrypts an SRTP packet; `length` becomes the plaintext's.
    @inline(__always)
    public func unprotectRTP(_ packet: UnsafeMutableRawPointer, length: inout Int) -> SRTPOutcome {
        run(packet, &length) { srtp_unprotect_mki($0, $1, $2, usesMKI ? 1 : 0) }
    }

    /// Checks and decrypts an SRTCP packet; `length` becomes the plaintext's.
    @inline(__always)
    public func unprotectRTCP(_ packet: UnsafeMutableRawPointer, length: inout Int) -> SRTPOutcome {
        run(packet, &length) { srtp_unprotect_rtcp_mki($0, $1, $2, usesMKI ? 1 : 0) }
    }

    /// Encrypts and signs an RTP packet in place; `length` grows by the tag.
    @inline(__always)
    public func protectRTP(_ packet: UnsafeMutableRawPointer, length: inout Int) -> SRTPOutcome {
        run(packet, &length) { srtp_protect($0, $1, $2) }
    }

    /// Encrypts and signs an RTCP packet in place; `length` grows by the SRTCP index and tag.
    @inline(__always)
    public func protectRTCP(_ packet: UnsafeMutableRawPointer, length: inout Int) -> SRTPOutcome {
        run(packet, &length) { srtp_protect_rtcp($0, $1, $2) }
    }

    /// Protects an RTP packet, or an RTCP packet when `rtcp`.
    @inline(__always)
    public func protect(_ packet: UnsafeMutableRawPointer, length: inout Int, rtcp: Bool) -> SRTPOutcome {
        rtcp ? protectRTCP(packet, length: &length) : protectRTP(packet, length: &length)
    }

    /// Checks and decrypts an SRTP packet, or an SRTCP packet when `rtcp`.
    @inline(__always)
    public func unprotect(_ packet: UnsafeMutableRawPointer, length: inout Int, rtcp: Bool) -> SRTPOutcome {
        rtcp ? unprotectRTCP(packet, length: &length) : unprotectRTP(packet, length: &length)
    }

    @inline(__always)
    private func run(
        _ packet: UnsafeMutableRawPointer, _ length: inout Int,
        _ operation: (OpaquePointer, UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> srtp_err_status_t
    ) -> SRTPOutcome {
        var size = Int32(length)
        let status = operation(context, packet, &size)
        length = Int(size)
        return SRTPOutcome(status)
    }
}

/// What became of one packet.
public enum SRTPOutcome: Error, Equatable, Sendable {
    case ok
    /// The authentication tag did not match: wrong key, or a forged or damaged packet.
    case authenticationFailed
    /// The packet index was seen before, or is behind the replay window.
    case replayed
    /// Any other libsrtp failure (a malformed header, an exhausted key); the libsrtp status.
    case failed(status: UInt32)

    /// The libsrtp status behind the outcome.
    var status: UInt32 {
        switch self {
        case .ok: srtp_err_status_ok.rawValue
        case .authenticationFailed: srtp_err_status_auth_fail.rawValue
        case .replayed: srtp_err_status_replay_fail.rawValue
        case .failed(let status): status
        }
    }

    @inline(__always)
    init(_ status: srtp_err_status_t) {
        switch status {
        case srtp_err_status_ok: self = .ok
        case srtp_err_status_auth_fail: self = .authenticationFailed
        case srtp_err_status_replay_fail, srtp_err_status_replay_old: self = .replayed
        default: self = .failed(status: status.rawValue)
        }
    }
}

/// Failures to set up SRTP (not of one packet).
public enum SRTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case keyLength(suite: SRTPSuite, expected: Int, actual: Int)
    case library(operation: String, status: UInt32)

    public var description: String {
        switch self {
        case .keyLength(let suite, let expected, let actual):
            "\(suite) needs \(expected) bytes of key and salt, got \(actual)"
        case .library(let operation, let status):
            "libsrtp2 \(operation) failed with status \(status); check that libsrtp2 is 2.3 or newer with AES-GCM support"
        }
    }
}

/// libsrtp's one-time global set-up: `srtp_init`, then OpenSSL's AES-CTR and HMAC-SHA1 in place
/// of the NSS ones Debian's libsrtp2 is built with (see CSRTPCrypto.h).
enum SRTPLibrary {
    private static let initialization: SRTPError? = {
        let status = srtp_init()
        guard status == srtp_err_status_ok else { return .library(operation: "srtp_init", status: status.rawValue) }
        let replaced = spw_srtp_use_openssl()
        guard replaced == 0 else {
            return .library(operation: "installing the OpenSSL ciphers", status: UInt32(replaced))
        }
        return nil
    }()

    static func initialize() throws(SRTPError) {
        if let failure = initialization { throw failure }
    }
}
