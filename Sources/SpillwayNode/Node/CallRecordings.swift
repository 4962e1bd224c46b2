import CSpillwayShims
import Capture
import MediaPlane
import ServiceEdge

/// Where a node's call recordings go: one pcap file per recording, named after the call-id (with
/// characters unsafe in file names replaced) and the time it started.
struct CallRecordings {
    let directory: String

    func open(callID: String) throws(CallError) -> any PacketRecorder {
        let safe = String(callID.map { $0.isLetter || $0.isNumber || "-_.@".contains($0) ? $0 : "_" }.prefix(128))
        let path = "\(directory)/\(safe)-\(spw_wall_nanos() / 1_000_000).pcap"
        do {
            return try PcapRecorder(path: path)
        } catch {
            throw .recording("\(error); check that --recording-dir \(directory) exists and is writable")
        }
    }
}
