/// Why a relay node or the load monitor could not start.
public enum StartError: Error, CustomStringConvertible {
    case bindFailed(setting: String, address: String, underlying: String)
    case clusterKey(path: String, reason: String)
    case recordingDirectory(path: String, reason: String)
    case redisAuthFile(path: String, reason: String)
    case kernelForwarding(reason: String)

    public var description: String {
        switch self {
        case .bindFailed(let setting, let address, let underlying):
            "cannot listen for \(setting) on \(address): \(underlying); is another process (another relay?) already bound there?"
        case .clusterKey(let path, let reason):
            "cluster key file \(path): \(reason)"
        case .recordingDirectory(let path, let reason):
            "recording directory \(path) cannot be written (\(reason)); create it or point --recording-dir elsewhere"
        case .redisAuthFile(let path, let reason):
            "Redis password file \(path): \(reason); point --redis-auth-file at a readable file holding the password"
        case .kernelForwarding(let reason):
            "kernel-forwarding is on, but \(reason). Set kernel-forwarding to auto to run in userspace where the kernel path cannot start"
        }
    }
}
