import Bencode
import Cluster
import Crypto
import Testing

/// A short, seeded fuzz run over the cluster message parser: mutated sealed datagrams, random bytes,
/// and random bencode signed with the right key. Every input is refused or read; none crashes.
@Suite struct ClusterFuzzSmokeTests {
    let key = [UInt8]("a cluster key of 32 bytes, fine!".utf8)
    let now: UInt64 = 1_700_000_000 * second

    @Test func mutatedAndRandomDatagramsAreRefusedOrReadNeverCrash() {
        let seal = ClusterSeal(keyBytes: key)!
        var generator = SeededGenerator(seed: 42)
        let valid = ClusterSealTests.messages.map {
            seal.seal(ClusterEnvelope(sender: "b", sentAtWallNanos: now, message: $0))
        }
        var outcomes: [String: Int] = [:]
        for round in 0..<20_000 {
            var datagram: [UInt8]
            switch round % 3 {
            case 0:  // a valid datagram with a few bytes changed, cut or extended
                datagram = valid[Int.random(in: 0..<valid.count, using: &generator)]
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    datagram[Int.random(in: 0..<datagram.count, using: &generator)] = UInt8.random(
                        in: 0...255, using: &generator)
                }
                if Bool.random(using: &generator) {
                    datagram = Array(datagram.prefix(Int.random(in: 0...datagram.count, using: &generator)))
                }
            case 1:  // random bytes behind the magic
                datagram =
                    ClusterSeal.magic
                    + (0..<Int.random(in: 0...300, using: &generator)).map { _ in
                        UInt8.random(in: 0...255, using: &generator)
                    }
            default:  // random, correctly signed bodies: only the envelope decoder stands between them and the node
                let body = Self.randomBencode(depth: 0, using: &generator)
                var bytes: [UInt8] = []
                body.encode(into: &bytes)
                datagram = ClusterSealTests.sealRaw(bytes, key: key)
            }
            switch seal.open(datagram, nowWallNanos: now) {
            case .success: outcomes["read", default: 0] += 1
            case .failure(let reason): outcomes[reason.rawValue, default: 0] += 1
            }
        }
        #expect(outcomes.values.reduce(0, +) == 20_000)
        #expect((outcomes["forged"] ?? 0) > 5_000 && (outcomes["malformed"] ?? 0) > 5_000, "\(outcomes)")
    }

    static func randomBencode(depth: Int, using generator: inout SeededGenerator) -> BencodeValue {
        let keys = ["from", "sent", "type", "report", "id", "visited", "command", "reply", "owner", "node", "x"]
        switch Int.random(in: 0..<(depth > 3 ? 2 : 4), using: &generator) {
        case 0: return .integer(Int64.random(in: -1_000...Int64.max, using: &generator))
        case 1:
            return .string(
                ["report", "poll", "forward", "forward-reply", "locate", "located", "subscribe", "b", ""].randomElement(
                    using: &generator)!)
        case 2:
            return .list(
                (0..<Int.random(in: 0...3, using: &generator)).map { _ in
                    randomBencode(depth: depth + 1, using: &generator)
                })
        default:
            var fields: [String: BencodeValue] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                fields[keys.randomElement(using: &generator)!] = randomBencode(depth: depth + 1, using: &generator)
            }
            return .dictionary(fields)
        }
    }
}
