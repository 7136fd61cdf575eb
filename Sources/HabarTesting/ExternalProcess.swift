import Foundation
import HabarCore
import Synchronization

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
        read(descriptor: handle.fileDescriptor, until: marker)
    }

    static func read(descriptor: Int32, until marker: String? = nil) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return data }
            data.append(contentsOf: buffer[0..<count])
            if let marker, String(decoding: data, as: UTF8.self).contains(marker) { return data }
        }
    }

    /// Spawns the program itself (`posix_spawn` through `env`, which looks it up on PATH and
    /// changes into `directory`) and reaps it with `waitpid`: Foundation's `Process` on Linux
    /// can miss the exit of a child whose own child lives on (`runuser pg_ctl start` left a
    /// zombie that `waitUntilExit` waited on forever).
    public static func runBlocking(_ executable: String, _ arguments: [String], in directory: URL?, timeout: TimeInterval) throws -> Output {
        var argv = ["/usr/bin/env"]
        if let directory { argv += ["-C", directory.path] }
        argv += [executable] + arguments
        var out: [Int32] = [-1, -1], err: [Int32] = [-1, -1]
        // Close-on-exec at once, so that no other program this process starts holds them open
        // (Glibc's pipe2 is not imported into Swift here).
        guard pipe(&out) == 0, pipe(&err) == 0 else { throw SpawnFailure("pipe: errno \(errno)") }
        for descriptor in out + err { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        // The child starts with no signal blocked and every signal at its default: the thread
        // this runs on (Dispatch's) blocks some, and a child inherits the mask — pgbench's
        // `-T` timer (SIGALRM) then never rang and it ran until killed.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, cArguments, environ)
        close(out[1])
        close(err[1])
        guard spawned == 0 else {
            close(out[0])
            close(err[0])
            throw SpawnFailure("\(executable): posix_spawn failed with \(spawned)")
        }
        let finished = Mutex(false)
        let child = pid
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
            if !finished.withLock({ $0 }) { kill(child, SIGKILL) }
        }
        // Both pipes are drained at once, so neither can fill up and stall the child.
        nonisolated(unsafe) var stderr = Data()
        let done = DispatchSemaphore(value: 0)
        let errDescriptor = err[0]
        Thread {
            stderr = read(descriptor: errDescriptor)
            done.signal()
        }.start()
        let stdout = read(descriptor: out[0])
        done.wait()
        close(out[0])
        close(err[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        finished.withLock { $0 = true }
        // WIFEXITED / WEXITSTATUS, else 128 + the signal, as a shell reports it.
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Output(status: code, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    public struct SpawnFailure: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
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
