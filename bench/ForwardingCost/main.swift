// The load of bench/instructions.py: one media worker of the relay's own WorkerPool forwards the
// RTP of CALLS calls both ways, in lock-step rounds. Each round every caller and every callee sends
// one 172-byte G.711 packet to its side of the relay, and the round ends when every one of them has
// come out at the other party. Run under callgrind, the worker thread's instruction count over two
// round counts gives the userspace instructions per forwarded packet without set-up and latching,
// and the same figure every time: valgrind runs one thread at a time, so the worker takes each round
// as one batch. Synchronous on purpose: valgrind 3.19 crashes on the threads of Swift's concurrency
// runtime, and the worker is a plain pthread. Run by hand.
//
//   forwarding-cost ENGINE CALLS ROUNDS PORT
//
// ENGINE is io_uring or epoll; the relay's sockets take ports from PORT up (two pairs per call).
// Prints one JSON object; exits 1 when a packet did not come through (the count would be wrong).

import Logging
import MediaPlane
import SpillwayClient

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count == 5, let engine = DataPlaneEngine(rawValue: arguments[1]), let calls = Int(arguments[2]),
    calls > 0, let rounds = Int(arguments[3]), rounds > 0, let firstPort = UInt16(arguments[4])
else {
    print("usage: forwarding-cost io_uring|epoll CALLS ROUNDS FIRST_PORT")
    exit(2)
}

/// One call through the relay: its two parties and the relay address each of them sends to.
struct Call {
    let caller: UDPPeer
    let callee: UDPPeer
    let callerSide: SocketAddress
    let calleeSide: SocketAddress
}

let pool = try WorkerPool(workerCount: 1, engine: engine, logger: Logger(label: "forwarding-cost"))
var ports = PortAllocator(range: firstPort...(firstPort + UInt16(4 * calls + 3)))
let relayCalls: [Call] = try (0..<calls).map { _ in
    let caller = try UDPPeer()
    let callee = try UDPPeer()
    let callerPair = try ports.allocate(on: "127.0.0.1")
    let calleePair = try ports.allocate(on: "127.0.0.1")
    let callerSlot = pool.reserveSlot(on: 0)
    let calleeSlot = pool.reserveSlot(on: 0)
    func side(_ pair: PortAllocator.Pair, facing party: UDPPeer, opposite: MediaSlot) -> MediaSideConfiguration {
        MediaSideConfiguration(
            rtpDescriptor: pair.rtpDescriptor, rtcpDescriptor: pair.rtcpDescriptor, advertisedRTP: party.address,
            advertisedRTCP: .unset, rtcpMux: true, isVideo: false, opposite: opposite.index,
            counters: StreamCounters(clockRate: 8000))
    }
    pool.configure(callerSlot, side(callerPair, facing: caller, opposite: calleeSlot))
    pool.configure(calleeSlot, side(calleePair, facing: callee, opposite: callerSlot))
    return Call(
        caller: caller, callee: callee, callerSide: SocketAddress(ip: "127.0.0.1", port: callerPair.port)!,
        calleeSide: SocketAddress(ip: "127.0.0.1", port: calleePair.port)!)
}

let payload = [UInt8](repeating: 0xD5, count: 160)
var forwarded = 0
rounds: for round in 0..<rounds {
    for (index, call) in relayCalls.enumerated() {
        let ssrc = UInt32(0x5157_0000 + 2 * index)
        let timestamp = UInt32(truncatingIfNeeded: round * 160)
        call.caller.send(
            ScriptedCall.rtp(sequence: round, timestamp: timestamp, ssrc: ssrc, payload: payload), to: call.callerSide)
        call.callee.send(
            ScriptedCall.rtp(sequence: round, timestamp: timestamp, ssrc: ssrc + 1, payload: payload),
            to: call.calleeSide)
    }
    for call in relayCalls {
        for party in [call.callee, call.caller] {
            // Generous: under callgrind the worker runs some fifty times slower.
            guard party.receive(timeoutMilliseconds: 10_000) != nil else { break rounds }
            forwarded += 1
        }
    }
}
pool.shutdown()

let expected = 2 * calls * rounds
print(
    "{\"engine\": \"\(pool.engine)\", \"calls\": \(calls), \"rounds\": \(rounds), \"forwarded\": \(forwarded), \"expected\": \(expected)}"
)
exit(forwarded == expected ? 0 : 1)
