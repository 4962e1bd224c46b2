import H323
import Logging
import MediaPlane
import NIOCore
import NIOPosix

/// A node's H.225.0 call-signalling port (`--call-signal`, TCP): gatekeeper-routed H.323 calls.
///
/// A caller's Setup is routed to an endpoint registered here under a destination alias, else by
/// the longest matching `--h323-route`, else to the Setup's destCallSignalAddress. The node
/// connects there and relays every Q.931 message both ways for the call's life; the media of
/// fastStart, tunnelled H.245 and separate H.245 connections is anchored on its media plane.
/// Runs on the node's event loop.
public final class CallSignallingPort {
    /// Finds the endpoint registered under any of a Setup's destination aliases.
    public typealias RegistrationLookup = ([AliasAddress]) -> RegistrationTable.Registration?

    let registry: CallRegistry
    /// The address the media plane binds and writes into logical channels.
    let mediaIP: String
    let loop: any EventLoop
    let logger: Logger
    let limits: TPKTConnection.Limits
    private let routes: [H323Route]
    private let admitsNewCall: () -> Bool
    private let registered: RegistrationLookup
    public private(set) var counters = H323Counters()
    private var calls: [String: ProxiedCall] = [:]

    /// A port relaying calls onto `registry`'s media plane; `admitsNewCall` is the node's
    /// admission (a node over its threshold, or draining, refuses new calls with cause 34).
    public init(
        registry: CallRegistry, mediaIP: String, routes: [H323Route], admitsNewCall: @escaping () -> Bool,
        registered: @escaping RegistrationLookup, loop: any EventLoop, logger: Logger
    ) {
        self.registry = registry
        self.mediaIP = mediaIP
        self.routes = routes
        self.admitsNewCall = admitsNewCall
        self.registered = registered
        self.loop = loop
        self.logger = logger
        limits = TPKTConnection.Limits()
        registry.onCallEnded = { [weak self] callID, reason in self?.calls[callID]?.mediaEnded(reason) }
    }

    /// H.323 calls up now.
    public var activeCalls: Int { calls.count }

    /// Listens for call signalling on `address`; each connection goes to the port `port()` gives
    /// (nil while the node is starting: the connection is closed).
    public static func listen(
        on address: String, loop: any EventLoop, port: @escaping @Sendable () -> CallSignallingPort?
    ) async throws -> any Channel {
        try await ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let port = port() else { throw ChannelError.ioOnClosedChannel }
                    try port.accept(channel)
                }
            }
            .bind(to: try NIOCore.SocketAddress(hostAndPort: address))
            .get()
    }

    func count(_ change: (inout H323Counters) -> Void) {
        change(&counters)
    }

    func callEnded(_ call: ProxiedCall, how: String) {
        calls[call.callID] = nil
        counters.callsEnded[how, default: 0] += 1
    }

    // MARK: - Callers

    /// A caller's connection: its first message must be a Setup.
    private func accept(_ channel: any Channel) throws {
        let connection = TPKTConnection(limits: limits)
        let caller = CallerConnection()
        // The port owns its calls (`calls`); a connection's events reach them weakly, so a call
        // ended and forgotten is freed, and an event after that finds nothing.
        connection.onEvent = { [weak self, unowned connection] event in
            guard let self else { return }
            switch event {
            case .frame(let bytes):
                do throws(CallSignallingError) {
                    let message = try Q931Message(parsing: bytes)
                    if let call = caller.call {
                        call.relay(message, from: .caller)
                    } else {
                        caller.call = startCall(message, from: connection)
                    }
                } catch {
                    refused(error, from: connection)
                    // A connection that starts with something other than Q.931 is not a caller.
                    if caller.call == nil { connection.close() }
                }
            case .refused(let error):
                refused(error, from: connection)
            case .idleTimeout:
                counters.dropped["idle-timeout", default: 0] += 1
                logger.notice("closed a call-signalling connection that sent no complete message", metadata: ["peer": "\(channel.remoteAddress.map { "\($0)" } ?? "-")"])
            case .closed:
                caller.call?.connectionClosed(.caller)
            }
        }
        try channel.pipeline.syncOperations.addHandler(connection)
    }

    /// The call a caller's connection belongs to, once its Setup started one.
    private final class CallerConnection {
        weak var call: ProxiedCall?
    }

    private func refused(_ error: CallSignallingError, from connection: TPKTConnection) {
        counters.dropped[error.reason, default: 0] += 1
        logger.warning("refused call-signalling input", metadata: ["peer": "\(connection.remoteAddress.map { "\($0)" } ?? "-")", "error": "\(error)"])
    }

    /// Routes a caller's first message; nil when no call starts (the caller is told why).
    private func startCall(_ setup: Q931Message, from connection: TPKTConnection) -> ProxiedCall? {
        let peer = connection.remoteAddress.map { "\($0)" } ?? "-"
        guard setup.type == .setup, let encoding = setup.userInformation else {
            counters.dropped["not-a-setup", default: 0] += 1
            logger.warning("a call-signalling connection did not start with a Setup", metadata: ["peer": "\(peer)", "type": "\(setup.typeCode)"])
            connection.close()
            return nil
        }
        let information: H323UserInformation
        do {
            information = try H323UserInformation(perEncoded: encoding)
        } catch {
            counters.dropped["bad-h225", default: 0] += 1
            logger.warning("refused a Setup whose H.225.0 content cannot be read", metadata: ["peer": "\(peer)", "error": "\(error)"])
            // Cause 100: invalid information element contents.
            refuse(setup, information: nil, on: connection, cause: 100, reason: .undefinedReason)
            return nil
        }
        guard admitsNewCall() else {
            logger.notice("refused an H.323 call: the node is over its threshold or draining", metadata: ["peer": "\(peer)"])
            // Cause 34: no circuit/channel available.
            refuse(setup, information: information, on: connection, cause: 34, reason: .gatewayResources)
            return nil
        }
        let own = connection.localAddress.flatMap(TransportAddress.init)
        guard
            let destination = CallDestination.find(
                aliases: information.destinationAddress, signalled: information.destCallSignalAddress.flatMap { $0 == own ? nil : $0 },
                routes: routes, registered: registered),
            let target = destination.address.socketAddress
        else {
            logger.notice(
                "refused an H.323 call with no known destination",
                metadata: ["peer": "\(peer)", "destination": "\(information.destinationAddress.map(\.description))"])
            // Cause 1: unallocated (unassigned) number.
            refuse(setup, information: information, on: connection, cause: 1, reason: .unreachableDestination)
            return nil
        }
        let call = ProxiedCall(
            call: RoutedCall(setup: setup, userInformation: information), destination: destination, caller: connection, port: self)
        guard calls[call.callID] == nil else {
            logger.warning("refused a second Setup for a call already up", metadata: ["peer": "\(peer)", "call-id": "\(call.callID)"])
            refuse(setup, information: information, on: connection, cause: 101, reason: .undefinedReason)
            return nil
        }
        calls[call.callID] = call
        counters.callsRouted += 1
        logger.info("routing an H.323 call", metadata: ["call-id": "\(call.callID)", "peer": "\(peer)", "destination": "\(destination)"])
        connectCallee(of: call, at: target, from: connection.localAddress)
        call.relay(setup, from: .caller)
        return call
    }

    private func refuse(_ setup: Q931Message, information: H323UserInformation?, on connection: TPKTConnection, cause: Int, reason: H323UserInformation.ReleaseReason) {
        counters.callsRefused += 1
        var release = Q931Message(
            type: .releaseComplete, callReference: setup.callReference, fromDestination: true, elements: [Q931Message.causeElement(cause)])
        release.setUserInformation(H323UserInformation.releaseComplete(callIdentifier: information?.callIdentifier, reason: reason))
        connection.send(release.encoded)
        connection.close()
    }

    // MARK: - Callees

    private func connectCallee(of call: ProxiedCall, at target: NIOCore.SocketAddress, from local: NIOCore.SocketAddress?) {
        let connection = TPKTConnection(limits: limits)
        connection.onEvent = { [weak self, weak call] event in
            guard let self, let call else { return }
            switch event {
            case .frame(let bytes):
                do throws(CallSignallingError) {
                    call.relay(try Q931Message(parsing: bytes), from: .callee)
                } catch {
                    refused(error, from: connection)
                }
            case .refused(let error): refused(error, from: connection)
            case .idleTimeout: counters.dropped["idle-timeout", default: 0] += 1
            case .closed: call.connectionClosed(.callee)
            }
        }
        var bootstrap = ClientBootstrap(group: loop)
        // Leave from the address the caller reached: on a multi-homed node the callee sees the
        // node's signalling address, not whichever the routing table picks.
        if let local, let ip = local.ipAddress, let bound = try? NIOCore.SocketAddress(ipAddress: ip, port: 0), bound.protocol == target.protocol {
            bootstrap = bootstrap.bind(to: bound)
        }
        let loopBound = NIOLoopBound((call, connection), eventLoop: loop)
        bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(loopBound.value.1) }
            }
            .connect(to: target)
            .whenComplete { result in
                let (call, connection) = loopBound.value
                switch result {
                case .success: call.calleeConnected(connection)
                case .failure(let error): call.calleeUnreachable(error)
                }
            }
    }
}
