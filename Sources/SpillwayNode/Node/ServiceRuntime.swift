import NIOCore
import NIOPosix

/// State that lives on a service's event loop and is stopped there.
protocol LoopConfinedState: AnyObject, SendableMetatype {
    func stop()
}

/// The event loop, UDP/TCP channels and loop-confined state of a running service (a relay node or
/// the load monitor): one thread runs every channel and timer, so the state needs no locks.
struct ServiceRuntime<State: LoopConfinedState>: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let state: NIOLoopBoundBox<State?>
    /// The first channel is the service's main port: the service runs until it closes.
    var channels: [any Channel] = []

    init() {
        state = NIOLoopBoundBox<State?>.makeEmptyBox(valueType: State.self, eventLoop: group.next())
    }

    var loop: any EventLoop { group.next() }

    func waitUntilClosed() async throws {
        try await channels.first?.closeFuture.get()
    }

    /// Stops the state on its loop, closes the channels, runs `beforeLoopEnds`, and ends the loop.
    func shutdown(beforeLoopEnds: () -> Void = {}) async {
        let state = self.state
        try? await loop.submit { state.value?.stop() }.get()
        for channel in channels { try? await channel.close() }
        beforeLoopEnds()
        try? await group.shutdownGracefully()
    }
}
