import Foundation
import HabarCore
import HabarTesting
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Runs the built `habar` executable, as an operator would.
struct HabarProcess {
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["HABAR_BINARY"] { return URL(fileURLWithPath: path) }
        return Fixtures.repositoryRoot.appendingPathComponent(".build/debug/habar")
    }

    typealias Output = ExternalProcess.Output

    /// Runs a command to completion (see `ExternalProcess.run`).
    static func run(_ arguments: [String], in directory: URL = Fixtures.repositoryRoot, timeout: TimeInterval = 300) async throws -> Output {
        try await ExternalProcess.run(binary.path, arguments, in: directory, timeout: timeout)
    }

    /// Starts a long-running command (serve); its output goes to `log`.
    static func start(_ arguments: [String], log: URL, binary: URL = binary, in directory: URL = Fixtures.repositoryRoot) throws -> Process {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// Waits until `url` answers 200.
    static func waitForHealth(_ url: URL, timeout: TimeInterval = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let (_, response) = try? await URLSession.shared.data(from: url), (response as? HTTPURLResponse)?.statusCode == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ConformanceFailure("serve", "\(url) did not answer within \(timeout) s")
    }

    /// A JSON POST to the running server as `token`: the status and the decoded body.
    static func post(_ url: URL, token: String, json: String) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(json.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }

    static func freePort() -> Int { Fixtures.freePort() }

    /// The advisory the end-to-end broadcasts send: a green corridor to everyone in Iran by SMS.
    static let broadcastAdvisory = """
        {"kind": "green_corridor", "severity": "severe", "audience": {"countries": ["IR"]},
         "params": {"route": "Тегеран — Астара", "borderCrossing": "Астара", "meetingPoint": "Посольство РК", "opensAt": "2026-03-12T04:30:00Z",
                    "closesAt": "2026-03-12T18:00:00Z", "timeZone": "Asia/Tehran", "contactPhone": "+982100000000"},
         "channelPlan": {"mode": "fallback", "channels": ["sms"]}, "expiresAt": "2099-01-01T00:00:00Z"}
        """

    /// Waits for `process` to end on a thread of its own (a graceful shutdown takes a while, and
    /// a thread Swift's tasks run on, blocked meanwhile, would make other tests' timers late).
    static func waitForExit(_ process: Process) async {
        nonisolated(unsafe) let process = process
        await DedicatedThread.run { process.waitUntilExit() }
    }
}
