import Bencode
import Capture
import Cluster
import Foundation
import H323
import H323Edge
import Logging
import MediaPlane
import ServiceEdge
import SpillwayClient
import SpillwayMonitor
import SpillwayNode
import SpillwayTestSupport
import Testing

/// One routed H.323 call through a loopback node between two pycrate endpoints
/// (Scripts/h323_endpoint.py, an independent H.225.0/H.245 codec), with ffmpeg sending a
/// G.711 tone (and H.264 video) each way and decoding what arrives. Addresses: the node
/// 127.0.0.30, the caller 127.0.0.31, the callee 127.0.0.32, and when the call spills, the
/// cluster's other nodes 127.0.0.33 and .34; fixed ports below Linux's ephemeral range, so the
/// suites that use it run serialized.
struct H323RelayCall {
    /// How H.245 travels (the endpoint's `--mode`).
    enum Mode: String, CaseIterable, Sendable {
        case fastStart = "faststart"
        case tunnelled = "tunnel"
        case separate
    }

    /// How the call ends.
    enum Ending: String, CaseIterable, Sendable {
        /// The caller sends ReleaseComplete.
        case releaseComplete
        /// The caller's TCP connection drops without one.
        case connectionDrop
        /// No media reaches the node for its media timeout.
        case mediaTimeout
        /// NG `delete` of the call's id.
        case ngDelete
    }

    /// One endpoint's addresses: its signalling and RTP, its ffmpeg sender's and receiver's ports.
    struct Party {
        var name: String
        var ip: String
        var rtpPort: UInt16
        var senderPort: UInt16
        var deliverPort: UInt16
        var toneFrequency: Int
    }

    /// The cluster a call spills through: the caller dials 127.0.0.30, which is drained, and its
    /// steering sends the call to 127.0.0.33 or .34.
    struct Spill {
        var policy: SteeringMode
        var reply: H323ReplyMode
    }

    static let nodeIP = "127.0.0.30"
    static let spillIPs = ["127.0.0.33", "127.0.0.34"]
    /// The cluster port of every node of a spilling call, each on its own address.
    static let clusterPort = 15_490
    /// Where the load monitor of a spilling call in monitor mode listens.
    static let monitorAddress = "127.0.0.30:15491"
    // ffmpeg's receivers bind their ports on every address, so these ports are ones no other test
    // binds on any address: below the node tests' ranges (20000 up) and apart from the others'.
    static let mediaPorts: ClosedRange<UInt16> = 15_300...15_399
    static let caller = Party(
        name: "caller", ip: "127.0.0.31", rtpPort: 15_200, senderPort: 15_210, deliverPort: 15_220, toneFrequency: 1000)
    static let callee = Party(
        name: "callee", ip: "127.0.0.32", rtpPort: 15_240, senderPort: 15_250, deliverPort: 15_260, toneFrequency: 600)

    var mode: Mode
    var video = false
    /// Seconds of media each way; nil sends none (the call is set up and ended only).
    var seconds: Int? = 3
    var ending = Ending.releaseComplete
    var mediaTimeout = 60
    /// The callee registers with the node's RAS port and the caller is admitted there (ARQ/ACF)
    /// before it calls the alias; otherwise the node routes by a static route to the callee.
    var registered = false
    /// Whether the node the caller dials is drained and the call spills to another node.
    var spill: Spill?

    /// What one call left behind.
    struct Result {
        var directory: String
        var callID: String
        var callerEvents: [[String: Any]]
        var calleeEvents: [[String: Any]]
        /// Per party (by name), per session: the decoded samples (audio) or frame hashes (video)
        /// it received, and the reference of what the other party sent.
        var receivedAudio: [String: Data] = [:]
        var referenceAudio: [String: Data] = [:]
        var receivedFrames: [String: [String]] = [:]
        var referenceFrames: [String: [String]] = [:]
        var query: BencodeValue
        var portPairsInUseAfter: Int?
        var callsAfter: Int?
        var h323Counters: H323Counters?
        var callSignalPort: Int
        var capture: String
        /// The node's answer to the caller's ARQ, when the endpoints registered.
        var admission: RASMessage?
        /// NG `statistics` while the call was up (after its media, before it ended).
        var statisticsDuringCall: BencodeValue = .dictionary([:])
        /// UDP datagrams in the call's recording (NG `start recording` before the media).
        var recordedDatagrams = 0
        var nodeCallSignalAddress: String
        /// The address of the node that anchored the call (the one dialled, unless it spilled).
        var anchorIP = H323RelayCall.nodeIP
        /// The dialled node's H.323 counters, when the call spilled from it.
        var dialledNodeCounters: H323Counters?
    }

    func run(_ name: String) async throws -> Result {
        let python = try ExternalTool.path("python3", package: "python3")
        let ffmpeg = try ExternalTool.path("ffmpeg", package: "ffmpeg")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Scripts/h323_endpoint.py"
        ).path
        let directory = try scratchDirectory("h323-\(name)")
        var children: [ChildProcess] = []
        defer { for child in children { child.stop() } }
        if let seconds { try await encodeSources(seconds: seconds, ffmpeg: ffmpeg, directory: directory) }

        func endpointArguments(_ party: Party) -> [String] {
            var arguments = [
                script, party.name, "--ip", party.ip, "--rtp-port", "\(party.rtpPort)", "--sender-port",
                "\(party.senderPort)",
                "--deliver-port", "\(party.deliverPort)", "--mode", mode.rawValue, "--timeout", "\(mediaTimeout + 40)",
            ]
            if video { arguments.append("--video") }
            return arguments
        }
        let callee = try ChildProcess(
            "callee", python, endpointArguments(Self.callee) + ["--port", "0"], directory: directory)
        children.append(callee)
        let listening = try await Self.event(callee, "listening", seconds: 20)
        let calleePort = try #require(listening["port"] as? Int)

        let (nodes, monitor) = try await startNodes(name, calleePort: calleePort, directory: directory)
        var node = nodes[0]
        let callSignal = try #require(node.callSignalAddress)
        let callSignalPort = try #require(Int(callSignal.split(separator: ":").last ?? ""))
        var admission: RASMessage?
        var dialled = callSignal
        if registered {
            (admission, dialled) = try register(calleePort: calleePort, at: try #require(node.rasAddress))
        }

        let capture = try await LoopbackCapture.start(
            filter: ([Self.nodeIP, Self.caller.ip, Self.callee.ip] + Self.spillIPs).map { "host \($0)" }.joined(
                separator: " or "), in: directory)
        children.append(capture.process)

        var callerArguments =
            endpointArguments(Self.caller) + ["--connect", dialled, "--hangup-file", "\(directory)/hangup"]
        if registered { callerArguments += ["--dest", dialled] }
        callerArguments += [
            "--end", ending == .connectionDrop ? "drop" : ending == .releaseComplete ? "release" : "wait",
        ]
        let caller = try ChildProcess("caller", python, callerArguments, directory: directory)
        children.append(caller)
        let sessions = video ? [1, 2] : [1]
        for party in [caller, callee] {
            for session in sessions {
                _ = try await Self.event(party, "send-to", seconds: 20) { $0["session"] as? Int == session }
            }
        }
        let callID = try #require(
            try Self.events(callee).first { $0["event"] as? String == "received" && $0["type"] as? String == "setup" }?[
                "callIdentifier"] as? String)

        var result = Result(
            directory: directory, callID: callID, callerEvents: [], calleeEvents: [], query: .dictionary([:]),
            callSignalPort: callSignalPort,
            capture: "\(directory)/wire.pcap", admission: admission, nodeCallSignalAddress: callSignal)
        if spill != nil {
            // From here on "the node" is the one anchoring the call.
            result.dialledNodeCounters = await node.h323Counters()
            let anchor = try #require(
                try nodes.first {
                    try NGClient(server: $0.ngAddress).request(["command": "list"])["calls"]?.listValue?.contains(
                        .string(callID)) == true
                },
                "no node of the cluster anchors the call")
            node = anchor
            result.anchorIP = anchor.configuration.mediaIP
        }
        let ng = try NGClient(server: node.ngAddress)
        if let seconds {
            #expect(try ng.request(["command": "start recording", "call-id": .string(callID)])["result"] == "ok")
            try await exchangeMedia(seconds: seconds, ffmpeg: ffmpeg, directory: directory, into: &result)
        }
        result.query = try ng.request(["command": "query", "call-id": .string(callID)])
        result.statisticsDuringCall = try ng.request(["command": "statistics"])

        switch ending {
        case .releaseComplete, .connectionDrop:
            #expect(FileManager.default.createFile(atPath: "\(directory)/hangup", contents: nil))
        case .mediaTimeout:
            break
        case .ngDelete:
            _ = try ng.request(["command": "delete", "call-id": .string(callID)])
        }
        for party in [caller, callee] {
            #expect(await party.wait(seconds: Double(mediaTimeout + 30)) == 0, "\(party.output.suffix(2000))")
        }
        result.callerEvents = try Self.events(caller)
        result.calleeEvents = try Self.events(callee)
        // Once both connections are gone, the node holds nothing of the call.
        _ = await ChildProcess.eventually(seconds: 5) {
            (try? ng.request(["command": "list"]))?["calls"]?.listValue?.isEmpty ?? false
        }
        let statistics = try ng.request(["command": "statistics"])
        result.callsAfter = (try? ng.request(["command": "list"]))?["calls"]?.listValue?.count
        result.portPairsInUseAfter = statistics["spillway"]?["port-pairs-in-use"]?.integerValue.map(Int.init)
        result.h323Counters = await node.h323Counters()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/recordings")) ?? [] {
            result.recordedDatagrams +=
                (try? CaptureFile(path: "\(directory)/recordings/\(name)"))?.datagrams.count ?? 0
        }
        await capture.stop()
        for node in nodes { await node.shutdown() }
        await monitor?.shutdown()
        return result
    }

    /// The node the caller dials, and when the call spills, the cluster's other two nodes (the
    /// dialled one drained), each on its own address and share of the media ports, and in monitor
    /// mode the load monitor they report to.
    private func startNodes(_ name: String, calleePort: Int, directory: String) async throws -> (
        [RelayNode], LoadMonitor?
    ) {
        var logger = Logger(label: "h323-\(name)")
        logger.logLevel = .warning
        try FileManager.default.createDirectory(atPath: "\(directory)/recordings", withIntermediateDirectories: true)
        let ips = spill == nil ? [Self.nodeIP] : [Self.nodeIP] + Self.spillIPs
        let ids = ips.indices.map { $0 == 0 ? "h323-node" : "h323-node-\($0 + 1)" }
        let portsPerNode = Self.mediaPorts.count / ips.count / 2 * 2
        var nodes: [RelayNode] = []
        for (index, ip) in ips.enumerated() {
            var configuration = NodeConfiguration()
            configuration.nodeID = ids[index]
            configuration.ngAddress = "\(ip):0"
            configuration.mediaIP = ip
            let low = Self.mediaPorts.lowerBound + UInt16(index * portsPerNode)
            configuration.portRange = low...(low + UInt16(portsPerNode - 1))
            configuration.callSignalAddress = "\(ip):0"
            configuration.mediaTimeout = mediaTimeout
            configuration.recordingDirectory = "\(directory)/recordings"
            if registered {
                configuration.rasAddress = "\(ip):0"
            } else {
                try configuration.set("h323-route", to: "555=\(Self.callee.ip):\(calleePort)")
            }
            if let spill {
                configuration.clusterAddress = "\(ip):\(Self.clusterPort)"
                if spill.policy == .monitor {
                    configuration.monitorAddress = Self.monitorAddress
                } else {
                    configuration.peers = ips.indices.filter { $0 != index }.map {
                        PeerAddress(id: ids[$0], address: "\(ips[$0]):\(Self.clusterPort)")
                    }
                }
                configuration.clusterKeyFile = TestCluster.keyFile
                configuration.policy = spill.policy
                configuration.h323Reply = spill.reply
                configuration.shareInterval = 0.2
                if index == 0 { configuration.threshold = 0 }
            }
            nodes.append(try await RelayNode.start(configuration, logger: logger))
        }
        guard let spill else { return (nodes, nil) }
        // Whoever steers (the dialled node, or the monitor) must know the others are up first.
        var monitor: LoadMonitor?
        let steering: NGClient
        if spill.policy == .monitor {
            var configuration = MonitorConfiguration()
            configuration.listenAddress = Self.monitorAddress
            configuration.nodes = ips.indices.map {
                PeerAddress(id: ids[$0], address: "\(ips[$0]):\(Self.clusterPort)")
            }
            configuration.collect = .push
            configuration.clusterKeyFile = TestCluster.keyFile
            configuration.interval = 0.2
            monitor = try await LoadMonitor.start(configuration, logger: logger)
            steering = try NGClient(server: try #require(SocketAddress(hostAndPort: Self.monitorAddress)))
        } else {
            steering = try NGClient(server: nodes[0].ngAddress)
        }
        let ready = await ChildProcess.eventually(seconds: 5) {
            let statistics = try? steering.request(["command": "statistics"])
            let peers = statistics?["nodes"] ?? statistics?["spillway"]?["peers"]
            return ids.dropFirst().allSatisfy { peers?[$0]?["state"] == "up" }
        }
        #expect(ready, "the other two nodes were never seen up")
        return (nodes, monitor)
    }

    /// The callee registers its alias 5551234 and call-signalling address with the node's RAS
    /// port; the caller registers and asks to call 5551234 (ARQ). Returns the node's answer and
    /// the call-signalling address an ACF names, where the caller sends its Setup.
    private func register(calleePort: Int, at ras: String) throws -> (RASMessage?, String) {
        let gatekeeper = try #require(SocketAddress(hostAndPort: ras))
        let calleeRAS = try RASTestClient(ip: Self.callee.ip)
        let calleeSignal = try #require(TransportAddress(ipv4: Self.callee.ip, port: calleePort))
        #expect(
            try calleeRAS.register(
                aliases: [.dialledDigits("5551234")], callSignalAddress: calleeSignal, at: gatekeeper) != nil)
        let callerRAS = try RASTestClient(ip: Self.caller.ip)
        let callerSignal = try #require(TransportAddress(ipv4: Self.caller.ip, port: 1720))
        let endpoint = try #require(
            try callerRAS.register(
                aliases: [.dialledDigits("4440000")], callSignalAddress: callerSignal, at: gatekeeper, sequenceNumber: 2
            ))
        let admission = try callerRAS.request(
            .admissionRequest(
                AdmissionRequest(
                    requestSeqNum: 3, endpointIdentifier: endpoint, destinationInfo: [.dialledDigits("5551234")],
                    srcInfo: [.dialledDigits("4440000")], bandWidth: 640, callReferenceValue: 0x1234,
                    conferenceID: Array(0..<16))),
            to: gatekeeper
        ).answer
        guard case .admissionConfirm(let confirm)? = admission else { return (admission, "") }
        return (admission, confirm.destCallSignalAddress.description)
    }

    /// The parties' sources (a tone each, and a test pattern each with video) and their reference decodes.
    private func encodeSources(seconds: Int, ffmpeg: String, directory: String) async throws {
        for party in [Self.caller, Self.callee] {
            var arguments = [
                "-hide_banner", "-y", "-f", "lavfi", "-i",
                "sine=frequency=\(party.toneFrequency):sample_rate=8000:samples_per_frame=160:duration=\(seconds + 1)",
            ]
            if video {
                arguments += [
                    "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=\(seconds + 1)", "-map", "0:a", "-map",
                    "1:v",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "0", "-pix_fmt", "yuv420p",
                    "-x264-params", "repeat-headers=1",
                ]
            }
            arguments += ["-c:a", "pcm_mulaw", "\(party.name).mkv"]
            let encode = try ChildProcess("encode", ffmpeg, arguments, directory: directory)
            #expect(await encode.wait(seconds: 60) == 0, "encoding failed: \(encode.output.suffix(1500))")
            var reference = [
                "-hide_banner", "-y", "-i", "\(party.name).mkv", "-map", "0:a", "-t", "\(seconds)", "-f", "s16le",
                "\(party.name)-reference.raw",
            ]
            if video {
                reference += [
                    "-map", "0:v", "-frames:v", "\(seconds * 25)", "-f", "framemd5", "\(party.name)-reference.md5",
                ]
            }
            let decode = try ChildProcess("reference", ffmpeg, reference, directory: directory)
            #expect(await decode.wait(seconds: 60) == 0, "reference decode failed: \(decode.output.suffix(1500))")
        }
    }

    /// Each party's ffmpeg receiver, then each party's ffmpeg sender, through the endpoints'
    /// RTP sockets and the node.
    private func exchangeMedia(seconds: Int, ffmpeg: String, directory: String, into result: inout Result) async throws
    {
        var receivers: [(Party, ChildProcess)] = []
        var children: [ChildProcess] = []
        defer { for child in children { child.stop() } }
        for party in [Self.caller, Self.callee] {
            var sdp = "v=0\r\no=- 0 0 IN IP4 \(party.ip)\r\ns=h323\r\nc=IN IP4 \(party.ip)\r\nt=0 0\r\n"
            sdp += "m=audio \(party.deliverPort) RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            if video {
                sdp +=
                    "m=video \(party.deliverPort + 2) RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n"
            }
            try sdp.write(toFile: "\(directory)/\(party.name)-receiver.sdp", atomically: true, encoding: .utf8)
            var arguments = [
                "-hide_banner", "-nostdin", "-y", "-threads", "1", "-protocol_whitelist", "file,udp,rtp", "-i",
                "\(party.name)-receiver.sdp",
                "-map", "0:a", "-t", "\(seconds)", "-f", "s16le", "\(party.name)-received.raw",
            ]
            if video {
                arguments += [
                    "-map", "0:v", "-frames:v", "\(seconds * 25)", "-f", "framemd5", "\(party.name)-received.md5",
                ]
            }
            let receiver = try ChildProcess("\(party.name)-receiver", ffmpeg, arguments, directory: directory)
            children.append(receiver)
            receivers.append((party, receiver))
        }
        #expect(
            await ChildProcess.eventually(seconds: 10) {
                [Self.caller, Self.callee].allSatisfy { udpPortIsBound($0.deliverPort) }
            })
        var senders: [ChildProcess] = []
        for party in [Self.caller, Self.callee] {
            var arguments = [
                "-hide_banner", "-nostdin", "-re", "-i", "\(party.name).mkv", "-map", "0:a", "-c", "copy", "-f", "rtp",
                "rtp://\(party.ip):\(party.rtpPort)?localrtpport=\(party.senderPort)&localaddr=\(party.ip)",
            ]
            if video {
                arguments += [
                    "-map", "0:v", "-c", "copy", "-f", "rtp",
                    "rtp://\(party.ip):\(party.rtpPort + 2)?localrtpport=\(party.senderPort + 2)&localaddr=\(party.ip)",
                ]
            }
            let sender = try ChildProcess("\(party.name)-sender", ffmpeg, arguments, directory: directory)
            children.append(sender)
            senders.append(sender)
        }
        for sender in senders {
            #expect(
                await sender.wait(seconds: Double(seconds + 30)) == 0, "sender failed: \(sender.output.suffix(1500))")
        }
        for (_, receiver) in receivers where !(await ChildProcess.eventually(seconds: 3) { !receiver.isRunning }) {
            await receiver.interrupt()
        }
        for (party, _) in receivers {
            let other = party.name == Self.caller.name ? Self.callee.name : Self.caller.name
            result.receivedAudio[party.name] =
                (try? Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(party.name)-received.raw"))) ?? Data()
            result.referenceAudio[party.name] = try Data(
                contentsOf: URL(fileURLWithPath: "\(directory)/\(other)-reference.raw"))
            if video {
                result.receivedFrames[party.name] =
                    (try? AudioVideoSource.frameHashes("\(directory)/\(party.name)-received.md5")) ?? []
                result.referenceFrames[party.name] = try AudioVideoSource.frameHashes(
                    "\(directory)/\(other)-reference.md5")
            }
        }
    }

    /// The JSON events an endpoint has printed so far.
    static func events(_ endpoint: ChildProcess) throws -> [[String: Any]] {
        endpoint.output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{") else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// Waits for an endpoint's event `name` (matching `where`), failing with its output after `seconds`.
    static func event(
        _ endpoint: ChildProcess, _ name: String, seconds: Double,
        where matches: ([String: Any]) -> Bool = { _ in true }
    ) async throws -> [String: Any] {
        var found: [String: Any]?
        _ = await ChildProcess.eventually(seconds: seconds) {
            found = (try? events(endpoint))?.first { $0["event"] as? String == name && matches($0) }
            return found != nil
        }
        return try #require(found, "no \(name) event from the \(endpoint.name): \(endpoint.output.suffix(2000))")
    }

    /// The share of `reference`'s 16-bit samples that `received` holds at the same place.
    static func matchingShare(_ received: Data, _ reference: Data) -> Double {
        guard !reference.isEmpty else { return 0 }
        let samples = min(received.count, reference.count) / 2
        var matching = 0
        received.withUnsafeBytes { got in
            reference.withUnsafeBytes { want in
                for index in 0..<samples
                where got.load(fromByteOffset: 2 * index, as: Int16.self)
                    == want.load(fromByteOffset: 2 * index, as: Int16.self)
                {
                    matching += 1
                }
            }
        }
        return Double(matching) / Double(reference.count / 2)
    }
}
