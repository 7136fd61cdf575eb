import Foundation

/// Keeps a second `habar serve` off a data directory that one already serves: on SQLite two
/// gateways with the same instance id would take each other's leases and send twice. The
/// lock is an `flock` on `<dataDir>/serve.lock`, released by the kernel when the process
/// ends, however it ends.
public final class DataDirectoryLock: Sendable {
    private let descriptor: Int32

    public struct Held: Error, CustomStringConvertible {
        public var path: String
        public var description: String { "another habar serve is running on this data directory (\(path) is locked)" }
    }

    public init(directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("serve.lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw Held(path: path)
        }
        self.descriptor = fd
    }

    deinit { close(descriptor) }
}
