import Dispatch
import Logging
import SpillwayNode
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What `spillway serve` does on signals:
/// - SIGTERM or SIGINT drains the node (no new calls; existing calls go on until they end or
///   `drain-grace` passes), then stops it, and the process exits 0;
/// - SIGHUP reloads the config file and flags: the run-time settings take effect, an invalid file
///   is rejected with the error naming its line and the running settings stay.
final class NodeSignals {
    private let sources: [any DispatchSourceSignal]

    init(
        node: RelayNode, configuration: NodeConfiguration, logger: Logger,
        reload: @escaping @Sendable () throws -> NodeConfiguration
    ) {
        let current = Running(configuration)
        let queue = DispatchQueue(label: "spillway.signals")
        @Sendable func drainThenStop() {
            guard !current.stopping.exchange(true, ordering: .relaxed) else { return }
            let grace = current.configuration.withLock { $0.drainGrace }
            Task {
                let left = await node.drain(grace: grace)
                if left > 0 {
                    logger.warning("stopping with calls still up after the drain grace", metadata: ["calls": "\(left)"])
                }
                await node.shutdown()
            }
        }
        @Sendable func reloadConfiguration() {
            let reloaded: NodeConfiguration
            do {
                reloaded = try reload()
            } catch {
                return logger.error("config reload rejected; the running settings stay: \(error)")
            }
            current.configuration.withLock { $0 = reloaded }
            Task {
                let needRestart = await node.reload(reloaded)
                logger.notice(
                    "config reloaded",
                    metadata: [
                        "threshold": "\(reloaded.threshold)", "max-sessions": "\(reloaded.capacity.sessions)",
                        "ng-clients": "\(reloaded.ngClients)",
                        "not-applied-until-restart":
                            "\(needRestart.isEmpty ? "none" : needRestart.joined(separator: ", "))",
                    ])
            }
        }
        let handlers: [(Int32, @Sendable () -> Void)] = [
            (SIGTERM, drainThenStop), (SIGINT, drainThenStop), (SIGHUP, reloadConfiguration),
        ]
        sources = handlers.map { signalNumber, handler in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    /// The settings in force and whether a stop has begun, shared by the signal handlers.
    private final class Running: Sendable {
        let configuration: Mutex<NodeConfiguration>
        let stopping = Atomic(false)

        init(_ configuration: NodeConfiguration) {
            self.configuration = Mutex(configuration)
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
