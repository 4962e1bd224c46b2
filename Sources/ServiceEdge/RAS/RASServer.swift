import Bencode
import CSpillwayShims
import H323
import Logging
import NGProtocol
import NIOCore

/// What every Spillway RAS port does alike, node or load monitor: decodes datagrams (a malformed
/// one is logged and counted, never fatal), answers retransmitted requests from a cache, keeps the
/// registrations (GRQ, RRQ, URQ) and confirms disengages (DRQ). Everything else goes to the owner's
/// `handle`. Runs on one event loop.
package final class RASServer {
    /// This gatekeeper's identifier in GCF, RCF and RRJ.
    package let gatekeeperIdentifier: String
    package let rasAddress: TransportAddress
    /// Named in RCF: where registered endpoints may send call signalling (none for the monitor).
    private let callSignalAddresses: [TransportAddress]
    private let transport: RASTransport
    private let logger: Logger
    private var registrations = RegistrationTable()
    private var replies = ReplyCache<(datagram: [UInt8], destination: NIOCore.SocketAddress)>()
    /// Requests whose answer is being worked out: their retransmissions are not acted on twice.
    private var inProgress: Set<String> = []
    package private(set) var counters = RASCounters()

    package init(
        gatekeeperIdentifier: String, rasAddress: TransportAddress, callSignalAddresses: [TransportAddress],
        transport: RASTransport,
        logger: Logger
    ) {
        self.gatekeeperIdentifier = gatekeeperIdentifier
        self.rasAddress = rasAddress
        self.callSignalAddresses = callSignalAddresses
        self.transport = transport
        self.logger = logger
    }

    /// Decodes and answers `datagram`, or hands the message to `handle` with the request's key
    /// (for `answer`) when it is not one every gatekeeper answers alike.
    package func receive(
        _ datagram: [UInt8], from source: NIOCore.SocketAddress,
        handle: (RASMessage, _ key: String, _ source: NIOCore.SocketAddress) -> Void
    ) {
        let message: RASMessage
        do {
            message = try RASMessage(perEncoded: datagram)
        } catch {
            counters.malformed += 1
            logger.warning(
                "malformed RAS message dropped",
                metadata: ["from": "\(source)", "bytes": "\(datagram.count)", "error": "\(error)"])
            return
        }
        counters.received[message.name, default: 0] += 1
        let key = "\(source)/\(message.name):\(message.requestSeqNum ?? 0)"
        if let cached = replies.reply(client: key, cookie: "") {
            counters.retransmissions += 1
            return transport.send(cached.datagram, to: cached.destination)
        }
        guard !inProgress.contains(key) else {
            counters.retransmissions += 1
            return
        }
        switch message {
        case .gatekeeperRequest(let request):
            answer(
                key,
                .gatekeeperConfirm(
                    GatekeeperConfirm(
                        requestSeqNum: request.requestSeqNum, gatekeeperIdentifier: gatekeeperIdentifier,
                        rasAddress: rasAddress)),
                to: RASTransport.socketAddress(request.rasAddress, otherwise: source))
        case .registrationRequest(let request):
            register(request, key: key, source: source)
        case .unregistrationRequest(let request):
            if let identifier = request.endpointIdentifier { _ = registrations.unregister(identifier) }
            answer(key, .unregistrationConfirm(PlainConfirm(requestSeqNum: request.requestSeqNum)), to: source)
        case .disengageRequest(let request):
            answer(key, .disengageConfirm(PlainConfirm(requestSeqNum: request.requestSeqNum)), to: source)
        case .unsupported(let name):
            counters.unsupported += 1
            logger.debug("RAS message not handled", metadata: ["message": "\(name)", "from": "\(source)"])
        default:
            handle(message, key, source)
        }
    }

    /// Whether `endpointIdentifier` is registered now.
    package func isRegistered(_ endpointIdentifier: String) -> Bool {
        registration(endpointIdentifier) != nil
    }

    /// The registration of `endpointIdentifier`, if live.
    /// The live registration holding any of `aliases`.
    package func registration(matchingAnyOf aliases: [AliasAddress]) -> RegistrationTable.Registration? {
        registrations.registration(matchingAnyOf: aliases, now: spw_monotonic_nanos())
    }

    package func registration(_ endpointIdentifier: String) -> RegistrationTable.Registration? {
        registrations.registration(endpointIdentifier, now: spw_monotonic_nanos())
    }

    /// Marks a request as being worked on: its retransmissions are dropped until `answer`.
    package func beginWork(on key: String) {
        inProgress.insert(key)
    }

    /// Marks a request as no longer worked on here, without an answer from this gatekeeper.
    package func endWork(on key: String) {
        inProgress.remove(key)
    }

    /// Sends the answer to a request, and keeps it for the request's retransmissions.
    package func answer(_ key: String, _ message: RASMessage, to destination: NIOCore.SocketAddress) {
        inProgress.remove(key)
        let datagram = message.perEncoded
        replies.store((datagram, destination), client: key, cookie: "", now: spw_monotonic_nanos())
        transport.send(datagram, to: destination)
    }

    /// Sends a message that answers nothing (RIP, forwarded requests, reports).
    package func send(_ message: RASMessage, to destination: NIOCore.SocketAddress) {
        transport.send(message, to: destination)
    }

    package func count(_ update: (inout RASCounters) -> Void) {
        update(&counters)
    }

    private func register(_ request: RegistrationRequest, key: String, source: NIOCore.SocketAddress) {
        let destination = RASTransport.socketAddress(request.rasAddress.first, otherwise: source)
        switch registrations.register(request, now: spw_monotonic_nanos()) {
        case .success(let registration):
            answer(
                key,
                .registrationConfirm(
                    RegistrationConfirm(
                        requestSeqNum: request.requestSeqNum, callSignalAddress: callSignalAddresses,
                        terminalAlias: registration.aliases,
                        gatekeeperIdentifier: gatekeeperIdentifier, endpointIdentifier: registration.endpointIdentifier,
                        timeToLive: registrations.timeToLive)),
                to: destination)
        case .failure(let reason):
            logger.notice(
                "refused a RAS registration",
                metadata: ["from": "\(source)", "aliases": "\(request.terminalAlias ?? [])", "reason": "\(reason)"])
            answer(
                key,
                .registrationReject(
                    RegistrationReject(
                        requestSeqNum: request.requestSeqNum, rejectReason: reason,
                        gatekeeperIdentifier: gatekeeperIdentifier)),
                to: destination)
        }
    }
}

/// What a RAS port has done since it started.
package struct RASCounters {
    /// Decoded messages by H.225.0 name.
    package var received: [String: UInt64] = [:]
    package var malformed: UInt64 = 0
    package var unsupported: UInt64 = 0
    package var retransmissions: UInt64 = 0
    /// LRQ/ARQ answered with this node's own addresses (or, on the monitor, a node's).
    package var admitted: UInt64 = 0
    package var forwarded: UInt64 = 0
    package var forwardTimeouts: UInt64 = 0
    package var lateAnswers: UInt64 = 0
    package var allBusy: UInt64 = 0
    package var hopLimit: UInt64 = 0
    package var notRegistered: UInt64 = 0
    package var reportsReceived: UInt64 = 0
}

package extension RASCounters {
    var bencoded: BencodeValue {
        .dictionary([
            "received": .dictionary(received.mapValues { .integer(Int64($0)) }),
            "malformed": .integer(Int64(malformed)), "unsupported": .integer(Int64(unsupported)),
            "retransmissions": .integer(Int64(retransmissions)), "admitted": .integer(Int64(admitted)),
            "forwarded": .integer(Int64(forwarded)), "forward-timeouts": .integer(Int64(forwardTimeouts)),
            "late-answers": .integer(Int64(lateAnswers)), "all-busy": .integer(Int64(allBusy)),
            "hop-limit": .integer(Int64(hopLimit)), "not-registered": .integer(Int64(notRegistered)),
            "reports-received": .integer(Int64(reportsReceived)),
        ])
    }
}
