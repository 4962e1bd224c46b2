import Bencode

/// The messages nodes and the load monitor exchange over their cluster UDP ports.
public enum ClusterMessage: Sendable, Equatable {
    /// A workload report (pushed, streamed to a subscriber, or answering a poll).
    case report(WorkloadReport)
    /// "Send me your workload now."
    case poll
    /// "Stream me your workload every `intervalMillis` until `leaseMillis` from now"; renewed by the subscriber.
    case subscribe(intervalMillis: Int, leaseMillis: Int)
    /// An NG request passed on to another node, which repeats the admission test.
    case forward(ForwardedRequest)
    /// The reply to a forwarded request, passed back along the path it came.
    case forwardReply(ForwardedReply)
    /// A node asks the monitor which node has the lowest workload, leaving out `excluding`.
    case locate(id: UInt64, excluding: [String])
    /// The monitor's answer to `locate`: the node to use, or nil when every node is over its threshold.
    case located(id: UInt64, node: NodeIdentity?)
}

/// An NG request on its way to another node: the NG command itself plus the hop count and the
/// nodes it has visited, so it can neither loop nor travel forever.
public struct ForwardedRequest: Sendable, Equatable {
    /// Chosen by the sender; the reply carries it back.
    public var id: UInt64
    /// How many more times the request may be forwarded after this hop.
    public var hopsLeft: Int
    /// Node ids the request has been through, in order.
    public var visited: [String]
    /// The NG command dictionary as the client sent it.
    public var command: BencodeValue

    public init(id: UInt64, hopsLeft: Int, visited: [String], command: BencodeValue) {
        self.id = id
        self.hopsLeft = hopsLeft
        self.visited = visited
        self.command = command
    }
}

/// The answer to a `ForwardedRequest`.
public struct ForwardedReply: Sendable, Equatable {
    public var id: UInt64
    /// The node that ran the command (nil when no node took it: all busy, or an error on the way).
    public var owner: NodeIdentity?
    /// The NG reply dictionary for the client.
    public var reply: BencodeValue

    public init(id: UInt64, owner: NodeIdentity?, reply: BencodeValue) {
        self.id = id
        self.owner = owner
        self.reply = reply
    }
}

/// A cluster message with its sender and the time it was sent, as carried inside a sealed datagram.
public struct ClusterEnvelope: Sendable, Equatable {
    /// The sending node's id (or the monitor's).
    public var sender: String
    public var sentAtWallNanos: UInt64
    public var message: ClusterMessage

    public init(sender: String, sentAtWallNanos: UInt64, message: ClusterMessage) {
        self.sender = sender
        self.sentAtWallNanos = sentAtWallNanos
        self.message = message
    }
}

/// Why a cluster datagram's contents could not be read.
public struct ClusterMessageError: Error, Equatable, CustomStringConvertible {
    public var description: String

    init(_ description: String) { self.description = description }
}

// MARK: - Bencode form

extension ClusterEnvelope {
    /// The envelope as a bencode dictionary.
    public var bencoded: BencodeValue {
        var fields: [String: BencodeValue] = [
            "from": .string(sender), "sent": .integer(Int64(bitPattern: sentAtWallNanos)),
        ]
        switch message {
        case .report(let report):
            fields["type"] = "report"
            fields["report"] = report.bencoded
        case .poll:
            fields["type"] = "poll"
        case .subscribe(let interval, let lease):
            fields["type"] = "subscribe"
            fields["interval-ms"] = .integer(Int64(interval))
            fields["lease-ms"] = .integer(Int64(lease))
        case .forward(let request):
            fields["type"] = "forward"
            fields["id"] = .integer(Int64(bitPattern: request.id))
            fields["hops-left"] = .integer(Int64(request.hopsLeft))
            fields["visited"] = .list(request.visited.map { .string($0) })
            fields["command"] = request.command
        case .forwardReply(let reply):
            fields["type"] = "forward-reply"
            fields["id"] = .integer(Int64(bitPattern: reply.id))
            if let owner = reply.owner { fields["owner"] = owner.bencoded }
            fields["reply"] = reply.reply
        case .locate(let id, let excluding):
            fields["type"] = "locate"
            fields["id"] = .integer(Int64(bitPattern: id))
            fields["excluding"] = .list(excluding.map { .string($0) })
        case .located(let id, let node):
            fields["type"] = "located"
            fields["id"] = .integer(Int64(bitPattern: id))
            if let node { fields["node"] = node.bencoded }
        }
        return .dictionary(fields)
    }

    /// Reads an envelope from its bencode dictionary.
    public init(bencoded value: BencodeValue) throws(ClusterMessageError) {
        let fields = try Fields(value, what: "cluster message")
        sender = try fields.string("from")
        sentAtWallNanos = UInt64(bitPattern: try fields.integer("sent"))
        let type = try fields.string("type")
        switch type {
        case "report":
            message = .report(try WorkloadReport(bencoded: try fields.value("report")))
        case "poll":
            message = .poll
        case "subscribe":
            message = .subscribe(
                intervalMillis: Int(try fields.integer("interval-ms")), leaseMillis: Int(try fields.integer("lease-ms"))
            )
        case "forward":
            message = .forward(
                ForwardedRequest(
                    id: UInt64(bitPattern: try fields.integer("id")), hopsLeft: Int(try fields.integer("hops-left")),
                    visited: try fields.strings("visited"), command: try fields.value("command")))
        case "forward-reply":
            message = .forwardReply(
                ForwardedReply(
                    id: UInt64(bitPattern: try fields.integer("id")),
                    owner: try fields.optional("owner").map { value throws(ClusterMessageError) in
                        try NodeIdentity(bencoded: value)
                    },
                    reply: try fields.value("reply")))
        case "locate":
            message = .locate(
                id: UInt64(bitPattern: try fields.integer("id")), excluding: try fields.strings("excluding"))
        case "located":
            message = .located(
                id: UInt64(bitPattern: try fields.integer("id")),
                node: try fields.optional("node").map { value throws(ClusterMessageError) in
                    try NodeIdentity(bencoded: value)
                })
        default:
            throw ClusterMessageError("unknown cluster message type '\(type)'")
        }
    }
}

extension NodeIdentity {
    package var bencoded: BencodeValue {
        var fields: [String: BencodeValue] = [
            "id": .string(id), "ng": .string(ngAddress), "cluster": .string(clusterAddress),
            "media-ip": .string(mediaIP),
        ]
        if let rasAddress { fields["ras"] = .string(rasAddress) }
        if let callSignalAddress { fields["call-signal"] = .string(callSignalAddress) }
        return .dictionary(fields)
    }

    package init(bencoded value: BencodeValue) throws(ClusterMessageError) {
        let fields = try Fields(value, what: "node identity")
        self.init(
            id: try fields.string("id"), ngAddress: try fields.string("ng"),
            clusterAddress: try fields.string("cluster"),
            mediaIP: try fields.string("media-ip"), rasAddress: try fields.optionalString("ras"),
            callSignalAddress: try fields.optionalString("call-signal"))
    }
}

extension WorkloadReport {
    /// Ratios and CPU shares travel as parts per million, rates as whole numbers per second.
    var bencoded: BencodeValue {
        [
            "node": node.bencoded,
            "load-ppm": .integer(Self.ppm(load)),
            "threshold-ppm": .integer(Self.ppm(threshold)),
            "sessions": .integer(Int64(usage.sessions)),
            "pps": .integer(Int64(usage.packetsPerSecond.rounded())),
            "bps": .integer(Int64(usage.bitsPerSecond.rounded())),
            "cpu-ppm": .integer(Self.ppm(usage.cpu)),
            "max-sessions": .integer(Int64(capacity.sessions)),
            "max-pps": .integer(Int64(capacity.packetsPerSecond.rounded())),
            "max-bps": .integer(Int64(capacity.bitsPerSecond.rounded())),
            "max-cpu-ppm": .integer(Self.ppm(capacity.cpu)),
            "ended-mcps": .integer(Int64((min(max(callsEndedPerSecond, 0), 1e9) * 1000).rounded())),
            "crossings": .integer(announcesThresholdCrossings ? 1 : 0),
            "boot": .integer(Int64(bitPattern: boot)),
            "seq": .integer(Int64(bitPattern: sequence)),
            "made": .integer(Int64(bitPattern: madeAtWallNanos)),
        ]
    }

    init(bencoded value: BencodeValue) throws(ClusterMessageError) {
        let fields = try Fields(value, what: "workload report")
        self.init(
            node: try NodeIdentity(bencoded: try fields.value("node")),
            load: Double(try fields.integer("load-ppm")) / 1e6,
            threshold: Double(try fields.integer("threshold-ppm")) / 1e6,
            usage: ResourceUsage(
                sessions: Int(try fields.integer("sessions")), packetsPerSecond: Double(try fields.integer("pps")),
                bitsPerSecond: Double(try fields.integer("bps")), cpu: Double(try fields.integer("cpu-ppm")) / 1e6),
            capacity: ResourceCapacity(
                sessions: Int(try fields.integer("max-sessions")),
                packetsPerSecond: Double(try fields.integer("max-pps")),
                bitsPerSecond: Double(try fields.integer("max-bps")),
                cpu: Double(try fields.integer("max-cpu-ppm")) / 1e6),
            // Calls ended per second in thousandths; a node that does not say (an older one) ends none by it.
            callsEndedPerSecond: Double(try fields.optionalInteger("ended-mcps") ?? 0) / 1000,
            announcesThresholdCrossings: try fields.optionalInteger("crossings") == 1,
            boot: UInt64(bitPattern: try fields.integer("boot")),
            sequence: UInt64(bitPattern: try fields.integer("seq")),
            madeAtWallNanos: UInt64(bitPattern: try fields.integer("made")))
    }

    private static func ppm(_ ratio: Double) -> Int64 {
        guard ratio.isFinite else { return Int64(Int32.max) }
        return Int64((min(max(ratio, 0), 1e6) * 1e6).rounded())
    }
}

/// Typed look-ups in a message dictionary, with errors naming the field.
private struct Fields {
    let values: [String: BencodeValue]
    let what: String

    init(_ value: BencodeValue, what: String) throws(ClusterMessageError) {
        guard let values = value.dictionaryValue else { throw ClusterMessageError("\(what) is not a dictionary") }
        self.values = values
        self.what = what
    }

    func value(_ key: String) throws(ClusterMessageError) -> BencodeValue {
        guard let value = values[key] else { throw ClusterMessageError("\(what) lacks '\(key)'") }
        return value
    }

    func optional(_ key: String) -> BencodeValue? { values[key] }

    func optionalString(_ key: String) throws(ClusterMessageError) -> String? {
        values[key] == nil ? nil : try string(key)
    }

    func string(_ key: String) throws(ClusterMessageError) -> String {
        guard let text = try value(key).stringValue else {
            throw ClusterMessageError("\(what) field '\(key)' is not a string")
        }
        return text
    }

    func optionalInteger(_ key: String) throws(ClusterMessageError) -> Int64? {
        values[key] == nil ? nil : try integer(key)
    }

    func integer(_ key: String) throws(ClusterMessageError) -> Int64 {
        guard let number = try value(key).integerValue else {
            throw ClusterMessageError("\(what) field '\(key)' is not an integer")
        }
        return number
    }

    func strings(_ key: String) throws(ClusterMessageError) -> [String] {
        guard let list = try value(key).listValue else {
            throw ClusterMessageError("\(what) field '\(key)' is not a list")
        }
        var strings: [String] = []
        for item in list {
            guard let text = item.stringValue else {
                throw ClusterMessageError("\(what) field '\(key)' holds a non-string")
            }
            strings.append(text)
        }
        return strings
    }
}
