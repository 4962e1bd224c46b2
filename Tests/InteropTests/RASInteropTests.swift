import Capture
import Foundation
import H323
import MediaPlane
import SpillwayTestFixtures
import SpillwayTestSupport
import Testing

/// Every RAS message Spillway encodes, decoded by two independent implementations of H.225.0
/// ALIGNED PER: Wireshark's dissector (tshark) and pycrate (PyPI).
@Suite struct RASInteropTests {
    /// RasMessage alternative numbers as tshark prints them: root alternatives 0-24, then the
    /// extension alternatives from 25 (requestInProgress, resourcesAvailableIndicate, ...).
    static let alternativeNumbers: [String: Int] = [
        "gatekeeperRequest": 0, "gatekeeperConfirm": 1, "gatekeeperReject": 2, "registrationRequest": 3,
        "registrationConfirm": 4,
        "registrationReject": 5, "unregistrationRequest": 6, "unregistrationConfirm": 7, "admissionRequest": 9,
        "admissionConfirm": 10,
        "admissionReject": 11, "disengageRequest": 15, "disengageConfirm": 16, "locationRequest": 18,
        "locationConfirm": 19,
        "locationReject": 20, "infoRequest": 21, "infoRequestResponse": 22, "requestInProgress": 25,
        "resourcesAvailableIndicate": 26, "resourcesAvailableConfirm": 27,
    ]

    @Test func tsharkDecodesEveryMessageWithoutErrors() async throws {
        let directory = try scratchDirectory("ras-tshark")
        let file = "\(directory)/ras.pcap"
        do {
            let recorder = try PcapRecorder(path: file)
            let from = SocketAddress(ip: "127.0.0.1", port: 1719)!
            let to = SocketAddress(ip: "127.0.0.2", port: 1719)!
            for message in RASSamples.all {
                message.perEncoded.withUnsafeBytes { recorder.record($0, from: from, to: to) }
            }
        }
        let rows = try await tsharkFields(
            file, filter: "h225",
            fields: [
                "h225.RasMessage", "h225.requestSeqNum", "h225.hopCount", "h225.gatekeeperIdentifier", "h225.delay",
                "h225.almostOutOfResources", "h225.calls", "h225.endpointIdentifier", "h225.dialledDigits",
                "h225.timeToLive",
                "_ws.malformed", "_ws.expert",
            ])
        try #require(
            rows.count == RASSamples.all.count, "tshark decoded \(rows.count) of \(RASSamples.all.count) messages")
        for (message, row) in zip(RASSamples.all, rows) {
            #expect(
                Int(row[0]) == Self.alternativeNumbers[message.name],
                "\(message.name): tshark saw alternative \(row[0])")
            #expect(row[1] == "\(message.requestSeqNum!)", "\(message.name): requestSeqNum \(row[1])")
            #expect(row[10].isEmpty && row[11].isEmpty, "\(message.name): tshark reports \(row[10]) \(row[11])")
        }
        let byName = Dictionary(uniqueKeysWithValues: zip(RASSamples.all.map(\.name), rows))
        #expect(byName["locationRequest"]?[2] == "3" && byName["locationRequest"]?[3] == "spillway-a")
        #expect(byName["locationRequest"]?[8] == "4930123#*")
        #expect(byName["requestInProgress"]?[4] == "2000")
        #expect(
            byName["resourcesAvailableIndicate"]?[5] == "1" && byName["resourcesAvailableIndicate"]?[6] == "1000,250")
        #expect(byName["resourcesAvailableIndicate"]?[7] == "node-a")
        #expect(byName["registrationConfirm"]?[9] == "60" && byName["registrationRequest"]?[9] == "60")
    }

    @Test func pycrateDecodesEveryMessageToTheSameValues() async throws {
        let decoded = try await pycrateDecode("RasMessage", RASSamples.all.map(\.perEncoded))
        try #require(decoded.count == RASSamples.all.count)
        for (message, value) in zip(RASSamples.all, decoded) {
            let body = value[message.name] as? [String: Any]
            #expect(body != nil, "\(message.name): pycrate says \(value)")
            #expect(body?["requestSeqNum"] as? Int == Int(message.requestSeqNum!), "\(message.name)")
        }
        let byName = Dictionary(uniqueKeysWithValues: zip(RASSamples.all.map(\.name), decoded))
        let lrq = byName["locationRequest"]?["locationRequest"] as? [String: Any]
        #expect(lrq?["hopCount"] as? Int == 3 && lrq?["gatekeeperIdentifier"] as? String == "spillway-a")
        #expect((lrq?["callIdentifier"] as? [String: Any])?["guid"] as? String == "000102030405060708090a0b0c0d0e0f")
        #expect(
            ((lrq?["sourceInfo"] as? [[String: Any]])?.compactMap { $0.values.first as? String }) == [
                "caller", "h323:caller@example.net", "caller@example.net",
            ])
        let lcf = byName["locationConfirm"]?["locationConfirm"] as? [String: Any]
        let callSignal = (lcf?["callSignalAddress"] as? [String: Any])?["ipAddress"] as? [String: Any]
        #expect(callSignal?["ip"] as? String == "7f000001" && callSignal?["port"] as? Int == 1720)
        let lrj = byName["locationReject"]?["locationReject"] as? [String: Any]
        #expect((lrj?["rejectReason"] as? [String: Any])?.keys.first == "resourceUnavailable")
        let rai = byName["resourcesAvailableIndicate"]?["resourcesAvailableIndicate"] as? [String: Any]
        #expect(rai?["almostOutOfResources"] as? Bool == true)
        let current =
            ((rai?["capacity"] as? [String: Any])?["currentCallCapacity"] as? [String: Any])?["terminalCallsAvailable"]
            as? [[String: Any]]
        #expect(current?.first?["calls"] as? Int == 250 && current?.first?["group"] as? String == "relay")
        let rip = byName["requestInProgress"]?["requestInProgress"] as? [String: Any]
        #expect(rip?["delay"] as? Int == 2000)
    }

    @Test func pycrateRefusesWhatSpillwayRefuses() async throws {
        // A truncated LRQ: both decoders must fail on it rather than invent values.
        let truncated = Array(RASMessage.locationRequest(RASSamples.locationRequest).perEncoded.prefix(12))
        #expect(throws: PERError.self) { try RASMessage(perEncoded: truncated) }
        let decoded = try await pycrateDecode("RasMessage", [truncated])
        #expect(decoded.first?["error"] != nil, "pycrate decoded a truncated LRQ: \(decoded)")
    }
}
