import Foundation
import HabarCore
import HabarTesting
import Testing

@Suite("habar command line")
struct CLIBasicsTests {
    @Test("habar --version prints the version and exits 0")
    func version() async throws {
        let answer = try await HabarProcess.run(["--version"])
        #expect(answer.status == 0 && answer.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == HabarVersion.current, "\(answer.stdout)")
    }

    @Test("habar serve on a port already taken exits 69 naming the address")
    func portTaken() async throws {
        let port = HabarProcess.freePort()
        let first = try Fixtures.temporaryDirectory("cli-port-1")
        let firstLog = first.appendingPathComponent("serve.log")
        let running = try HabarProcess.start(["serve", "--data-dir", first.path, "--port", "\(port)"], log: firstLog)
        defer { running.terminate() }
        try await HabarProcess.waitForHealth(URL(string: "http://127.0.0.1:\(port)/health")!)
        let second = try Fixtures.temporaryDirectory("cli-port-2")
        let refused = try await HabarProcess.run(["serve", "--data-dir", second.path, "--port", "\(port)"], timeout: 60)
        #expect(refused.status == 69, "\(refused.status): \(refused.stderr)")
        #expect(refused.stderr.contains("cannot listen on 127.0.0.1:\(port)"), "\(refused.stderr)")
    }
}
