import Cluster

#if canImport(Glibc)
import Glibc
#endif

/// Reads the cluster's shared key: the file's bytes, without a trailing newline, at least
/// `ClusterSeal.minimumKeyLength` of them. Every node and the monitor must read the same key.
enum ClusterKeyFile {
    static func load(_ path: String) throws(NodeStartError) -> ClusterSeal {
        guard let file = fopen(path, "r") else {
            throw .clusterKey(path: path, reason: "cannot be read (\(String(cString: strerror(errno))))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= 65536 {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard let seal = ClusterSeal(keyBytes: bytes) else {
            throw .clusterKey(
                path: path,
                reason: "holds \(bytes.count) bytes; at least \(ClusterSeal.minimumKeyLength) are needed "
                    + "(e.g. head -c 32 /dev/urandom | base64 > \(path))")
        }
        return seal
    }
}
