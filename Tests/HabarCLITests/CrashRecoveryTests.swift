import Foundation
import HabarCore
import HabarMessages
import HabarStoreSQLite
import HabarTesting
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("Crash recovery, end to end", .serialized)
struct CrashRecoveryTests {
    @Test("kill -9 mid-broadcast to 20,000 citizens: after a restart every delivery is final, none lost")
    func killNineMidBroadcast() async throws {
        let directory = try Fixtures.temporaryDirectory("crash")
        let data = directory.appendingPathComponent("data")
        let port = HabarProcess.freePort()
        let batchSize = 200
        let config = directory.appendingPathComponent("habar.json")
        try Data("""
            {"dataDir": "\(data.path)", "messagesDir": "\(Fixtures.messagesDirectory.path)",
             "http": {"port": \(port)},
             "dispatcher": {"instanceId": "crash-test", "batchSize": \(batchSize), "leaseSeconds": 5, "sendTimeoutSeconds": 2},
             "channels": [{"name": "sms", "type": "sms-stub", "options": {"dlrDelayMilliseconds": 1500, "failureRate": 0.01, "seed": 3}}]}
            """.utf8).write(to: config)

        // Given 20,000 registered citizens
        let count = 20_000
        var csv = "fullName,language,phone,country\n"
        for index in 1...count { csv += "Citizen \(index),\(index % 2 == 0 ? "kk" : "ru"),+7701\(String(format: "%07d", index)),IR\n" }
        let csvFile = directory.appendingPathComponent("citizens.csv")
        try Data(csv.utf8).write(to: csvFile)
        let imported = try await HabarProcess.run(["citizens", "import", csvFile.path, "--config", config.path])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("\"created\" : \(count)"))

        // When a broadcast is killed with SIGKILL part-way
        let log = directory.appendingPathComponent("serve.log")
        var server = try HabarProcess.start(["serve", "--config", config.path], log: log)
        try await HabarProcess.waitForHealth(URL(string: "http://127.0.0.1:\(port)/health")!)
        // An operator drafts it and a second person approves it, over HTTP as HQ does.
        func token(_ role: String, _ name: String) async throws -> String {
            try await HabarProcess.run(["token", "create", "--role", role, "--name", name, "--config", config.path]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let base = "http://127.0.0.1:\(port)/v1/advisories"
        let (created, draft) = try await HabarProcess.post(URL(string: base)!, token: try await token("operator", "duty officer"), json: HabarProcess.broadcastAdvisory)
        #expect(created == 201, "\(draft)")
        let (approved, outcome) = try await HabarProcess.post(
            URL(string: "\(base)/\(draft["id"] ?? 0)/approve")!, token: try await token("approver", "head of shift"), json: "{}")
        #expect(approved == 200 && outcome["queued"] as? Int == count, "\(outcome)")
        let stubFile = data.appendingPathComponent("sms-stub.jsonl")
        let deadline = Date().addingTimeInterval(120)
        while lineCount(stubFile) < count / 4 {
            #expect(Date() < deadline, "the broadcast did not start")
            if Date() > deadline { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        kill(server.processIdentifier, SIGKILL)
        await HabarProcess.waitForExit(server)
        let atKill = lineCount(stubFile)

        // Then a restart finishes it
        server = try HabarProcess.start(["serve", "--config", config.path], log: log)
        try await HabarProcess.waitForHealth(URL(string: "http://127.0.0.1:\(port)/health")!)
        let second = try await HabarProcess.run(["serve", "--config", config.path, "--port", "\(HabarProcess.freePort())"], timeout: 30)
        #expect(second.status == 69, "a second gateway on the same data directory is refused")
        #expect(second.stderr.contains("another habar serve is running"))
        let store = try SQLiteStore.open(directory: data)
        var final = false
        let finishBy = Date().addingTimeInterval(300)
        while Date() < finishBy {
            let counts = try await store.deliveryCounts(advisoryId: nil)
            if counts.reduce(0, { $0 + $1.count }) == count && counts.allSatisfy({ $0.state.isFinal }) { final = true; break }
            try await Task.sleep(for: .milliseconds(250))
        }
        kill(server.processIdentifier, SIGTERM)
        await HabarProcess.waitForExit(server)
        #expect(server.terminationStatus == 0, "graceful shutdown on SIGTERM")
        #expect(final, "every delivery reached a final state")

        let keys = try String(contentsOf: stubFile, encoding: .utf8).split(separator: "\n").map { line -> String in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["idempotencyKey"] as? String ?? ""
        }
        let unique = Set(keys)
        let duplicates = keys.count - unique.count
        let counts = try await store.deliveryCounts(advisoryId: nil)
        let delivered = counts.filter { $0.state == .delivered }.reduce(0) { $0 + $1.count }
        let failed = counts.filter { $0.state == .failed }.reduce(0) { $0 + $1.count }
        print("crash test: \(count) deliveries, killed after \(atKill) sends; after restart \(delivered) delivered, \(failed) failed (simulated 1% non-delivery), \(duplicates) duplicate sends")
        #expect(unique.count == count, "every citizen got the message: none lost")
        #expect(delivered + failed == count)
        #expect(duplicates <= 32, "at most the sends in flight (the channel's concurrency, 32 by default) are sent twice, not a claimed batch (\(batchSize))")
    }

    func lineCount(_ url: URL) -> Int {
        guard let data = FileManager.default.contents(atPath: url.path) else { return 0 }
        return data.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
    }
}

@Suite("Command line")
struct CommandLineTests {
    @Test("an invalid configuration file fails at start with exit 65, the key path and the reason")
    func badConfiguration() async throws {
        let file = try Fixtures.temporaryDirectory("cli").appendingPathComponent("bad.json")
        try Data(#"{"http": {"port": "eighty"}}"#.utf8).write(to: file)
        let result = try await HabarProcess.run(["serve", "--config", file.path])
        #expect(result.status == 65)
        #expect(result.stderr.contains("http.port"))
    }

    @Test("token create prints the token and nothing else; migrate says the database is up to date")
    func tokenCreate() async throws {
        let data = try Fixtures.temporaryDirectory("cli").path
        let migrated = try await HabarProcess.run(["migrate", "--data-dir", data])
        #expect(migrated.status == 0 && migrated.stdout.isEmpty)
        let result = try await HabarProcess.run(["token", "create", "--role", "operator", "--name", "duty officer", "--data-dir", data])
        #expect(result.status == 0)
        #expect(result.stdout.range(of: #"^hb_[A-Za-z0-9_-]{43}\n$"#, options: .regularExpression) != nil)
        let bad = try await HabarProcess.run(["token", "create", "--role", "king", "--name", "x", "--data-dir", data])
        #expect(bad.status == 64)
    }

    @Test("audit verify passes on an intact log and names the entry someone edited behind the triggers (exit 65)")
    func auditVerify() async throws {
        let data = try Fixtures.temporaryDirectory("cli")
        for name in ["first", "second", "third"] {
            #expect(try await HabarProcess.run(["token", "create", "--role", "viewer", "--name", name, "--data-dir", data.path]).status == 0)
        }
        let intact = try await HabarProcess.run(["audit", "verify", "--data-dir", data.path])
        #expect(intact.status == 0 && intact.stdout.contains("3 entries"), "\(intact.stdout)\(intact.stderr)")
        // Someone with the database file drops the append-only trigger and rewrites history.
        let store = try SQLiteStore.open(directory: data)
        try await store.rawExecute("""
            DROP TRIGGER audit_log_append_only_update;
            UPDATE audit_log SET details = '{"name":"innocent","role":"viewer"}' WHERE id = 2;
            """)
        let tampered = try await HabarProcess.run(["audit", "verify", "--data-dir", data.path])
        #expect(tampered.status == 65)
        #expect(tampered.stderr.contains("entry 2") && tampered.stderr.contains("changed"), "\(tampered.stderr)")
    }

    @Test("citizens import reports each bad line, keeps the good ones, and exits 65")
    func importReport() async throws {
        let directory = try Fixtures.temporaryDirectory("cli")
        let csv = directory.appendingPathComponent("c.csv")
        try Data("fullName;phone;country\nА;+77011234567;KZ\nБ;12;KZ\n".utf8).write(to: csv)
        let result = try await HabarProcess.run(["citizens", "import", csv.path, "--data-dir", directory.appendingPathComponent("data").path])
        #expect(result.status == 65)
        #expect(result.stdout.contains("\"created\" : 1"))
        #expect(result.stdout.contains("\"line\" : 3"))
        let strict = try await HabarProcess.run(["citizens", "import", csv.path, "--all-or-nothing", "--data-dir", directory.appendingPathComponent("strict").path])
        #expect(strict.status == 65)
        #expect(strict.stdout.contains("\"created\" : 0"), "all-or-nothing keeps nothing from a file with a bad row")
    }

    @Test("advisory send refuses bad input with a precise message and queues nothing")
    func advisoryBadInput() async throws {
        let data = try Fixtures.temporaryDirectory("cli").path
        let result = try await HabarProcess.run(["advisory", "send", "--data-dir", data, "--template", "green_corridor.opened", "--country", "IR", "--param", "route=X"])
        #expect(result.status == 65)
        #expect(result.stderr.contains("/params/borderCrossing"))
        let unknown = try await HabarProcess.run(["advisory", "send", "--data-dir", data, "--template", "volcano.erupted", "--all", "--kind", "general"])
        #expect(unknown.status == 65)
        #expect(unknown.stderr.contains("unknown template"))
    }

    @Test("advisory send keeps the two-person rule: above the threshold it leaves a draft for an approver (exit 65)")
    func advisoryTwoPersonRule() async throws {
        let directory = try Fixtures.temporaryDirectory("cli")
        let config = directory.appendingPathComponent("habar.json")
        try Data(#"{"dataDir": "\#(directory.path)/data", "approval": {"threshold": 2}}"#.utf8).write(to: config)
        let csv = directory.appendingPathComponent("c.csv")
        try Data("fullName,phone,country\nA,+77010000001,IR\nB,+77010000002,IR\nC,+77010000003,IR\n".utf8).write(to: csv)
        #expect(try await HabarProcess.run(["citizens", "import", csv.path, "--config", config.path]).status == 0)
        let send = ["advisory", "send", "--config", config.path, "--template", "general.notice", "--param", "text=Проверка связи", "--param", "contactPhone=+77172000000"]
        let refused = try await HabarProcess.run(send + ["--country", "IR"])
        #expect(refused.status == 65)
        #expect(refused.stderr.contains("two-person rule") && refused.stderr.contains("POST /v1/advisories/1/approve"), "\(refused.stderr)")
        let small = try await HabarProcess.run(send + ["--city", "nowhere", "--country", "IR"])
        #expect(small.status == 0, "\(small.stderr)")
    }

    @Test("messages check passes on the shipped catalogs and fails on a broken one")
    func messagesCheck() async throws {
        #expect(try await HabarProcess.run(["messages", "check"]).status == 0)
        // A copy of the shipped catalogs with four mistakes in ru.json.
        let directory = try Fixtures.temporaryDirectory("catalog")
        for file in ["kk.json", "ru.json", "en.json", "samples.json"] {
            try FileManager.default.copyItem(
                at: Fixtures.repositoryRoot.appendingPathComponent("messages/\(file)"), to: directory.appendingPathComponent(file))
        }
        let ru = directory.appendingPathComponent("ru.json")
        var object = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: ru))
        object.removeValue(forKey: "reply.help.sms")
        object["reply.safe.sms"] = "МИД РК: спасибо. Консул: {consulPhone}"
        object["checkin_request.ask.webhook.text"] = "В течение {hoursLeft, plural, one {# часа} other {# часов}}: {checkinUrl} {contactPhone}"
        object["general.notice.sms"] = "МИД РК: {text} " + String(repeating: "Сохраняйте спокойствие. ", count: 6) + "{contactPhone}"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(object).write(to: ru)
        let result = try await HabarProcess.run(["messages", "check", directory.path])
        #expect(result.status == 65)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        // Five problems and the count: the countdown plural is also another parameter set than
        // the shipped texts' absolute deadline.
        #expect(lines.count == 6, "\(result.stderr)")
        #expect(lines.contains { $0.range(of: #"ru\.json:\d+:\d+: key 'checkin_request\.ask\.webhook\.text': parameters differ"#, options: .regularExpression) != nil })
        #expect(lines.contains { $0.contains("ru.json: key 'reply.help.sms': missing (kk.json, en.json have it)") })
        #expect(lines.contains { $0.range(of: #"ru\.json:\d+:\d+: key 'reply\.safe\.sms': parameters differ from kk, en"#, options: .regularExpression) != nil })
        #expect(lines.contains { $0.range(of: #"ru\.json:\d+:\d+: key 'checkin_request\.ask\.webhook\.text': plural 'hoursLeft' lacks few, many"#, options: .regularExpression) != nil })
        #expect(lines.contains { $0.range(of: #"ru\.json:\d+:\d+: key 'general\.notice\.sms': renders to \d segments"#, options: .regularExpression) != nil } || lines.contains { $0.contains("general.notice.sms") && $0.contains("segments") })
    }
}
