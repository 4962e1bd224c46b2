import Bencode
import Foundation
import MediaPlane
import SDP
import SRTP
import SpillwayClient
import SpillwayTestSupport
import Testing

/// The data plane's zero-allocation claim, checked on a real `spillway serve`: with
/// `bench/malloc_count.c` preloaded (it counts malloc/calloc/realloc on threads named
/// `spw-media-*` and prints the count on SIGUSR1), a call whose caller sends SRTP, which the relay
/// decrypts for a plain callee and encrypts on the way back, forwards hundreds of packets each way
/// after a warm-up without a single heap allocation on the media thread, on each engine.
@Suite struct MediaThreadAllocationTests {
    static let warmUpPackets = 20
    static let measuredPackets = 500

    @Test(arguments: DataPlaneEngine.allCases)
    func forwardingSRTPAllocatesNothingOnTheMediaThread(engine: DataPlaneEngine) async throws {
        let directory = try scratchDirectory("allocations-\(engine)")
        let counter = try await compileBenchTool(
            "malloc_count", into: directory, output: "malloc_count.so", flags: ["-shared", "-fPIC"])
        // Ports below Linux's ephemeral range, apart for each engine so the two runs never meet.
        let base: UInt16 = engine == .epoll ? 12_700 : 12_800
        let node = try ChildProcess(
            "spillway-\(engine)", try spillwayExecutable(),
            [
                "serve", "--ng", "127.0.0.1:\(base)", "--port-range", "\(base + 10)-\(base + 99)", "--workers", "1",
                "--data-plane", engine.rawValue, "--log-level", "error",
            ],
            directory: directory, environment: ["LD_PRELOAD": counter])
        defer { node.stop() }
        #expect(await ChildProcess.eventually(seconds: 10) { udpPortIsBound(base) }, "\(node.output)")
        let client = try NGClient(server: try #require(SocketAddress(ip: "127.0.0.1", port: base)))

        let call = try SRTPBridgedCall(client: client)
        try call.exchange(Self.warmUpPackets, startingAt: 1)
        let before = try await Self.mediaThreadAllocations(of: node)
        try call.exchange(Self.measuredPackets, startingAt: 1 + Self.warmUpPackets)
        let after = try await Self.mediaThreadAllocations(of: node)

        // The worker allocates while it configures the call's sockets, so a working counter is above 0.
        #expect(before > 0, "the preloaded counter saw no allocation at all on the media thread: \(node.output)")
        #expect(
            after == before,
            "\(after - before) heap allocations on the media thread while it forwarded \(2 * Self.measuredPackets) packets"
        )
    }

    /// Asks the preloaded counter for its count (SIGUSR1) and waits for the line it prints.
    static func mediaThreadAllocations(of node: ChildProcess) async throws -> Int {
        let reports = { node.output.split(separator: "\n").filter { $0.hasPrefix("media-thread-allocations ") } }
        let earlier = reports().count
        kill(node.pid, SIGUSR1)
        #expect(await ChildProcess.eventually(seconds: 5) { reports().count > earlier }, "\(node.output)")
        let line = try #require(reports().last, "the node printed no allocation count: \(node.output)")
        return try #require(Int(line.split(separator: " ")[1]), "\(line)")
    }
}

/// A call through the node over NG: an SRTP caller (AES_CM_128_HMAC_SHA1_80) and a plain RTP callee,
/// so every packet goes through libsrtp in the relay, decrypted one way and encrypted the other.
struct SRTPBridgedCall {
    let caller: SecureParty
    let callee: UDPPeer
    let decryptor: SRTPSession
    let relayForCaller: SocketAddress
    let relayForCallee: SocketAddress

    init(client: NGClient) throws {
        caller = try SecureParty()
        callee = try UDPPeer()
        let offer = try client.request([
            "command": "offer", "call-id": "allocations", "from-tag": "A", "transport-protocol": "RTP/AVP",
            "sdp": .string(caller.sdp()),
        ])
        let answer = try client.request([
            "command": "answer", "call-id": "allocations", "from-tag": "A", "to-tag": "B",
            "sdp": .string(audioSDP(port: callee.address.port)),
        ])
        let description = try SessionDescription(parsing: try #require(answer["sdp"]?.stringValue, "\(answer)"))
        let relayKey = try CryptoAttribute(
            parsing: try #require(description.media[0].attributes(named: "crypto").first ?? nil, "\(answer)"))
        decryptor = try SRTPSession(suite: relayKey.suite, key: relayKey.masterKey, role: .decrypting)
        relayForCaller = try ScriptedCall.mediaAddress(in: answer)
        relayForCallee = try ScriptedCall.mediaAddress(in: offer)
    }

    /// `count` packets each way in lock-step: the callee must get each of the caller's packets
    /// decrypted, and the caller each of the callee's encrypted with the relay's key.
    func exchange(_ count: Int, startingAt first: Int) throws {
        for sequence in first..<(first + count) {
            #expect(caller.rtp.send(try caller.encryptor.protect(pcmu(sequence)).get(), to: relayForCaller))
            try #require(
                callee.receive(timeoutMilliseconds: 2000)?.bytes == pcmu(sequence), "packet \(sequence) to the callee")
            #expect(callee.send(pcmu(sequence, ssrc: 0x5151), to: relayForCallee))
            let protected = try #require(
                caller.rtp.receive(timeoutMilliseconds: 2000)?.bytes, "packet \(sequence) to the caller")
            try #require(decryptor.unprotect(protected) == .success(pcmu(sequence, ssrc: 0x5151)), "packet \(sequence)")
        }
    }
}
