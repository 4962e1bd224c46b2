import NIOCore
import NIOPosix

/// State that lives on a service's event loop and is stopped there.
package protocol LoopConfinedState: AnyObject, SendableMetatype {
    func stop()
}

/// The event loop, UDP/TCP channels and loop-confined state of a running service (a relay node or
/// the load monitor): one thread runs every channel and timer, so the state needs no locks.
package struct ServiceRuntime<State: LoopConfinedState>: Sendable {
    package let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    package let state: NIOLoopBoundBox<State?>
    /// The first channel is the service's main port: the service runs until it closes.
    package var channels: [any Channel] = []

    package init() {
        state = NIOLoopBoundBox<State?>.makeEmptyBox(valueType: State.self, eventLoop: group.next())
    }

    package var loop: any EventLoop { group.next() }

    package func waitUntilClosed() async throws {
        try await channels.first?.closeFuture.get()
    }

    /// Stops the state on its loop, closes the channels, runs `beforeLoopEnds`, and ends the loop.
    package func shutdown(beforeLoopEnds: () -> Void = {}) async {
        let state = self.state
        try? await loop.submit { state.value?.stop() }.get()
        for channel in channels { try? await channel.close() }
        beforeLoopEnds()
        try? await group.shutdownGracefully()
    }
}
