import Bencode
import CSpillwayShims
import Cluster

/// A peer as this node (or the monitor) sees it, for `/status` and the monitor's `/nodes`.
package struct PeerStatus: Codable, Equatable {
    package var id: String
    package var address: String
    /// `up` (a fresh report), `unknown` (no fresh report) or `down` (marked down).
    package var state: String
    package var load: Double?
    package var threshold: Double?
    package var sessions: Int?
    package var reportAgeMilliseconds: UInt64?

    package enum CodingKeys: String, CodingKey {
        case id, address, state, load, threshold, sessions
        case reportAgeMilliseconds = "report_age_ms"
    }

    /// Every node of `table` as NG `statistics` gives them: by id, ratios as text.
    package static func bencoded(_ table: PeerTable, now: UInt64 = spw_monotonic_nanos()) -> BencodeValue {
        .dictionary(
            Dictionary(
                uniqueKeysWithValues: all(in: table, now: now).map { peer in
                    var entry: [String: BencodeValue] = [
                        "address": .string(peer.address), "state": .string(peer.state),
                    ]
                    if let load = peer.load, let threshold = peer.threshold, let sessions = peer.sessions,
                        let age = peer.reportAgeMilliseconds
                    {
                        entry["load"] = .string(ratioText(load))
                        entry["threshold"] = .string(ratioText(threshold))
                        entry["sessions"] = .integer(Int64(sessions))
                        entry["report-age-ms"] = .integer(Int64(age))
                    }
                    return (peer.id, .dictionary(entry))
                }))
    }

    /// Every node of `table`, judged at `now`.
    package static func all(in table: PeerTable, now: UInt64) -> [PeerStatus] {
        table.peers.map { peer in
            PeerStatus(
                id: peer.id, address: peer.clusterAddress, state: table.state(of: peer, now: now),
                load: peer.report?.load, threshold: peer.report?.threshold, sessions: peer.report?.usage.sessions,
                reportAgeMilliseconds: peer.report.map { _ in (now - min(now, peer.reportedAt)) / 1_000_000 })
        }
    }
}

/// A ratio with three decimals, as NG reply strings carry it (bencode has no fractions).
package func ratioText(_ value: Double) -> String {
    let thousandths = Int((value * 1000).rounded())
    let fraction = String(abs(thousandths) % 1000)
    return
        "\(thousandths < 0 ? "-" : "")\(abs(thousandths) / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
}
