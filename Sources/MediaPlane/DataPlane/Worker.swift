import CSpillwayShims
import KernelPath
import Logging
import RTP
import SRTP
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One data-plane thread: a loop over the sockets of the sides it owns, forwarding packets in
/// batches, driven by io_uring (multishot receives into provided buffers, queued sends) or, where
/// that is unavailable, by epoll with recvmmsg and sendmmsg. It shares nothing with other workers;
/// the control plane reaches it only through its command queue and an eventfd wake-up.
final class Worker: @unchecked Sendable {
    enum Command {
        case configure(slot: Int, MediaSideConfiguration)
        case remove(slot: Int)
        case stop
    }

    let index: Int
    let logger: Logger
    /// The kernel fast path the worker hands latched plain streams to, nil when it has none.
    let kernel: KernelForwarder?
    /// The io_uring the worker runs on, nil when it runs on epoll.
    private let ring: CompletionRing?
    /// The epoll set the worker runs on, -1 when it runs on io_uring.
    private let epollDescriptor: Int32
    private let wakeDescriptor: Int32
    private let pending = Mutex<(commands: [Command], sent: UInt64)>(([], 0))
    /// How many commands the worker has carried out; a command's ticket is done once this reaches it.
    private let carriedOut = Atomic<UInt64>(0)
    /// Everything this worker has received, for the node's workload; published once per batch.
    let traffic = WorkerTraffic()
    private var thread: pthread_t?

    // Owned by the worker thread alone (after start), which never overlaps two accesses to one of
    // them: the runtime's exclusivity checks are left out, a tenth of the worker's userspace
    // instructions (bench/instructions.py). The compiler's static checks still apply.
    @exclusivity(unchecked) private var sides: [MediaSideState] = []
    private let batch = PacketBatch()
    @exclusivity(unchecked) private var generated = GeneratedPackets()
    @exclusivity(unchecked) private var running = true
    /// The commands being carried out. Swapped with the queue's array, so that taking a batch
    /// allocates nothing on this thread and the queue gets back an array with room.
    private var takenCommands: [Command] = []
    /// Whether the worker already said that it could not open a connected sibling.
    private var reportedSiblingFailure = false
    /// Whether the worker already said that the kernel fast path refused a route.
    var reportedKernelInstallFailure = false

    /// Events or completions handled per pass of the loop.
    private static let readyCapacity = 256

    /// Sets the worker up on `engine`; when io_uring cannot be opened, the worker runs on epoll and
    /// says why.
    init(index: Int, engine: DataPlaneEngine, kernel: KernelForwarder?, logger: Logger) throws(MediaPlaneError) {
        self.index = index
        self.logger = logger
        self.kernel = kernel
        wakeDescriptor = spw_eventfd_create()
        guard wakeDescriptor >= 0 else { throw .workerSetupFailed(worker: index, errno: errno) }
        var ring: CompletionRing?
        if engine == .ioUring {
            switch CompletionRing.open() {
            case .success(let opened): ring = opened
            case .failure(let error):
                logger.warning(
                    "media worker \(index) could not open an io_uring (\(error)) and runs on epoll instead, at about a tenth more CPU per packet. It needs Linux 6.1 or later; check kernel.io_uring_disabled and the container's seccomp profile, or set data-plane = \"epoll\" to choose it"
                )
            }
        }
        self.ring = ring
        if let ring {
            epollDescriptor = -1
            ring.poll(wakeDescriptor, token: .wake)
        } else {
            epollDescriptor = spw_epoll_create()
            guard epollDescriptor >= 0, spw_epoll_add(epollDescriptor, wakeDescriptor, WorkerToken.wake.rawValue) == 0
            else {
                let code = errno
                close(wakeDescriptor)
                throw .workerSetupFailed(worker: index, errno: code)
            }
        }
    }

    /// The engine the worker runs on.
    var engine: DataPlaneEngine { ring == nil ? .epoll : .ioUring }

    deinit {
        ring?.close()
        if epollDescriptor >= 0 { close(epollDescriptor) }
        close(wakeDescriptor)
    }

    /// Queues a command and wakes the worker. Commands run in the order they were sent; the returned
    /// ticket tells when this one has run (`hasCarriedOut`).
    @discardableResult
    func send(_ command: Command) -> UInt64 {
        let ticket = pending.withLock { queue in
            queue.commands.append(command)
            queue.sent += 1
            return queue.sent
        }
        _ = spw_eventfd_signal(wakeDescriptor)
        return ticket
    }

    /// Whether the command with `ticket` has run.
    func hasCarriedOut(_ ticket: UInt64) -> Bool {
        carriedOut.load(ordering: .acquiring) >= ticket
    }

    /// Starts the thread; `cpu`, when given, pins it.
    func start(pinnedTo cpu: Int?) {
        let context = Unmanaged.passRetained(WorkerStart(worker: self, cpu: cpu)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(
            &handle, nil,
            { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.worker.run(pinnedTo: start.cpu)
                return nil
            }, context)
        precondition(result == 0, "pthread_create failed for media worker \(index): errno \(result)")
        thread = handle
    }

    /// Stops the loop, closes every socket the worker still owns and joins the thread.
    func stop() {
        guard let thread else { return }
        send(.stop)
        pthread_join(thread, nil)
        self.thread = nil
    }

    private func run(pinnedTo cpu: Int?) {
        spw_set_thread_name("spw-media-\(index)")
        traffic.cpuClock.store(spw_current_thread_cpu_clock(), ordering: .relaxed)
        if let cpu {
            let result = spw_pin_current_thread(Int32(cpu))
            if result != 0 { logger.warning("could not pin media worker \(index) to CPU \(cpu): errno \(result)") }
        }
        if let ring { runOnRing(ring) } else { runOnEpoll() }
        for slot in sides.indices where sides[slot].active { removeSide(slot) }
    }

    private func runOnEpoll() {
        // Plain buffers rather than arrays: passing an array to C retains and releases its storage
        // on every wait.
        let tokens = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.readyCapacity)
        let events = UnsafeMutablePointer<UInt32>.allocate(capacity: Self.readyCapacity)
        defer {
            tokens.deallocate()
            events.deallocate()
        }
        while running {
            let ready = spw_epoll_wait(epollDescriptor, tokens, events, Int32(Self.readyCapacity), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.critical("epoll_wait failed in media worker \(index): \(SystemError(errno: errno))")
                break
            }
            let now = spw_monotonic_nanos()
            for position in 0..<Int(ready) {
                let token = WorkerToken(rawValue: tokens[position])
                if token == .wake {
                    spw_eventfd_drain(wakeDescriptor)
                    applyPendingCommands()
                } else if let descriptor = currentSocket(of: token) {
                    forward(slot: token.slot, from: token.kind, received: batch.receive(from: descriptor), now: now)
                }
            }
        }
    }

    private func runOnRing(_ ring: CompletionRing) {
        let enabled = ring.enable()
        guard enabled == 0 else {
            logger.critical(
                "media worker \(index) could not enable its io_uring: \(SystemError(errno: enabled)). Set data-plane = \"epoll\" to run without it"
            )
            return
        }
        let completions = UnsafeMutablePointer<spw_completion>.allocate(capacity: Self.readyCapacity)
        defer { completions.deallocate() }
        while running {
            let failure = ring.submit(wait: true)
            // EBUSY: the completion queue is backed up; reaping below makes room.
            if failure != 0, failure != EBUSY, failure != EINTR {
                logger.critical("io_uring_enter failed in media worker \(index): \(SystemError(errno: failure))")
                break
            }
            let now = spw_monotonic_nanos()
            var reaped = ring.reap(into: completions, capacity: Self.readyCapacity)
            while reaped > 0 {
                handle(completions, count: reaped, on: ring, now: now)
                reaped = running ? ring.reap(into: completions, capacity: Self.readyCapacity) : 0
            }
            ring.publishBuffers()
        }
    }

    /// Handles one reaped run of completions: consecutive receives on one socket are forwarded as
    /// one batch.
    private func handle(
        _ completions: UnsafeMutablePointer<spw_completion>, count: Int, on ring: CompletionRing, now: UInt64
    ) {
        var position = 0
        while position < count {
            let token = WorkerToken(rawValue: completions[position].token)
            if token == .wake {
                spw_eventfd_drain(wakeDescriptor)
                if !completions[position].staysArmed { ring.poll(wakeDescriptor, token: .wake) }
                applyPendingCommands()
                position += 1
            } else if token == .cancellation {
                position += 1
            } else if token.kind == .send {
                finishSend(completions[position], token: token, on: ring)
                position += 1
            } else {
                // Looked up once for the run: taking datagrams changes no side.
                let socket = currentSocket(of: token)
                var received = 0
                while position < count, completions[position].token == token.rawValue, received < PacketBatch.capacity {
                    if take(completions[position], token: token, socket: socket, on: ring, into: received) {
                        received += 1
                    }
                    position += 1
                }
                if received > 0 { forward(slot: token.slot, from: token.kind, received: received, now: now) }
            }
        }
    }

    /// Puts a receive's datagram into batch entry `position` when it is for a current side, whose
    /// socket `socket` is (nil otherwise: the buffer goes back), and re-arms the receive when the
    /// kernel ended it. Returns whether the batch took a datagram.
    private func take(
        _ completion: spw_completion, token: WorkerToken, socket: Int32?, on ring: CompletionRing, into position: Int
    ) -> Bool {
        var taken = false
        if let buffer = completion.buffer {
            if socket != nil, let datagram = ring.datagram(in: buffer, result: completion.result) {
                batch.set(position, to: datagram, buffer: buffer)
                taken = true
            } else {
                ring.giveBack(buffer)
            }
        }
        guard !completion.staysArmed, let descriptor = socket else { return taken }
        switch -completion.result {
        case ECANCELED:
            break
        case EBADF, EINVAL, ENOTSOCK, EOPNOTSUPP, EFAULT:
            logger.error(
                "media worker \(index) stopped receiving on socket \(descriptor) of slot \(token.slot): \(SystemError(errno: -completion.result)). The side's media is no longer relayed; delete and offer the call again"
            )
        default:
            // Out of buffers (ENOBUFS), a pending ICMP error (ECONNREFUSED), a full completion queue:
            // the receive goes on.
            ring.receive(on: descriptor, token: token)
        }
        return taken
    }

    /// A queued send completed: its buffer goes back, and a failure moves the packet from forwarded
    /// to dropped. A connected socket refuses a send with ECONNREFUSED when an earlier packet drew an
    /// ICMP port unreachable, and sends nothing: that send is queued again, as an unconnected socket
    /// would have sent it. Each such refusal spends the error of one packet that did leave, so the
    /// resends end.
    private func finishSend(_ completion: spw_completion, token: WorkerToken, on ring: CompletionRing) {
        if completion.result == -ECONNREFUSED {
            ring.resend(token.buffer, token: token)
            return
        }
        ring.giveBack(token.buffer)
        guard completion.result < 0 else { return }
        sides.withUnsafeMutableBufferPointer { sides in
            guard sides.holds(token) else { return }
            sides[token.slot].tally.forwarded &-= 1
            sides[token.slot].tally.drops[PacketDropReason.sendFailed.rawValue] &+= 1
            sides[token.slot].publish()
        }
    }

    /// The socket a receive token names, when the token is for the side that holds its slot now
    /// and that side has the socket. (Read through a buffer pointer: a subscript read of the array
    /// would copy the whole side.)
    @inline(__always)
    private func currentSocket(of token: WorkerToken) -> Int32? {
        sides.withUnsafeBufferPointer { sides in
            guard sides.holds(token) else { return nil }
            let descriptor = sides[token.slot].socket(token.kind)
            return descriptor >= 0 ? descriptor : nil
        }
    }

    private func applyPendingCommands() {
        pending.withLock { queue in swap(&queue.commands, &takenCommands) }
        defer {
            carriedOut.add(UInt64(takenCommands.count), ordering: .releasing)
            takenCommands.removeAll(keepingCapacity: true)
        }
        for index in takenCommands.indices {
            switch takenCommands[index] {
            case .configure(let slot, let configuration):
                configureSide(slot, configuration)
            case .remove(let slot):
                removeSide(slot)
            case .stop:
                running = false
            }
        }
    }

    private func configureSide(_ slot: Int, _ configuration: MediaSideConfiguration) {
        precondition(slot < WorkerToken.slotLimit, "media worker \(index) has no token room for slot \(slot)")
        if slot >= sides.count {
            sides.append(contentsOf: repeatElement(MediaSideState(), count: slot - sides.count + 1))
        }
        let isNew = !sides[slot].active
        sides[slot].apply(configuration)
        defer {
            if kernel != nil {
                sides.withUnsafeMutableBufferPointer { sides in
                    updateKernelRoutes(of: slot, sides: sides)
                    updateKernelRoutes(of: sides[slot].opposite, sides: sides)
                }
            }
        }
        guard isNew else { return }
        if let failure = watch(configuration.rtpDescriptor, token: token(slot, .rtp)) {
            logger.error("media worker \(index) could not watch the RTP socket of slot \(slot): \(failure)")
        }
        if configuration.rtcpDescriptor >= 0,
            let failure = watch(configuration.rtcpDescriptor, token: token(slot, .rtcp))
        {
            logger.error("media worker \(index) could not watch the RTCP socket of slot \(slot): \(failure)")
        }
        if let peers = configuration.restoredPeers {
            if peers.rtp.isSet {
                sides[slot].latchedRTP = true
                moveRTP(of: &sides[slot], slot: slot, to: peers.rtp)
            }
            if peers.rtcp.isSet {
                sides[slot].latchedRTCP = true
                moveRTCP(of: &sides[slot], to: peers.rtcp)
            }
        }
    }

    private func token(_ slot: Int, _ kind: WorkerToken.Kind) -> WorkerToken {
        WorkerToken(kind, slot: slot, generation: sides[slot].generation)
    }

    /// Starts receiving on `descriptor`: a multishot receive on the ring, or a place in the epoll set.
    private func watch(_ descriptor: Int32, token: WorkerToken) -> SystemError? {
        if let ring {
            ring.receive(on: descriptor, token: token)
            return nil
        }
        return spw_epoll_add(epollDescriptor, descriptor, token.rawValue) == 0 ? nil : SystemError(errno: errno)
    }

    /// Stops receiving on a removed side's sockets and closes them. On the ring, the receives are
    /// cancelled and the cancellation submitted first: a socket a request still holds would keep
    /// its port bound after close.
    private func removeSide(_ slot: Int) {
        guard slot < sides.count, sides[slot].active else { return }
        let sockets: [(Int32, WorkerToken.Kind)] = [
            (sides[slot].rtpDescriptor, .rtp), (sides[slot].rtcpDescriptor, .rtcp),
            (sides[slot].connectedRTPDescriptor, .connectedRTP),
        ]
        for (descriptor, kind) in sockets where descriptor >= 0 {
            if let ring { ring.cancel(token(slot, kind)) } else { _ = spw_epoll_remove(epollDescriptor, descriptor) }
        }
        if let ring, case let failure = ring.submit(wait: false), failure != 0 {
            logger.error(
                "media worker \(index) could not submit the cancellation of slot \(slot)'s receives: \(SystemError(errno: failure))"
            )
        }
        for (descriptor, _) in sockets where descriptor >= 0 { close(descriptor) }
        let opposite = sides[slot].opposite
        sides.withUnsafeMutableBufferPointer { sides in
            if kernel != nil { forgetKernelRoutes(of: slot, sides: sides) }
            sides[slot].publish()
        }
        sides[slot].counters?.release()
        sides[slot] = MediaSideState(generation: sides[slot].generation &+ 1)
        // The other side's packets had this side's peer as their destination.
        if kernel != nil { sides.withUnsafeMutableBufferPointer { updateKernelRoutes(of: opposite, sides: $0) } }
    }

    /// Forwards what is valid of batch entries `0..<received`, which arrived on a side's socket, to
    /// the opposite side: through the ring's queued sends when the worker has one, else with sendmmsg
    /// per run of packets for one socket.
    private func forward(slot: Int, from kind: WorkerToken.Kind, received: Int, now: UInt64) {
        guard received > 0 else { return }
        sides.withUnsafeMutableBufferPointer { sides in
            if kernel != nil { reclaimKernelRoute(of: slot, arrivedOn: kind, sides: sides) }
            let fromRTCPSocket = kind == .rtcp
            // Every packet of a batch arrived at `now`: its RTP-clock arrival time is computed once.
            let arrival = UInt32(truncatingIfNeeded: (now / 1000) &* UInt64(sides[slot].clockRate) / 1_000_000)
            var queued = 0
            var queuedDescriptor: Int32 = -1
            var receivedBytes = 0
            var latchEvents = sides[slot].tally.latches &+ sides[slot].tally.relatches
            for packetIndex in 0..<received {
                receivedBytes &+= batch.packet(packetIndex).count
                guard
                    let (outDescriptor, destination) = classifyAndLatch(
                        packetIndex, sides: sides, slot: slot, fromRTCPSocket: fromRTCPSocket,
                        fromConnectedSibling: kind == .connectedRTP, now: now, arrival: arrival)
                else {
                    ring?.giveBack(batch.entry(packetIndex).buffer)
                    continue
                }
                // This side's peer just latched or moved: the other side's kernel route must send to
                // it before this packet reaches the other party, who may answer at once.
                if kernel != nil, sides[slot].tally.latches &+ sides[slot].tally.relatches != latchEvents {
                    latchEvents = sides[slot].tally.latches &+ sides[slot].tally.relatches
                    updateKernelRoutes(of: sides[slot].opposite, sides: sides)
                }
                if let ring {
                    let entry = batch.entry(packetIndex)
                    let token = WorkerToken(.send, slot: slot, generation: sides[slot].generation, buffer: entry.buffer)
                    ring.send(entry, from: outDescriptor, to: destination, token: token)
                    sides[slot].tally.forwarded &+= 1
                    continue
                }
                if outDescriptor != queuedDescriptor, queued > 0 {
                    flush(queued, on: queuedDescriptor, side: &sides[slot])
                    queued = 0
                }
                queuedDescriptor = outDescriptor
                batch.prepareSend(queued, packet: packetIndex, to: destination)
                queued += 1
            }
            // Routes first: a party that got this batch's packets finds them in place when it answers.
            if kernel != nil {
                updateKernelRoutes(of: slot, sides: sides)
                updateKernelRoutes(of: sides[slot].opposite, sides: sides)
            }
            if queued > 0 { flush(queued, on: queuedDescriptor, side: &sides[slot]) }
            sides[slot].publish()
            traffic.add(packets: received, bytes: receivedBytes)
        }
    }

    @inline(__always)
    private func flush(_ count: Int, on descriptor: Int32, side: inout MediaSideState) {
        countSent(count, refused: batch.send(count, on: descriptor), side: &side)
    }

    @inline(__always)
    private func countSent(_ count: Int, refused: Int, side: inout MediaSideState) {
        side.tally.forwarded &+= UInt64(count - refused)
        side.tally.drops[PacketDropReason.sendFailed.rawValue] &+= UInt64(refused)
    }

    /// Validates one received packet (decrypting it first when the relay terminates SRTP from its
    /// sender), updates the side's statistics and latching, encrypts it when the receiving side
    /// needs SRTP, and returns where to send it; nil when it is dropped (the reason is counted).
    /// Packets are authenticated before they can latch, so forged SRTP cannot steer a stream.
    @inline(__always)
    private func classifyAndLatch(
        _ packetIndex: Int, sides: UnsafeMutableBufferPointer<MediaSideState>, slot: Int, fromRTCPSocket: Bool,
        fromConnectedSibling: Bool, now: UInt64, arrival: UInt32
    ) -> (Int32, SocketAddress)? {
        func drop(_ reason: PacketDropReason) -> (Int32, SocketAddress)? {
            sides[slot].tally.drops[reason.rawValue] &+= 1
            return nil
        }
        if batch.wasTruncated(packetIndex) { return drop(.truncated) }
        var packet = batch.packet(packetIndex)
        let wireLength = UInt64(packet.count)
        let isRTCP = fromRTCPSocket || (sides[slot].rtcpMux && RTCP.isMultiplexedRTCP(packet))
        if sides[slot].terminatesSRTP {
            guard let decrypt = sides[slot].decrypt else { return drop(.awaitingKeys) }
            guard packet.count >= RTCP.minimumLength else { return drop(.tooShort) }
            guard packet[0] >> 6 == 2 else { return drop(.notRTP) }
            let failure = transformInPlace(packetIndex) { bytes, length in
                decrypt.unprotect(bytes, length: &length, rtcp: isRTCP)
            }
            if let failure { return drop(failure) }
            packet = batch.packet(packetIndex)
        }
        var header: RTPHeader?
        if isRTCP {
            let validity = sides[slot].isSecured ? RTCP.validateSecured(packet) : RTCP.validate(packet)
            if case .failure(let reason) = validity { return drop(reason) }
        } else {
            switch RTPHeader.parse(packet) {
            case .failure(let reason): return drop(reason)
            case .success(let parsed): header = parsed
            }
        }

        if sides[slot].latch.rule != .asymmetric {
            if fromRTCPSocket {
                if let refusal = latchRTCP(packetIndex, of: &sides[slot]) { return drop(refusal) }
            } else {
                let fromPeer = fromConnectedSibling && sides[slot].sendsConnected
                if let refusal = latchRTP(
                    packetIndex, header: header, fromPeer: fromPeer, of: &sides[slot], slot: slot, now: now)
                {
                    return drop(refusal)
                }
            }
        }

        if let recorder = sides[slot].recorder {
            recorder.record(
                packet, from: batch.source(packetIndex),
                to: fromRTCPSocket ? sides[slot].localRTCP : sides[slot].localRTP)
        }
        sides[slot].tally.lastPacketNanos = now
        if let header {
            sides[slot].tally.rtpPackets &+= 1
            sides[slot].tally.rtpBytes &+= wireLength
            if sides[slot].isVideo, header.marker { sides[slot].tally.frames &+= 1 }
            sides[slot].reception.record(
                ssrc: header.ssrc, sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, arrival: arrival)
        } else {
            sides[slot].tally.rtcpPackets &+= 1
            sides[slot].tally.rtcpBytes &+= wireLength
        }

        let opposite = sides[slot].opposite
        guard opposite >= 0, opposite < sides.count, sides[opposite].active else { return drop(.noDestination) }
        guard let (descriptor, destination) = sides[opposite].sendTarget(rtcp: isRTCP) else {
            return drop(.noDestination)
        }
        if let stage = sides[slot].transcoding {
            // RTCP from the sender describes a stream the receiver never sees: it ends here (its
            // sender report timing the round trip of the reports on the sender's stream), and the
            // stage writes the reports for the transcoded stream, with a block on the receiver's.
            guard let header else {
                sides[slot].reporting.heard(packet, at: now)
                return nil
            }
            generated.reset()
            let outcome = stage.process(packet, header: header, now: now, into: &generated) {
                sides[opposite].reporting.block(for: sides[opposite].reception, at: now)
            }
            if case .dropped(let reason) = outcome {
                sides[slot].tally.drops[reason.rawValue] &+= 1
            }
            sendGenerated(sides: sides, slot: slot, opposite: opposite)
            return nil
        }
        if sides[opposite].terminatesSRTP {
            guard let encrypt = sides[opposite].encrypt else { return drop(.awaitingKeys) }
            let failure = transformInPlace(packetIndex) { bytes, length in
                encrypt.protect(bytes, length: &length, rtcp: isRTCP)
            }
            if let failure { return drop(failure) }
        }
        return (descriptor, destination)
    }

    /// Sends what a transcoding stage wrote, encrypted when the receiving side needs SRTP, and
    /// counts it on the sending side like relayed packets.
    private func sendGenerated(sides: UnsafeMutableBufferPointer<MediaSideState>, slot: Int, opposite: Int) {
        var queued = 0
        var queuedDescriptor: Int32 = -1
        for index in 0..<generated.count {
            let isRTCP = generated.isRTCP(index)
            guard let (descriptor, destination) = sides[opposite].sendTarget(rtcp: isRTCP) else {
                // Reports for a receiver without an RTCP address are not sent; RTP without one is a drop.
                if !isRTCP { sides[slot].tally.drops[PacketDropReason.noDestination.rawValue] &+= 1 }
                continue
            }
            if sides[opposite].terminatesSRTP {
                guard let encrypt = sides[opposite].encrypt else {
                    sides[slot].tally.drops[PacketDropReason.awaitingKeys.rawValue] &+= 1
                    continue
                }
                let outcome = generated.transform(index) { bytes, length in
                    encrypt.protect(bytes, length: &length, rtcp: isRTCP)
                }
                if let reason = PacketDropReason(outcome) {
                    sides[slot].tally.drops[reason.rawValue] &+= 1
                    continue
                }
            }
            if descriptor != queuedDescriptor, queued > 0 {
                countSent(queued, refused: generated.send(queued, on: queuedDescriptor), side: &sides[slot])
                queued = 0
            }
            queuedDescriptor = descriptor
            generated.queue(queued, packet: index, to: destination)
            queued += 1
        }
        if queued > 0 { countSent(queued, refused: generated.send(queued, on: queuedDescriptor), side: &sides[slot]) }
    }

    /// Applies the latching rules to a packet on the RTP port: the first packet latches its source,
    /// later ones must come from it, unless they are the latched stream moving to a new address
    /// (`PeerLatch`). Returns why a packet is refused. Only packets that passed validation (and
    /// SRTP authentication, where the relay terminates SRTP) get here. `fromPeer` says the kernel
    /// already checked the source: the packet came through the sibling connected to the peer.
    @inline(__always)
    private func latchRTP(
        _ packetIndex: Int, header: RTPHeader?, fromPeer: Bool, of side: inout MediaSideState, slot: Int, now: UInt64
    ) -> PacketDropReason? {
        if !side.latchedRTP {
            side.latchedRTP = true
            side.tally.latches &+= 1
            moveRTP(of: &side, slot: slot, to: batch.source(packetIndex))
        } else if !fromPeer, !batch.came(packetIndex, from: side.peerRTP) {
            // Every packet taken since the latch came from the latched source: its reception
            // statistics and last packet time are what was heard from it.
            guard let header,
                side.latch.admitsMove(
                    to: header.ssrc, sequenceNumber: header.sequenceNumber, continuing: side.reception.latest,
                    lastHeardNanos: side.tally.lastPacketNanos, now: now)
            else { return .notLatched }
            side.tally.relatches &+= 1
            side.rtcpMayFollow = !side.rtcpMux && side.latchedRTCP
            moveRTP(of: &side, slot: slot, to: batch.source(packetIndex))
        }
        return nil
    }

    /// Applies the latching rules to a packet on the RTCP port: the first latches its source; after
    /// that only the latched source is taken, or, once RTP has moved to a new address, RTCP from that
    /// host about the latched stream.
    @inline(__always)
    private func latchRTCP(_ packetIndex: Int, of side: inout MediaSideState) -> PacketDropReason? {
        if !side.latchedRTCP {
            side.latchedRTCP = true
            side.tally.latches &+= 1
            moveRTCP(of: &side, to: batch.source(packetIndex))
        } else if !batch.came(packetIndex, from: side.peerRTCP) {
            let source = batch.source(packetIndex)
            let packet = batch.packet(packetIndex)
            guard side.rtcpMayFollow, source.hasSameHost(as: side.peerRTP), let latest = side.reception.latest,
                RTCP.senderSSRC(packet) == latest.ssrc
            else { return .notLatched }
            side.tally.relatches &+= 1
            side.rtcpMayFollow = false
            moveRTCP(of: &side, to: source)
        }
        return nil
    }

    /// Sends the side's RTCP to `peer` from now on, and tells the control plane.
    private func moveRTCP(of side: inout MediaSideState, to peer: SocketAddress) {
        side.peerRTCP = peer
        side.counters?._withUnsafeGuaranteedRef { $0.latchedRTCPSource.withLock { $0 = peer } }
    }

    /// Sends the side's RTP to `peer` from now on, and tells the control plane.
    private func moveRTP(of side: inout MediaSideState, slot: Int, to peer: SocketAddress) {
        side.peerRTP = peer
        side.counters?._withUnsafeGuaranteedRef { $0.latchedSource.withLock { $0 = peer } }
        connectRTP(of: &side, slot: slot, to: peer)
    }

    /// Points the side's connected sibling at its newly latched RTP peer, opening the sibling first
    /// if it has none. When that fails (say, no descriptor left), RTP keeps going out through the
    /// bound socket with the peer's address, which only costs the kernel a route lookup per packet.
    private func connectRTP(of side: inout MediaSideState, slot: Int, to peer: SocketAddress) {
        let failure: SocketError?
        if side.connectedRTPDescriptor >= 0 {
            failure = UDPSocket.connect(side.connectedRTPDescriptor, to: peer)
        } else {
            switch UDPSocket.connectedSibling(of: side.rtpDescriptor, to: peer) {
            case .success(let sibling):
                if let watchFailure = watch(
                    sibling, token: WorkerToken(.connectedRTP, slot: slot, generation: side.generation))
                {
                    failure = SocketError(operation: "epoll_ctl", address: peer, errno: watchFailure.errno)
                    close(sibling)
                } else {
                    side.connectedRTPDescriptor = sibling
                    failure = nil
                }
            case .failure(let error):
                failure = error
            }
        }
        side.sendsConnected = failure == nil
        if let failure, !reportedSiblingFailure {
            reportedSiblingFailure = true
            logger.warning(
                "media worker \(index) could not open a connected socket for a latched peer (\(failure)); its RTP is sent from the bound socket instead, at a route lookup per packet. Reported once; raise the descriptor limit (LimitNOFILE=) if it says so"
            )
        }
    }

    /// Runs an SRTP transform over packet `packetIndex` in its slot and records its new length;
    /// returns the drop reason when the transform refused the packet.
    @inline(__always)
    private func transformInPlace(
        _ packetIndex: Int, _ transform: (UnsafeMutableRawPointer, inout Int) -> SRTPOutcome
    ) -> PacketDropReason? {
        var length = batch.packet(packetIndex).count
        if let reason = PacketDropReason(transform(batch.mutableBytes(packetIndex), &length)) { return reason }
        batch.setLength(packetIndex, length)
        return nil
    }
}

extension UnsafeBufferPointer<MediaSideState> {
    /// Whether `token` is for the side that holds its slot now, not for one removed from it.
    @inline(__always)
    func holds(_ token: WorkerToken) -> Bool {
        token.slot < count && self[token.slot].active && self[token.slot].generation == token.generation
    }
}

extension UnsafeMutableBufferPointer<MediaSideState> {
    @inline(__always)
    func holds(_ token: WorkerToken) -> Bool { UnsafeBufferPointer(self).holds(token) }
}

extension PacketDropReason {
    /// The drop an SRTP outcome means; nil for success.
    @inline(__always)
    init?(_ outcome: SRTPOutcome) {
        switch outcome {
        case .ok: return nil
        case .authenticationFailed: self = .srtpAuthentication
        case .replayed: self = .srtpReplay
        case .failed: self = .srtpFailed
        }
    }
}

/// A worker's running totals, written by the worker alone (plain relaxed stores, no locked
/// instructions) and read by the node's workload meter.
final class WorkerTraffic: Sendable {
    let packets = Atomic<UInt64>(0)
    let bytes = Atomic<UInt64>(0)
    /// The worker thread's CPU-time clock, once it runs.
    let cpuClock = Atomic<Int32>(-1)

    /// Called by the worker thread only.
    @inline(__always)
    func add(packets count: Int, bytes size: Int) {
        packets.store(packets.load(ordering: .relaxed) &+ UInt64(count), ordering: .relaxed)
        bytes.store(bytes.load(ordering: .relaxed) &+ UInt64(size), ordering: .relaxed)
    }
}

/// Carries a worker and its CPU into the new thread.
private final class WorkerStart {
    let worker: Worker
    let cpu: Int?

    init(worker: Worker, cpu: Int?) {
        self.worker = worker
        self.cpu = cpu
    }
}

/// Failures of the data plane itself (not of one packet).
public enum MediaPlaneError: Error, Sendable, CustomStringConvertible {
    case workerSetupFailed(worker: Int, errno: Int32)

    public var description: String {
        switch self {
        case .workerSetupFailed(let worker, let code):
            "media worker \(worker) could not create its eventfd or epoll descriptor: \(String(cString: strerror(code))). Raise the descriptor limit (LimitNOFILE=) if it says too many open files"
        }
    }
}
