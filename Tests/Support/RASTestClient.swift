import H323
import MediaPlane
import SpillwayClient
import SpillwayTestFixtures

/// An H.323 endpoint or gatekeeper for tests: sends RAS requests from its own UDP port and reads
/// the answers, noting every RIP that comes first.
public final class RASTestClient {
    public let peer: UDPPeer

    public init(ip: String = "127.0.0.1") throws {
        peer = try UDPPeer(bindingTo: ip)
    }

    /// This client's own RAS address, for replyAddress and rasAddress fields.
    public var transportAddress: TransportAddress {
        TransportAddress(ipv4: peer.address.ip, port: Int(peer.address.port))!
    }

    public func send(_ message: RASMessage, to destination: SocketAddress) {
        _ = peer.send(message.perEncoded, to: destination)
    }

    /// Sends `message` and returns the first answer that is not RIP, with the RIPs before it.
    public func request(
        _ message: RASMessage, to destination: SocketAddress, timeoutMilliseconds: Int32 = 3_000
    ) throws -> RASExchange {
        send(message, to: destination)
        return try awaitAnswer(timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Reads until a message that is not RIP arrives, or the time runs out.
    public func awaitAnswer(timeoutMilliseconds: Int32 = 3_000) throws -> RASExchange {
        var exchange = RASExchange()
        let deadline = spw_test_seconds() + Double(timeoutMilliseconds) / 1000
        while spw_test_seconds() < deadline {
            guard
                let datagram = peer.receive(timeoutMilliseconds: max(1, Int32((deadline - spw_test_seconds()) * 1000)))
            else { break }
            let message = try RASMessage(perEncoded: datagram.bytes)
            if case .requestInProgress(let rip) = message {
                exchange.progress.append(rip)
                continue
            }
            exchange.answer = message
            exchange.answeredFrom = datagram.source
            exchange.bytes = datagram.bytes
            break
        }
        return exchange
    }

    /// Registers with the gatekeeper at `destination` as `alias`; returns the endpoint identifier.
    public func register(alias: String, at destination: SocketAddress, sequenceNumber: UInt16 = 1) throws -> String? {
        try register(
            aliases: [.h323ID(alias)], callSignalAddress: TransportAddress(ipv4: peer.address.ip, port: 1720)!,
            at: destination, sequenceNumber: sequenceNumber)
    }

    /// Registers with the gatekeeper at `destination` under `aliases`, taking calls at
    /// `callSignalAddress`; returns the endpoint identifier.
    public func register(
        aliases: [AliasAddress], callSignalAddress: TransportAddress, at destination: SocketAddress,
        sequenceNumber: UInt16 = 1
    ) throws -> String? {
        let request = RegistrationRequest(
            requestSeqNum: sequenceNumber, discoveryComplete: false, callSignalAddress: [callSignalAddress],
            rasAddress: [transportAddress], terminalType: EndpointType(isTerminal: true), terminalAlias: aliases,
            endpointVendor: RASSamples.vendor)
        guard
            case .registrationConfirm(let confirm)? = try self.request(.registrationRequest(request), to: destination)
                .answer
        else { return nil }
        return confirm.endpointIdentifier
    }
}

/// What came back for one RAS request.
public struct RASExchange {
    /// The first message that was not RIP.
    public var answer: RASMessage?
    /// Where it came from.
    public var answeredFrom: SocketAddress?
    /// Its bytes.
    public var bytes: [UInt8] = []
    /// The RIPs before it.
    public var progress: [RequestInProgress] = []
}
