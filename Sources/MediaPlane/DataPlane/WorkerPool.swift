import CSpillwayShims
import KernelPath
import Logging
import Synchronization

/// The data plane of a node: a fixed set of workers, each owning the sockets of the calls placed on
/// it. Calls are spread over workers round-robin; every side of one call lives on one worker, so a
/// packet never crosses threads.
public final class WorkerPool: Sendable {
    private let workers: [Worker]
    private let placement: Mutex<Placement>
    /// The kernel fast path the workers hand latched plain streams to, nil when there is none.
    public let kernel: KernelForwarder?

    /// Which worker takes the next call, and each worker's free slot indices.
    private struct Placement {
        var nextWorker = 0
        var freeSlots: [[Int]]
        var slotCounts: [Int]
    }

    /// - Parameters:
    ///   - workerCount: number of data-plane threads (at least 1).
    ///   - pinning: CPUs to pin the workers to, in order; workers beyond the list are not pinned.
    ///   - engine: what the workers run on; a worker that cannot open an io_uring runs on epoll.
    ///   - kernel: the kernel fast path, when the node forwards in the kernel.
    public init(
        workerCount: Int, pinning: [Int] = [], engine: DataPlaneEngine = .ioUring, kernel: KernelForwarder? = nil,
        logger: Logger
    ) throws(MediaPlaneError) {
        precondition(workerCount >= 1, "a worker pool needs at least one worker")
        var workers: [Worker] = []
        for index in 0..<workerCount {
            workers.append(try Worker(index: index, engine: engine, kernel: kernel, logger: logger))
        }
        self.workers = workers
        self.kernel = kernel
        placement = Mutex(
            Placement(
                freeSlots: Array(repeating: [], count: workerCount), slotCounts: Array(repeating: 0, count: workerCount)
            ))
        for (index, worker) in workers.enumerated() {
            worker.start(pinnedTo: index < pinning.count ? pinning[index] : nil)
        }
    }

    /// What the workers run on: io_uring only when every one of them does.
    public var engine: DataPlaneEngine {
        workers.allSatisfy { $0.engine == .ioUring } ? .ioUring : .epoll
    }

    /// Stops every worker (their sockets are closed), then detaches and unloads the kernel fast path.
    public func shutdown() {
        for worker in workers { worker.stop() }
        kernel?.stop()
    }

    /// Totals over every worker since start: packets and bytes received, and CPU time the worker
    /// threads have run. Two samples apart give the node's media rates and data-plane CPU share.
    public func trafficSample() -> DataPlaneSample {
        var sample = DataPlaneSample(workers: workers.count)
        for worker in workers {
            sample.packets &+= worker.traffic.packets.load(ordering: .relaxed)
            sample.bytes &+= worker.traffic.bytes.load(ordering: .relaxed)
            sample.cpuNanos &+= spw_clock_nanos(worker.traffic.cpuClock.load(ordering: .relaxed))
        }
        if let kernel {
            let forwarded = kernel.totals()
            sample.kernelPackets = forwarded.packets
            sample.packets &+= forwarded.packets
            sample.bytes &+= forwarded.bytes
        }
        return sample
    }

    /// Picks the worker for a new call.
    public func workerForNewCall() -> Int {
        placement.withLock { placement in
            defer { placement.nextWorker = (placement.nextWorker + 1) % workers.count }
            return placement.nextWorker
        }
    }

    /// Reserves a slot on `worker` for one side of a stream.
    public func reserveSlot(on worker: Int) -> MediaSlot {
        placement.withLock { placement in
            if let index = placement.freeSlots[worker].popLast() {
                return MediaSlot(worker: worker, index: index)
            }
            defer { placement.slotCounts[worker] += 1 }
            return MediaSlot(worker: worker, index: placement.slotCounts[worker])
        }
    }

    /// Installs or updates a side. The worker takes ownership of the descriptors.
    public func configure(_ slot: MediaSlot, _ configuration: MediaSideConfiguration) {
        workers[slot.worker].send(.configure(slot: slot.index, configuration))
    }

    /// Frees a reserved slot that was never configured.
    public func returnUnusedSlot(_ slot: MediaSlot) {
        placement.withLock { $0.freeSlots[slot.worker].append(slot.index) }
    }

    /// Removes a side: the worker stops watching and closes its sockets; the slot is free again.
    /// The returned removal tells when the sockets are closed (their ports can be bound again).
    public func remove(_ slot: MediaSlot) -> SideRemoval {
        let ticket = workers[slot.worker].send(.remove(slot: slot.index))
        placement.withLock { $0.freeSlots[slot.worker].append(slot.index) }
        return SideRemoval(worker: slot.worker, ticket: ticket)
    }

    /// Whether the worker has closed the sockets of a removed side.
    public func isComplete(_ removal: SideRemoval) -> Bool {
        workers[removal.worker].hasCarriedOut(removal.ticket)
    }
}

/// Running totals of a node's data plane at one moment.
public struct DataPlaneSample: Sendable, Equatable {
    /// Number of worker threads the CPU time is spread over.
    public var workers: Int
    /// Packets and bytes received, by the workers and by the kernel fast path.
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    /// Of `packets`, those the kernel fast path forwarded (the workers never saw them).
    public var kernelPackets: UInt64 = 0
    public var cpuNanos: UInt64 = 0

    public init(workers: Int) { self.workers = workers }
}

/// A side removal sent to a worker, until the worker has closed the side's sockets.
public struct SideRemoval: Sendable, Equatable {
    let worker: Int
    let ticket: UInt64
}
