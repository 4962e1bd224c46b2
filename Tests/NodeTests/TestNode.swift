import Bencode
import Logging
import MediaPlane
import SpillwayClient
import SpillwayNode
import SpillwayTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A relay node started in-process on loopback for one test, with its own media port range so
/// tests can run in parallel, and an NG client pointed at it.
struct TestNode {
    let node: RelayNode
    let client: NGClient

    private static let nextRange = Atomic<Int>(0)

    static func start(
        mediaTimeout: Int = 60, portPairs: Int = 40, configure: (inout NodeConfiguration) -> Void = { _ in }
    ) async throws -> TestNode {
        let index = nextRange.wrappingAdd(1, ordering: .relaxed).oldValue
        var configuration = NodeConfiguration()
        configuration.nodeID = "test-\(index)"
        configuration.ngAddress = "127.0.0.1:0"
        let low = UInt16(20000 + index * 100)
        configuration.portRange = low...(low + UInt16(portPairs * 2 - 1))
        configuration.mediaTimeout = mediaTimeout
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let node = try await RelayNode.start(configuration, logger: logger)
        return TestNode(node: node, client: try NGClient(server: node.ngAddress))
    }

    func stop() async { await node.shutdown() }

    func request(_ body: BencodeValue) throws -> BencodeValue { try client.request(body) }

    /// Offer from `caller` and answer from `callee`; returns the relay addresses each must send to.
    func connect(
        callID: String, caller: String, callee: String, extraOffer: [String: BencodeValue] = [:]
    ) throws -> (forCaller: SocketAddress, forCallee: SocketAddress) {
        var offer: [String: BencodeValue] = [
            "command": "offer", "call-id": .string(callID), "from-tag": "A", "sdp": .string(caller),
        ]
        offer.merge(extraOffer) { _, new in new }
        let offerReply = try request(.dictionary(offer))
        // The offer's own refusal, not the answer's "Unknown call-id" that would follow it.
        let forCallee = try ScriptedCall.mediaAddress(in: offerReply)
        let answerReply = try request([
            "command": "answer", "call-id": .string(callID), "from-tag": "A", "to-tag": "B", "sdp": .string(callee),
        ])
        return (try ScriptedCall.mediaAddress(in: answerReply), forCallee)
    }

    /// A G.711 call between two new UDP peers on loopback, set up over NG (`extraOffer` adds to the
    /// offer): the peers, and the relay addresses each must send to.
    func audioCall(
        _ callID: String, extraOffer: [String: BencodeValue] = [:]
    ) throws -> (caller: UDPPeer, callee: UDPPeer, relay: (forCaller: SocketAddress, forCallee: SocketAddress)) {
        let caller = try UDPPeer()
        let callee = try UDPPeer()
        let relay = try connect(
            callID: callID, caller: audioSDP(port: caller.address.port), callee: audioSDP(port: callee.address.port),
            extraOffer: extraOffer)
        return (caller, callee, relay)
    }

    /// The first stream of `tag`'s m= line `media` in a `query` reply, once its figures have settled:
    /// a worker publishes after sending a batch, so a packet can arrive before it is counted.
    func stream(callID: String, tag: String, media: Int = 0) async throws -> BencodeValue? {
        func current() throws -> BencodeValue? {
            try request(["command": "query", "call-id": .string(callID)])["tags"]?[tag]?["medias"]?.listValue?[media][
                "streams"]?
                .listValue?.first
        }
        var previous = try current()
        for _ in 0..<40 {
            try await Task.sleep(for: .milliseconds(50))
            let next = try current()
            if next == previous { return next }
            previous = next
        }
        return previous
    }
}
