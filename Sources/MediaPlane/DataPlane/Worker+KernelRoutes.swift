import KernelPath
import RTP

/// How a worker shares its sides with the kernel fast path. A side's packets are handed to the
/// kernel once it is latched, its source validated, and nothing but forwarding is asked of it
/// (no SRTP to terminate either way, no transcoding, no recording, latching on). The kernel
/// passes up what it cannot judge (strangers, a new SSRC, a sequence jump, what it does not
/// parse); the worker then takes the route back with its figures, handles the batch, and hands
/// the route over again.
extension Worker {
    /// Takes back the route of the port a batch arrived on, before the batch is handled with the
    /// statistics the kernel kept.
    func reclaimKernelRoute(
        of slot: Int, arrivedOn kind: WorkerToken.Kind, sides: UnsafeMutableBufferPointer<MediaSideState>
    ) {
        if kind == .rtcp {
            guard sides[slot].kernelRTCP != nil else { return }
            setKernelRoutes(of: slot, rtp: sides[slot].kernelRTP, rtcp: nil, sides: sides)
        } else {
            guard sides[slot].kernelRTP != nil else { return }
            setKernelRoutes(of: slot, rtp: nil, rtcp: sides[slot].kernelRTCP, sides: sides)
        }
    }

    /// Brings the side's kernel routes in step with what the side is now.
    func updateKernelRoutes(of slot: Int, sides: UnsafeMutableBufferPointer<MediaSideState>) {
        guard slot >= 0, slot < sides.count, sides[slot].active else { return }
        let wanted = kernelRoutes(for: slot, sides: sides)
        setKernelRoutes(of: slot, rtp: wanted.rtp, rtcp: wanted.rtcp, sides: sides)
    }

    /// The routes the side can have in the kernel now; nil where userspace must carry its packets.
    private func kernelRoutes(
        for slot: Int, sides: UnsafeMutableBufferPointer<MediaSideState>
    ) -> (rtp: KernelRoute?, rtcp: KernelRoute?) {
        let opposite = sides[slot].opposite
        guard sides[slot].latch.rule != .asymmetric, !sides[slot].terminatesSRTP, sides[slot].transcoding == nil,
            sides[slot].recorder == nil, opposite >= 0, opposite < sides.count, sides[opposite].active,
            !sides[opposite].terminatesSRTP
        else { return (nil, nil) }
        // Read in place: a copy of the side costs a tenth of a packet's instructions (see `publish`).
        let receiver = UnsafePointer(sides.baseAddress! + opposite)
        // Where the receiver takes RTCP, as `sendTarget(rtcp:)` sends it: nil when it has nowhere.
        let rtcpTarget: KernelRoute.Target? =
            if receiver.pointee.rtcpMux {
                KernelRoute.Target(source: receiver.pointee.localRTP, destination: receiver.pointee.peerRTP)
            } else if receiver.pointee.rtcpDescriptor >= 0, receiver.pointee.peerRTCP.isSet,
                receiver.pointee.peerRTCP.port != 0
            {
                KernelRoute.Target(source: receiver.pointee.localRTCP, destination: receiver.pointee.peerRTCP)
            } else {
                nil
            }
        var rtp: KernelRoute?
        if sides[slot].latchedRTP, sides[slot].reception.continuation != nil {
            let route = KernelRoute(
                local: sides[slot].localRTP, peer: sides[slot].peerRTP, carriesOnlyRTCP: false,
                rtcpMux: sides[slot].rtcpMux, isVideo: sides[slot].isVideo, clockRate: sides[slot].clockRate,
                target: .init(source: receiver.pointee.localRTP, destination: receiver.pointee.peerRTP),
                rtcpTarget: sides[slot].rtcpMux ? rtcpTarget : nil)
            if route.isForwardable { rtp = route }
        }
        var rtcp: KernelRoute?
        if !sides[slot].rtcpMux, sides[slot].rtcpDescriptor >= 0, sides[slot].latchedRTCP, let rtcpTarget {
            let route = KernelRoute(
                local: sides[slot].localRTCP, peer: sides[slot].peerRTCP, carriesOnlyRTCP: true, rtcpMux: false,
                isVideo: false, clockRate: sides[slot].clockRate, target: rtcpTarget, rtcpTarget: nil)
            if route.isForwardable { rtcp = route }
        }
        return (rtp, rtcp)
    }

    /// Moves the side's routes from what is installed to `rtp` and `rtcp`: a route that changes is
    /// withdrawn, what the program counted since the worker last looked is taken into the side's
    /// tallies (and its reception carried on from where the program had it), and the successor goes
    /// in carrying on the side's reception. Done under the side's counting lock, with the tallies
    /// published, so that readers count every packet once.
    private func setKernelRoutes(
        of slot: Int, rtp: KernelRoute?, rtcp: KernelRoute?, sides: UnsafeMutableBufferPointer<MediaSideState>
    ) {
        guard let kernel, let counters = sides[slot].counters,
            sides[slot].kernelRTP != rtp || sides[slot].kernelRTCP != rtcp
        else { return }
        counters._withUnsafeGuaranteedRef { shared in
            shared.kernelRoutes.withLock { counting in
                counting.forwarder = kernel
                if sides[slot].kernelRTP != rtp {
                    if let old = sides[slot].kernelRTP {
                        let reception = kernel.withdraw(old.local)
                        absorb(&counting.rtp, of: &sides[slot], carryingOn: reception)
                    }
                    sides[slot].kernelRTP =
                        counting.isClosed
                        ? nil : install(rtp, continuing: sides[slot].reception.continuation, on: kernel)
                    note(sides[slot].kernelRTP, in: &counting.rtp, received: sides[slot].reception.received)
                }
                if sides[slot].kernelRTCP != rtcp {
                    if let old = sides[slot].kernelRTCP {
                        _ = kernel.withdraw(old.local)
                        absorb(&counting.rtcp, of: &sides[slot], carryingOn: nil)
                    }
                    sides[slot].kernelRTCP = counting.isClosed ? nil : install(rtcp, continuing: nil, on: kernel)
                    note(sides[slot].kernelRTCP, in: &counting.rtcp, received: 0)
                }
                sides[slot].publish()
            }
        }
    }

    /// Takes what the program counted at `address` since the last time into the side.
    private func absorb(
        _ address: inout KernelCounting.Address?, of side: inout MediaSideState, carryingOn reception: KernelReception?
    ) {
        guard let kernel, let local = address?.local, let counts = kernel.counts(at: local) else { return }
        side.absorb(counts.since(address?.absorbed ?? KernelCounts()), carryingOn: reception)
        address?.absorbed = counts
        address?.isRouted = false
    }

    /// Records where the side's route now is (nil: none) for the readers of its figures.
    private func note(_ route: KernelRoute?, in address: inout KernelCounting.Address?, received: UInt64) {
        guard let route else {
            address?.isRouted = false
            return
        }
        if address == nil { address = KernelCounting.Address(local: route.local) }
        address?.isRouted = true
        address?.received = received
    }

    /// Removes the side's routes and its counters in the program, their figures taken into its
    /// tallies (the side is going).
    func forgetKernelRoutes(of slot: Int, sides: UnsafeMutableBufferPointer<MediaSideState>) {
        setKernelRoutes(of: slot, rtp: nil, rtcp: nil, sides: sides)
        guard let kernel, let counters = sides[slot].counters else { return }
        counters._withUnsafeGuaranteedRef { shared in
            shared.kernelRoutes.withLock { counting in
                for address in [counting.rtp, counting.rtcp].compactMap({ $0 }) {
                    var remaining: KernelCounting.Address? = address
                    absorb(&remaining, of: &sides[slot], carryingOn: nil)
                    kernel.forget(address.local)
                }
                counting.rtp = nil
                counting.rtcp = nil
                sides[slot].publish()
            }
        }
    }

    private func install(
        _ route: KernelRoute?, continuing reception: ReceptionStatistics.Continuation?, on kernel: KernelForwarder
    ) -> KernelRoute? {
        guard let route else { return nil }
        guard let failure = kernel.install(route, continuing: reception) else { return route }
        if !reportedKernelInstallFailure {
            reportedKernelInstallFailure = true
            logger.warning(
                "media worker \(index) could not hand the stream at \(route.local) to the kernel fast path (\(SystemError(errno: failure))); it stays in userspace. Reported once; a full map (E2BIG) means more streams than the port range sized it for"
            )
        }
        return nil
    }
}
