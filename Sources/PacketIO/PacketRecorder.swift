/// Writes a call's received media somewhere (a pcap file, for `start recording`). A worker calls it
/// for every packet the call's sides accept, on the worker's own thread only; the recorder is handed
/// to that worker by the control plane and released there when recording stops or the call ends.
public protocol PacketRecorder: AnyObject, Sendable {
    /// Records one UDP payload received from `source` on the relay's `destination` socket.
    func record(_ payload: UnsafeRawBufferPointer, from source: SocketAddress, to destination: SocketAddress)
}
