import NIOCore

/// A repeating timer whose body runs on one event loop and may use that loop's confined state
/// (NIO's `scheduleRepeatedTask` wants a `Sendable` body). Create, run and cancel it on the loop.
package final class LoopTimer {
    private let loop: any EventLoop
    private let interval: TimeAmount
    private let body: () -> Void
    private var next: Scheduled<Void>?
    private var cancelled = false

    /// Runs `body` after `initialDelay`, then every `interval`, until cancelled.
    package init(
        on loop: any EventLoop, initialDelay: TimeAmount, every interval: TimeAmount, _ body: @escaping () -> Void
    ) {
        self.loop = loop
        self.interval = interval
        self.body = body
        schedule(in: initialDelay)
    }

    package func cancel() {
        cancelled = true
        next?.cancel()
        next = nil
    }

    private func schedule(in delay: TimeAmount) {
        next = loop.assumeIsolated().scheduleTask(in: delay) { [self] in
            guard !cancelled else { return }
            body()
            if !cancelled { schedule(in: interval) }
        }
    }
}
