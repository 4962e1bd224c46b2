import Cluster

#if canImport(Glibc)
import Glibc
#endif

/// Reads the cluster's shared key: the file's bytes, without a trailing newline, at least
/// `ClusterSeal.minimumKeyLength` of them. Every node and the monitor must read the same key.
package enum ClusterKeyFile {
    package static func load(_ path: String) throws(StartError) -> ClusterSeal {
        guard let bytes = readSecretFile(path, limit: 65536) else {
            throw .clusterKey(path: path, reason: "cannot be read (\(String(cString: strerror(errno))))")
        }
        guard let seal = ClusterSeal(keyBytes: bytes) else {
            throw .clusterKey(
                path: path,
                reason: "holds \(bytes.count) bytes; at least \(ClusterSeal.minimumKeyLength) are needed "
                    + "(e.g. head -c 32 /dev/urandom | base64 > \(path))")
        }
        return seal
    }
}
