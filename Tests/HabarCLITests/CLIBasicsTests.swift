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

    @Test("installed under a prefix and started from /: migrate and token need no catalogs; serve finds share/habar/messages and says so")
    func installedFromAnyDirectory() async throws {
        // <prefix>/bin/habar and <prefix>/share/habar/messages, as `deploy/` installs them.
        let prefix = try Fixtures.temporaryDirectory("cli-prefix")
        let bin = prefix.appendingPathComponent("bin")
        let share = prefix.appendingPathComponent("share/habar/messages")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: share.deletingLastPathComponent(), withIntermediateDirectories: true)
        let installed = bin.appendingPathComponent("habar")
        do { try FileManager.default.linkItem(at: HabarProcess.binary, to: installed) } catch {
            try FileManager.default.copyItem(at: HabarProcess.binary, to: installed)
        }
        try FileManager.default.copyItem(at: Fixtures.messagesDirectory, to: share)
        let root = URL(fileURLWithPath: "/")
        let data = try Fixtures.temporaryDirectory("cli-prefix-data")

        // No catalogs anywhere near the binary: migrate and token still work, from /.
        let bare = try Fixtures.temporaryDirectory("cli-bare")
        let bareBinary = bare.appendingPathComponent("habar")
        do { try FileManager.default.linkItem(at: HabarProcess.binary, to: bareBinary) } catch {
            try FileManager.default.copyItem(at: HabarProcess.binary, to: bareBinary)
        }
        let migrated = try await ExternalProcess.run(bareBinary.path, ["migrate", "--data-dir", data.path], in: root, timeout: 120)
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent("habar.sqlite").path))
        let token = try await ExternalProcess.run(bareBinary.path, ["token", "create", "--role", "admin", "--name", "ops", "--data-dir", data.path], in: root, timeout: 120)
        #expect(token.status == 0 && token.stdout.hasPrefix("hb_"), "\(token.stderr)")
        // serve needs them, and says where it looked.
        let refused = try await ExternalProcess.run(bareBinary.path, ["serve", "--data-dir", data.path, "--port", "\(HabarProcess.freePort())"], in: root, timeout: 120)
        #expect(refused.status == 65 && refused.stderr.contains("no message catalogs found") && refused.stderr.contains(bare.appendingPathComponent("messages").path), "\(refused.stderr)")

        // Installed: serve from / finds <prefix>/share/habar/messages and logs it.
        let port = HabarProcess.freePort()
        let log = data.appendingPathComponent("serve.log")
        let running = try HabarProcess.start(["serve", "--data-dir", data.path, "--port", "\(port)"], log: log, binary: installed, in: root)
        defer { running.terminate() }
        try await HabarProcess.waitForHealth(URL(string: "http://127.0.0.1:\(port)/health")!)
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(text.contains("message catalogs") && text.contains(share.standardizedFileURL.path), "\(text)")
    }

    @Test("a malformed configuration file is refused with exit 65 naming its line and column")
    func malformedConfiguration() async throws {
        let directory = try Fixtures.temporaryDirectory("cli-config")
        let file = directory.appendingPathComponent("habar.json")
        try Data("{\n  \"http\": {\n    \"port\": 8080,\n  }\n}\n".utf8).write(to: file)
        let answer = try await HabarProcess.run(["migrate", "--config", file.path, "--data-dir", directory.path], in: URL(fileURLWithPath: "/"))
        #expect(answer.status == 65, "\(answer.stderr)")
        #expect(answer.stderr.contains("\(file.path):4:3:") && answer.stderr.contains("trailing comma"), "\(answer.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("habar.sqlite").path), "nothing is created")
    }
}
