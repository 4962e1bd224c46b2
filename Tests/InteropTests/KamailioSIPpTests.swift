import Bencode
import Foundation
import MediaPlane
import SpillwayClient
import Testing

/// SIPp uac -> Kamailio (rtpengine module) -> SIPp uas, with Spillway anchoring the media.
/// The uac plays sip-tester's G.711 capture; the uas echoes every RTP packet.
/// Fixed ports sit below Linux's ephemeral range (32768-60999), so sockets that other tests bind to
/// port 0 cannot take them.
@Suite(.serialized) struct KamailioSIPpTests {
    let ngPort: UInt16 = 12223
    let kamailioPort: UInt16 = 15060
    let uacPort: UInt16 = 15070
    let uasPort: UInt16 = 15080
    let uacMediaPort: UInt16 = 16000
    let uasMediaPort: UInt16 = 16100
    let relayPorts: ClosedRange<UInt16> = 13000...13099
    /// g711a.pcap (236 packets) and dtmf_2833_1.pcap (10 packets), played by sipp's uac_pcap.
    let playedPackets = 246

    /// Through one interface, or with `rtpengine_offer("direction=internal direction=external")`
    /// through two: the uac's side on 127.0.0.1, the uas's on 127.0.0.2.
    @Test(arguments: [false, true])
    func everyRTPPacketCrossesTheRelayInBothDirections(throughTwoInterfaces: Bool) async throws {
        let kamailio = try ExternalTool.path("kamailio", package: "kamailio")
        let sipp = try ExternalTool.path("sipp", package: "sip-tester")
        let tshark = try ExternalTool.path("tshark", package: "tshark")
        let directory = try scratchDirectory("kamailio")
        try FileManager.default.createSymbolicLink(
            atPath: "\(directory)/pcap", withDestinationPath: "/usr/share/sip-tester")
        var children: [ChildProcess] = []
        defer { for child in children { child.stop() } }

        let relay = try ChildProcess(
            "spillway", try spillwayExecutable(),
            [
                "serve", "--node-id", "kamailio-test", "--ng", "127.0.0.1:\(ngPort)",
                "--port-range", "\(relayPorts.lowerBound)-\(relayPorts.upperBound)", "--log-level", "info",
            ]
                + (throughTwoInterfaces
                    ? ["--interface", "internal/127.0.0.1", "--interface", "external/127.0.0.2"]
                    : ["--media-ip", "127.0.0.1"]),
            directory: directory)
        children.append(relay)
        let ng = try NGClient(server: SocketAddress(ip: "127.0.0.1", port: ngPort)!)
        #expect(
            await ChildProcess.eventually(seconds: 10) {
                (try? ng.request(["command": "ping"], timeoutMilliseconds: 200, attempts: 1))?["result"] == "pong"
            }, "spillway did not answer ping: \(relay.output)")

        try kamailioConfiguration(offerFlags: throughTwoInterfaces ? "direction=internal direction=external" : "")
            .write(toFile: "\(directory)/kamailio.cfg", atomically: true, encoding: .utf8)
        let proxy = try ChildProcess(
            "kamailio", kamailio,
            ["-f", "\(directory)/kamailio.cfg", "-DD", "-E", "-m", "64", "-M", "8", "-w", directory],
            directory: directory)
        children.append(proxy)
        #expect(
            await ChildProcess.eventually(seconds: 15) { udpPortIsBound(kamailioPort) },
            "kamailio did not start: \(proxy.output)")

        let capture = try ChildProcess(
            "tshark", tshark,
            [
                "-i", "lo", "-f", "udp portrange \(relayPorts.lowerBound)-\(relayPorts.upperBound)", "-w",
                "\(directory)/relay.pcapng", "-q",
            ],
            directory: directory)
        children.append(capture)
        #expect(
            await ChildProcess.eventually(seconds: 15) { capture.output.contains("Capturing on") },
            "tshark did not start: \(capture.output)")

        let uas = try ChildProcess(
            "sipp-uas", sipp,
            [
                "-sn", "uas", "-i", "127.0.0.1", "-p", "\(uasPort)", "-mp", "\(uasMediaPort)", "-rtp_echo", "-m", "1",
                "-nostdin", "-timeout", "60s",
            ],
            directory: directory)
        children.append(uas)
        #expect(await ChildProcess.eventually(seconds: 10) { udpPortIsBound(uasPort) })

        let uac = try ChildProcess(
            "sipp-uac", sipp,
            [
                "-sn", "uac_pcap", "127.0.0.1:\(kamailioPort)", "-i", "127.0.0.1", "-p", "\(uacPort)", "-mp",
                "\(uacMediaPort)",
                "-s", "echo", "-m", "1", "-nostdin", "-timeout", "60s",
            ],
            directory: directory)
        children.append(uac)
        let uacStatus = await uac.wait(seconds: 60)
        #expect(uacStatus == 0, "sipp uac did not complete one call: \(uac.output.suffix(2000))")
        let uasStatus = await uas.wait(seconds: 15)
        #expect(uasStatus == 0, "sipp uas did not complete one call: \(uas.output.suffix(2000))")
        try await Task.sleep(for: .milliseconds(500))
        await capture.interrupt()

        // The relay's own figures: one call, offered, answered and deleted by Kamailio.
        let statistics = try ng.request(["command": "statistics"])
        let totals = statistics["totals"]
        #expect(statistics["statistics"]?["totalstatistics"]?["offers"] == 1)
        #expect(statistics["statistics"]?["totalstatistics"]?["deletes"] == 1)
        #expect(statistics["statistics"]?["currentstatistics"]?["sessionsown"] == 0)
        #expect(totals?["RTP"]?["packets"] == .integer(Int64(2 * playedPackets)), "statistics: \(statistics)")
        #expect(totals?["forwarded"] == .integer(Int64(2 * playedPackets)))
        #expect(totals?["lost"] == 0)

        // An independent view: tshark's capture of the relay's ports.
        let packets = try await tsharkFields(
            "\(directory)/relay.pcapng", filter: "udp", fields: ["udp.srcport", "udp.dstport", "udp.payload", "ip.src"])
        let toRelay = packets.filter {
            relayPorts.contains(UInt16($0[1]) ?? 0) && !relayPorts.contains(UInt16($0[0]) ?? 0)
        }
        let fromRelay = packets.filter {
            relayPorts.contains(UInt16($0[0]) ?? 0) && !relayPorts.contains(UInt16($0[1]) ?? 0)
        }
        #expect(toRelay.count == 2 * playedPackets)
        #expect(fromRelay.count == 2 * playedPackets)
        let uacSent = toRelay.filter { $0[0] == "\(uacMediaPort)" }.map { $0[2] }
        let deliveredToUAS = fromRelay.filter { $0[1] == "\(uasMediaPort)" }.map { $0[2] }
        let uasSent = toRelay.filter { $0[0] == "\(uasMediaPort)" }.map { $0[2] }
        let deliveredToUAC = fromRelay.filter { $0[1] == "\(uacMediaPort)" }.map { $0[2] }
        #expect(uacSent.count == playedPackets && deliveredToUAS == uacSent, "uac -> uas payloads differ")
        #expect(uasSent.count == playedPackets && deliveredToUAC == uasSent, "uas -> uac payloads differ")
        // Each party hears the relay from the interface that faces it.
        let uasFacing = throughTwoInterfaces ? "127.0.0.2" : "127.0.0.1"
        #expect(Set(fromRelay.filter { $0[1] == "\(uasMediaPort)" }.map { $0[3] }) == [uasFacing])
        #expect(Set(fromRelay.filter { $0[1] == "\(uacMediaPort)" }.map { $0[3] }) == ["127.0.0.1"])
    }

    /// A minimal stateful proxy in front of the uas: rtpengine offer on INVITE, answer on the
    /// reply's SDP, delete on BYE.
    func kamailioConfiguration(offerFlags: String) -> String {
        """
        #!KAMAILIO
        debug=2
        log_stderror=yes
        children=1
        auto_aliases=no
        listen=udp:127.0.0.1:\(kamailioPort)
        mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
        loadmodule "tm.so"
        loadmodule "sl.so"
        loadmodule "rr.so"
        loadmodule "pv.so"
        loadmodule "maxfwd.so"
        loadmodule "textops.so"
        loadmodule "siputils.so"
        loadmodule "xlog.so"
        loadmodule "rtpengine.so"
        modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:\(ngPort)")

        request_route {
            if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
            if (has_totag()) {
                # sipp's stock scenarios send ACK and BYE to the proxy without the Route set.
                if (is_method("BYE")) { rtpengine_delete(); }
                if (!loose_route()) { $du = "sip:127.0.0.1:\(uasPort)"; }
                t_relay();
                exit;
            }
            if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
            record_route();
            if (is_method("INVITE") && has_body("application/sdp")) {
                rtpengine_offer("replace-origin replace-session-connection \(offerFlags)");
                t_on_reply("MEDIA_REPLY");
            }
            $du = "sip:127.0.0.1:\(uasPort)";
            t_relay();
        }

        onreply_route[MEDIA_REPLY] {
            if (has_body("application/sdp")) { rtpengine_answer("replace-origin replace-session-connection"); }
        }
        """
    }
}
