import Cluster
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
    /// The address written into logical channels: the default interface's advertised address (the
    /// media plane binds its local one).
    let mediaIP: String
    let loop: any EventLoop
    let logger: Logger
    let limits: TPKTConnection.Limits
    private let routes: [H323Route]
    private let steer: SetupSteering
    private let replyMode: H323ReplyMode
    private let maxHops: Int
    private let registered: RegistrationLookup
    private let elementSeal: SetupElementSeal?
    public private(set) var counters = H323Counters()
    private var calls: [String: ProxiedCall] = [:]

    /// A port relaying calls onto `registry`'s media plane. `steer` is the node's steering: a
    /// Setup it does not take here goes to the node it names, as `replyMode` says, or is refused
    /// with cause 34 when every node is busy. A Setup may be forwarded `maxHops` times. `elementSeal`
    /// (the node's cluster key) signs the Setups it forwards and is the only way a received one is
    /// taken as forwarded; without it, every Setup is a caller's own.
    public init(
        registry: CallRegistry, mediaIP: String, routes: [H323Route], steer: @escaping SetupSteering,
        replyMode: H323ReplyMode,
        maxHops: Int, elementSeal: SetupElementSeal?, registered: @escaping RegistrationLookup, loop: any EventLoop,
        logger: Logger
    ) {
        self.elementSeal = elementSeal
        self.registry = registry
        self.mediaIP = mediaIP
        self.routes = routes
        self.steer = steer
        self.replyMode = replyMode
        self.maxHops = maxHops
        self.registered = registered
        self.loop = loop
        self.logger = logger
        limits = TPKTConnection.Limits()
        registry.whenCallEnds { [weak self] callID, reason in self?.calls[callID]?.mediaEnded(reason) }
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
                // A call forwarded onward in reverse mode: relayed as it is.
                if let splice = caller.splice { return splice.fromCaller(bytes) }
                do throws(CallSignallingError) {
                    let message = try Q931Message(parsing: bytes)
                    if let call = caller.call {
                        call.relay(message, from: .caller)
                    } else if caller.isBeingPlaced {
                        caller.held.append(message)
                    } else {
                        startCall(message, from: connection, caller: caller)
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
                logger.notice(
                    "closed a call-signalling connection that sent no complete message",
                    metadata: ["peer": "\(channel.remoteAddress.map { "\($0)" } ?? "-")"])
            case .closed:
                caller.call?.connectionClosed(.caller)
                caller.splice?.closed()
            }
        }
        try channel.pipeline.syncOperations.addHandler(connection)
    }

    /// What a caller's connection carries: nothing yet, a Setup being placed, a call relayed
    /// here, or a call forwarded to another node.
    private final class CallerConnection {
        weak var call: ProxiedCall?
        var splice: SignallingSplice?
        /// While the Setup's placement is being decided, the caller's further messages wait.
        var isBeingPlaced = false
        var held: [Q931Message] = []
    }

    private func refused(_ error: CallSignallingError, from connection: TPKTConnection) {
        counters.dropped[error.reason, default: 0] += 1
        logger.warning(
            "refused call-signalling input",
            metadata: ["peer": "\(connection.remoteAddress.map { "\($0)" } ?? "-")", "error": "\(error)"])
    }

    /// Places a caller's first message, a Setup: here, on another node, or nowhere (the caller is
    /// told why).
    private func startCall(_ setup: Q931Message, from connection: TPKTConnection, caller: CallerConnection) {
        let peer = connection.remoteAddress.map { "\($0)" } ?? "-"
        guard setup.type == .setup, let encoding = setup.userInformation else {
            counters.dropped["not-a-setup", default: 0] += 1
            logger.warning(
                "a call-signalling connection did not start with a Setup",
                metadata: ["peer": "\(peer)", "type": "\(setup.typeCode)"])
            connection.close()
            return
        }
        let information: H323UserInformation
        do {
            information = try H323UserInformation(perEncoded: encoding)
        } catch {
            counters.dropped["bad-h225", default: 0] += 1
            logger.warning(
                "refused a Setup whose H.225.0 content cannot be read",
                metadata: ["peer": "\(peer)", "error": "\(error)"])
            // Cause 100: invalid information element contents.
            refuse(setup, information: nil, on: connection, cause: 100, reason: .undefinedReason)
            return
        }
        // What a forwarding Spillway node added stays between the nodes; the hops it claims are
        // held to this node's limit. One the cluster key does not authenticate is not believed.
        let callIdentifier = information.callIdentifier?.guid ?? []
        var forwarded = SpillwaySetupElement(in: setup)
        if let element = forwarded, elementSeal?.isAuthentic(element, callIdentifier: callIdentifier) != true {
            counters.dropped["unauthenticated-forward", default: 0] += 1
            logger.warning(
                "a Setup claims to be forwarded by a Spillway node but its element does not authenticate under this node's cluster key; placed as a caller's own. Check that every node has the same --cluster-key-file and synchronised clocks",
                metadata: ["peer": "\(peer)"])
            forwarded = nil
        }
        var setup = setup
        SpillwaySetupElement.remove(from: &setup)
        let placement = CallPlacement(
            hopsLeft: min(forwarded?.hopsLeft ?? maxHops, maxHops), visited: forwarded?.visited ?? [])
        let call = IncomingSetup(
            setup: setup, information: information, connection: connection, caller: caller,
            resolvedDestination: forwarded?.destination.flatMap(TransportAddress.init(hostAndPort:)))
        place(call, placement)
    }

    /// A Setup being placed, as it arrived (less Spillway's element).
    private struct IncomingSetup {
        var setup: Q931Message
        var information: H323UserInformation
        var connection: TPKTConnection
        var caller: CallerConnection
        /// The destination a forwarding node resolved.
        var resolvedDestination: TransportAddress?
        var peer: String { connection.remoteAddress.map { "\($0)" } ?? "-" }
    }

    /// Places a Setup; again, when `unanswered` is the node it was forwarded to and could not reach.
    private func place(_ call: IncomingSetup, _ placement: CallPlacement, after unanswered: String? = nil) {
        call.caller.isBeingPlaced = true
        steer(placement, unanswered) { [self] outcome in
            call.caller.isBeingPlaced = false
            switch outcome {
            case .takeHere:
                guard let proxied = routeHere(call) else { return }
                call.caller.call = proxied
                for message in call.caller.held { proxied.relay(message, from: .caller) }
            case .allBusy(let reason):
                counters.allBusy += 1
                logger.notice(
                    "refused an H.323 call: all nodes busy",
                    metadata: ["peer": "\(call.peer)", "reason": "\(reason)", "tried": "\(placement.visited)"])
                // Cause 34: no circuit/channel available.
                refuse(
                    call.setup, information: call.information, on: call.connection, cause: 34, reason: .gatewayResources
                )
            case .forward(let node, let address, let carried):
                counters.spills[replyMode.rawValue, default: 0] += 1
                logger.info(
                    "spilling an H.323 call to another node",
                    metadata: [
                        "peer": "\(call.peer)", "node": "\(node)", "address": "\(address)", "reply": "\(replyMode)",
                    ])
                switch replyMode {
                case .direct: redirect(call, to: address)
                case .reverse: forward(call, to: address, node: node, carrying: carried, placement: placement)
                }
            }
        }
    }

    /// Tells the caller to send its Setup to `address` instead (Facility `callForwarded`), then
    /// releases the call here with cause 23, redirection to new destination.
    private func redirect(_ call: IncomingSetup, to address: NIOCore.SocketAddress) {
        // The address came from HOST:PORT, so it is IP; anything else cannot be named in a Facility.
        guard let target = TransportAddress(address) else {
            return refuse(
                call.setup, information: call.information, on: call.connection, cause: 34, reason: .gatewayResources)
        }
        var facility = Q931Message(type: .facility, callReference: call.setup.callReference, fromDestination: true)
        facility.setUserInformation(
            H323UserInformation.callForwarded(
                to: target,
                aliases: call.information.destinationAddress.isEmpty ? nil : call.information.destinationAddress,
                conferenceID: call.information.conferenceID, callIdentifier: call.information.callIdentifier))
        call.connection.send(facility.encoded)
        var release = Q931Message(
            type: .releaseComplete, callReference: call.setup.callReference, fromDestination: true,
            elements: [Q931Message.causeElement(23)])
        release.setUserInformation(
            H323UserInformation.releaseComplete(
                callIdentifier: call.information.callIdentifier, reason: .undefinedReason))
        call.connection.send(release.encoded)
        call.connection.close()
    }

    /// Sends the Setup on to the chosen node with Spillway's element (hops, visited nodes, the
    /// destination resolved here) and relays the call's signalling both ways from then on.
    private func forward(
        _ call: IncomingSetup, to target: NIOCore.SocketAddress, node: String, carrying carried: CallPlacement,
        placement: CallPlacement
    ) {
        let splice = SignallingSplice(caller: call.connection) { [weak self] in self?.counters.messagesRelayed += 1 }
        call.caller.splice = splice
        var setup = call.setup
        elementSeal?.element(
            hopsLeft: carried.hopsLeft, visited: carried.visited,
            destination: destination(of: call)?.address.socketAddress?.hostAndPort,
            callIdentifier: call.information.callIdentifier?.guid ?? []
        ).add(to: &setup)
        splice.fromCaller(setup.encoded)
        for message in call.caller.held { splice.fromCaller(message.encoded) }
        open(
            to: target, from: call.connection.localAddress,
            events: { [weak self, weak splice] event, _ in
                switch event {
                case .frame(let bytes): splice?.fromOnward(bytes)
                case .refused(let error): self?.refused(error, from: call.connection)
                case .idleTimeout: self?.counters.dropped["idle-timeout", default: 0] += 1
                case .closed: splice?.closed()
                }
            },
            then: { [self] result in
                switch result {
                case .success(let connection):
                    splice.connected(connection)
                case .failure(let error):
                    // Not there: that node is left out and the call placed again.
                    logger.warning(
                        "node did not accept a forwarded H.323 call",
                        metadata: ["node": "\(node)", "error": "\(error)"])
                    call.caller.splice = nil
                    place(call, placement, after: node)
                }
            })
    }

    private func destination(of call: IncomingSetup) -> CallDestination? {
        if let resolved = call.resolvedDestination { return .resolvedByForwarder(resolved) }
        let own = call.connection.localAddress.flatMap(TransportAddress.init)
        return CallDestination.find(
            aliases: call.information.destinationAddress,
            signalled: call.information.destCallSignalAddress.flatMap { $0 == own ? nil : $0 }, routes: routes,
            registered: registered)
    }

    /// Relays a call taken here to its destination; nil when it has none (the caller is refused).
    private func routeHere(_ incoming: IncomingSetup) -> ProxiedCall? {
        let (setup, information, connection, peer) = (
            incoming.setup, incoming.information, incoming.connection, incoming.peer
        )
        guard let destination = destination(of: incoming), let target = destination.address.socketAddress else {
            logger.notice(
                "refused an H.323 call with no known destination",
                metadata: ["peer": "\(peer)", "destination": "\(information.destinationAddress.map(\.description))"])
            // Cause 1: unallocated (unassigned) number.
            refuse(setup, information: information, on: connection, cause: 1, reason: .unreachableDestination)
            return nil
        }
        let call = ProxiedCall(
            call: RoutedCall(setup: setup, userInformation: information), destination: destination, caller: connection,
            port: self)
        guard calls[call.callID] == nil else {
            logger.warning(
                "refused a second Setup for a call already up",
                metadata: ["peer": "\(peer)", "call-id": "\(call.callID)"])
            refuse(setup, information: information, on: connection, cause: 101, reason: .undefinedReason)
            return nil
        }
        calls[call.callID] = call
        counters.callsRouted += 1
        logger.info(
            "routing an H.323 call",
            metadata: ["call-id": "\(call.callID)", "peer": "\(peer)", "destination": "\(destination)"])
        connectCallee(of: call, at: target, from: connection.localAddress)
        call.relay(setup, from: .caller)
        return call
    }

    private func refuse(
        _ setup: Q931Message, information: H323UserInformation?, on connection: TPKTConnection, cause: Int,
        reason: H323UserInformation.ReleaseReason
    ) {
        counters.callsRefused += 1
        var release = Q931Message(
            type: .releaseComplete, callReference: setup.callReference, fromDestination: true,
            elements: [Q931Message.causeElement(cause)])
        release.setUserInformation(
            H323UserInformation.releaseComplete(callIdentifier: information?.callIdentifier, reason: reason))
        connection.send(release.encoded)
        connection.close()
    }

    // MARK: - Callees

    private func connectCallee(
        of call: ProxiedCall, at target: NIOCore.SocketAddress, from local: NIOCore.SocketAddress?
    ) {
        open(
            to: target, from: local,
            events: { [weak self, weak call] event, connection in
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
            },
            then: { [weak call] result in
                switch result {
                case .success(let connection): call?.calleeConnected(connection)
                case .failure(let error): call?.calleeUnreachable(error)
                }
            })
    }

    /// Opens a call-signalling connection to `target`, leaving from `local`'s address when it has
    /// one: on a multi-homed node the far side sees the node's signalling address, not whichever
    /// the routing table picks.
    private func open(
        to target: NIOCore.SocketAddress, from local: NIOCore.SocketAddress?,
        events: @escaping (TPKTConnection.Event, TPKTConnection) -> Void,
        then completion: @escaping (Result<TPKTConnection, any Error>) -> Void
    ) {
        let connection = TPKTConnection(limits: limits)
        connection.onEvent = { [unowned connection] event in events(event, connection) }
        var bootstrap = ClientBootstrap(group: loop)
        if let local, let ip = local.ipAddress, let bound = try? NIOCore.SocketAddress(ipAddress: ip, port: 0),
            bound.protocol == target.protocol
        {
            bootstrap = bootstrap.bind(to: bound)
        }
        let loopBound = NIOLoopBound((connection, completion), eventLoop: loop)
        bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(loopBound.value.0)
                }
            }
            .connect(to: target)
            .whenComplete { result in
                let (connection, completion) = loopBound.value
                completion(result.map { _ in connection })
            }
    }
}
