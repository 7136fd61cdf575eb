import Foundation
import HabarCore

/// Runs another program to completion for a test (the `habar` binary, `xmllint`, Python with
/// a reference library), the way each test peer is driven.
public enum ExternalProcess {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` (a path, or a name looked up on PATH) with `arguments`, killed after
    /// `timeout` seconds so a test never hangs. Waits on a thread of its own (`DedicatedThread`):
    /// blocking one of the threads Swift's tasks run on (two on a two-core machine, Dispatch's
    /// global ones on Linux) would stall every other test's timers meanwhile.
    public static func run(
        _ executable: String, _ arguments: [String], in directory: URL? = nil, timeout: TimeInterval = 300
    ) async throws -> Output {
        try await DedicatedThread.run("habar.test.process") { try runBlocking(executable, arguments, in: directory, timeout: timeout) }
    }

    /// Reads `handle` to its end, or (`until`) until what was read contains that text.
    /// Plain read(2), retried on EINTR: Foundation's `availableData` and
    /// `readDataToEndOfFile` stop the process on an interrupted system call (a child exiting
    /// elsewhere in a parallel test run is enough).
    public static func read(_ handle: FileHandle, until marker: String? = nil) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return data }
            data.append(contentsOf: buffer[0..<count])
            if let marker, String(decoding: data, as: UTF8.self).contains(marker) { return data }
        }
    }

    static func runBlocking(_ executable: String, _ arguments: [String], in directory: URL?, timeout: TimeInterval) throws -> Output {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        // Both pipes are drained at once, so neither can fill up and stall the child.
        nonisolated(unsafe) var stderr = Data()
        let done = DispatchSemaphore(value: 0)
        Thread { stderr = read(err.fileHandleForReading); done.signal() }.start()
        let stdout = read(out.fileHandleForReading)
        done.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Whether `executable` can be run (on PATH, or at its path).
    public static func exists(_ executable: String) -> Bool {
        if executable.contains("/") { return FileManager.default.isExecutableFile(atPath: executable) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(executable)") }
    }

    /// Whether CI is running: a missing peer is then a failure, never a skip.
    public static var underCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
}
