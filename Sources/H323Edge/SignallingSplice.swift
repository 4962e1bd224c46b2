import NIOCore

/// A call this node forwarded to another node in reverse mode: every Q.931 message from the
/// caller goes to that node and back unchanged, and either side closing closes the other. The
/// node relays signalling only; the media never comes here.
final class SignallingSplice {
    private let caller: TPKTConnection
    private var onward: TPKTConnection?
    /// Caller messages that arrived before the onward connection was up.
    private var waiting: [[UInt8]] = []
    private let relayed: () -> Void

    init(caller: TPKTConnection, relayed: @escaping () -> Void) {
        self.caller = caller
        self.relayed = relayed
    }

    /// The onward connection is up: what the caller sent meanwhile goes out.
    func connected(_ connection: TPKTConnection) {
        onward = connection
        for payload in waiting { send(payload, on: connection) }
        waiting = []
    }

    func fromCaller(_ payload: [UInt8]) {
        guard let onward else { return waiting.append(payload) }
        send(payload, on: onward)
    }

    func fromOnward(_ payload: [UInt8]) {
        send(payload, on: caller)
    }

    /// One side closed: the other is closed too.
    func closed() {
        caller.close()
        onward?.close()
    }

    private func send(_ payload: [UInt8], on connection: TPKTConnection) {
        connection.send(payload)
        relayed()
    }
}
