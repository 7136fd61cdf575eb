import Foundation
import HabarCore
import HabarTesting
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Several `habar serve` processes on one PostgreSQL database, as behind a load balancer.
@Suite("Several instances on PostgreSQL, end to end", .serialized)
struct MultiInstanceTests {
    struct Instance {
        var directory: URL
        var config: URL
        var port: Int
        var stubFile: URL { directory.appendingPathComponent("data/sms-stub.jsonl") }
        var log: URL { directory.appendingPathComponent("serve.log") }
        var base: String { "http://127.0.0.1:\(port)" }
    }

    /// Sends in flight per channel and instance: the most a kill can leave sent and unrecorded.
    static let concurrency = 32

    static func instance(_ name: String, url: String, batchSize: Int) throws -> Instance {
        let directory = try Fixtures.temporaryDirectory("multi-\(name)")
        let port = HabarProcess.freePort()
        let config = directory.appendingPathComponent("habar.json")
        try Data("""
            {"dataDir": "\(directory.appendingPathComponent("data").path)", "messagesDir": "\(Fixtures.messagesDirectory.path)",
             "http": {"port": \(port)}, "storage": {"kind": "postgres", "url": "\(url)", "poolSize": 10},
             "dispatcher": {"batchSize": \(batchSize), "leaseSeconds": 5, "sendTimeoutSeconds": 2, "concurrency": \(Self.concurrency)},
             "channels": [{"name": "sms", "type": "sms-stub",
                           "options": {"dlrDelayMilliseconds": 300, "failureRate": 0.01, "seed": 3, "inboundKey": "drill-key-0123456789"}}]}
            """.utf8).write(to: config)
        return Instance(directory: directory, config: config, port: port)
    }

    @Test("three instances, 20,000 citizens, kill -9 of one mid-broadcast: every delivery final, none lost, duplicates within the killed one's claims; one audit chain; an answer on A is seen on B")
    func threeInstances() async throws {
        guard let peer = try await PostgresPeer.forTests() else { return }
        let url = try await peer.createDatabase(prefix: "multi")
        let database = String(url.split(separator: "/").last!)
        let batchSize = 200
        let instances = try ["a", "b", "c"].map { try Self.instance($0, url: url, batchSize: batchSize) }
        let count = 20_000

        // Three instances started at once on an empty database: one migrates, all serve.
        var servers = try instances.map { try HabarProcess.start(["serve", "--config", $0.config.path], log: $0.log) }
        defer { for server in servers where server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        for instance in instances { try await HabarProcess.waitForHealth(URL(string: "\(instance.base)/health")!, timeout: 60) }
        let migrations = try await peer.psql("SELECT count(*) FROM habar_migrations", database: database).trimmingCharacters(in: .whitespacesAndNewlines)
        let migrationLogs = instances.map { (try? String(contentsOf: $0.log, encoding: .utf8)) ?? "" }.map { $0.components(separatedBy: "postgres migration").count - 1 }
        #expect(migrationLogs.reduce(0, +) == Int(migrations), "each migration ran once across the three: \(migrationLogs), \(migrations) recorded")
        var ids: [String] = []
        for instance in instances {
            let (data, _) = try await URLSession.shared.data(from: URL(string: "\(instance.base)/ready")!)
            let ready = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            #expect(ready?["status"] as? String == "ready" && ready?["storage"] as? String == "postgres", "\(ready ?? [:])")
            ids.append(ready?["instance"] as? String ?? "")
        }
        #expect(Set(ids).count == 3, "three distinct instance ids: \(ids)")
        let firstTokens = instances.map { ((try? String(contentsOf: $0.log, encoding: .utf8)) ?? "").contains("the first admin token") }
        #expect(firstTokens.filter { $0 }.count == 1, "one first admin token between the three: \(firstTokens)")

        var csv = "fullName,language,phone,country\n"
        for index in 1...count { csv += "Citizen \(index),\(index % 2 == 0 ? "kk" : "ru"),+7701\(String(format: "%07d", index)),IR\n" }
        let csvFile = instances[0].directory.appendingPathComponent("citizens.csv")
        try Data(csv.utf8).write(to: csvFile)
        let imported = try await HabarProcess.run(["citizens", "import", csvFile.path, "--config", instances[0].config.path])
        #expect(imported.status == 0 && imported.stdout.contains("\"created\" : \(count)"), "\(imported.stderr)")
        func token(_ role: String, _ name: String) async throws -> String {
            try await HabarProcess.run(["token", "create", "--role", role, "--name", name, "--config", instances[1].config.path]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // Drafted on A, approved on B.
        let (created, draft) = try await HabarProcess.post(URL(string: "\(instances[0].base)/v1/advisories")!, token: try await token("operator", "duty officer"), json: HabarProcess.broadcastAdvisory)
        #expect(created == 201, "\(draft)")
        let (approved, outcome) = try await HabarProcess.post(
            URL(string: "\(instances[1].base)/v1/advisories/\(draft["id"] ?? 0)/approve")!, token: try await token("approver", "head of shift"), json: "{}")
        #expect(approved == 200 && outcome["queued"] as? Int == count, "\(outcome)")

        // Kill C once a quarter is out and C is sending.
        let deadline = Date().addingTimeInterval(180)
        while instances.map({ lineCount($0.stubFile) }).reduce(0, +) < count / 4 || lineCount(instances[2].stubFile) == 0 {
            guard Date() < deadline else {
                Issue.record("the broadcast did not start on every instance: \(instances.map { lineCount($0.stubFile) })")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        // ... at a moment C holds claims (it claims a batch, sends it, claims the next). C is
        // frozen (SIGSTOP) while its claims are counted, and killed frozen if it holds some:
        // asked while it runs, the answer could be stale by the kill (C records its sends as
        // they complete), and a kill between two batches tests no take-over.
        func claimedByC() async throws -> Int {
            Int(try await peer.psql(
                "SELECT count(*) FROM deliveries WHERE state = 'sending' AND lease_owner = '\(ids[2])'", database: database
            ).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let claimDeadline = Date().addingTimeInterval(20)
        var held = 0
        while Date() < claimDeadline {
            kill(servers[2].processIdentifier, SIGSTOP)
            held = try await claimedByC()
            if held > 0 { break }
            kill(servers[2].processIdentifier, SIGCONT)
            try await Task.sleep(for: .milliseconds(Int.random(in: 5...40)))
        }
        kill(servers[2].processIdentifier, SIGKILL)
        await HabarProcess.waitForExit(servers[2])
        let sentByC = lineCount(instances[2].stubFile)
        let claimedByC = try await claimedByC()
        #expect(held > 0 && claimedByC == held, "C was killed holding claims (\(held) when frozen, \(claimedByC) after the kill)")
        let killedAt = Date()

        // A and B take C's claims over and finish the sending.
        var tookOverAfter: Double?
        let finishBy = Date().addingTimeInterval(300)
        while Date() < finishBy {
            let left = try await peer.psql(
                "SELECT count(*) FROM deliveries WHERE state IN ('queued', 'retrying', 'sending')", database: database
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            let held = try await peer.psql("SELECT count(*) FROM deliveries WHERE lease_owner = '\(ids[2])'", database: database)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if tookOverAfter == nil, held == "0" { tookOverAfter = Date().timeIntervalSince(killedAt) }
            if left == "0" { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        // C's restart (a new process, a new instance id) gives the delivery reports its stub owed.
        servers[2] = try HabarProcess.start(["serve", "--config", instances[2].config.path], log: instances[2].log)
        try await HabarProcess.waitForHealth(URL(string: "\(instances[2].base)/health")!, timeout: 60)
        var states: [String: Int] = [:]
        while Date() < finishBy {
            states = [:]
            for line in try await peer.psql("SELECT state || '=' || count(*) FROM deliveries GROUP BY state", database: database).split(separator: "\n") {
                let parts = line.split(separator: "=")
                if parts.count == 2 { states[String(parts[0])] = Int(parts[1]) }
            }
            if states.keys.allSatisfy({ DeliveryState(rawValue: $0)?.isFinal == true }) { break }
            try await Task.sleep(for: .milliseconds(250))
        }

        // The broadcast's sends (before the reply below, which is answered by SMS too).
        var keys: [String] = []
        for instance in instances {
            keys += try String(contentsOf: instance.stubFile, encoding: .utf8).split(separator: "\n").map { line -> String in
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return object?["idempotencyKey"] as? String ?? ""
            }
        }
        let unique = Set(keys)
        let duplicates = keys.count - unique.count

        // An answer taken by A is what B shows at once.
        let (_, beforeAnswer) = try await getJSON("\(instances[1].base)/v1/citizens?limit=1", token: try await token("viewer", "desk"))
        let citizen = ((beforeAnswer["items"] as? [[String: Any]])?.first?["id"] as? NSNumber)?.int64Value ?? 0
        var reply = URLRequest(url: URL(string: "\(instances[0].base)/inbound/sms/sms?key=drill-key-0123456789&from=%2B77010000001&text=%D0%B0%D0%BC%D0%B0%D0%BD%D0%BC%D1%8B%D0%BD")!)
        reply.httpMethod = "POST"
        let (_, replied) = try await URLSession.shared.data(for: reply)
        #expect((replied as? HTTPURLResponse)?.statusCode == 200)
        var seenOnB = ""
        let answerBy = Date().addingTimeInterval(5)
        while Date() < answerBy {
            let (_, read) = try await getJSON("\(instances[1].base)/v1/citizens/\(citizen)", token: try await token("viewer", "desk 2"))
            seenOnB = read["checkinStatus"] as? String ?? ""
            if seenOnB == "safe" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(seenOnB == "safe", "the reply taken by A (\"аманмын\") shows on B")

        for server in servers { kill(server.processIdentifier, SIGTERM) }
        for server in servers { await HabarProcess.waitForExit(server) }
        // The two that lived stopped gracefully, their pools (a service that stops last) closed.
        for (server, instance) in zip(servers, instances).prefix(2) {
            let log = (try? String(contentsOf: instance.log, encoding: .utf8)) ?? ""
            #expect(server.terminationStatus == 0 && log.contains("postgres pool closed"), "graceful stop of \(instance.log.lastPathComponent)")
        }
        let audit = try await HabarProcess.run(["audit", "verify", "--config", instances[0].config.path])
        #expect(audit.status == 0 && audit.stdout.contains("intact"), "one audit chain across the instances: \(audit.stdout)\(audit.stderr)")

        let final = states.values.reduce(0, +)
        print("""
            multi-instance test: \(count) deliveries over 3 instances (sent \(instances.map { lineCount($0.stubFile) }) per instance); \
            C killed after \(sentByC) sends with \(claimedByC) claimed and unrecorded (concurrency \(Self.concurrency)); its claims taken over after \
            \(tookOverAfter.map { String(format: "%.1f", $0) } ?? "?") s (lease 5 s); final states \(states); \(duplicates) duplicate sends
            """)
        #expect(unique.count == count, "every citizen got the message: none lost")
        #expect(final == count && states.keys.allSatisfy { DeliveryState(rawValue: $0)?.isFinal == true }, "\(states)")
        #expect(duplicates <= min(max(claimedByC, 0), Self.concurrency), "sent twice at most the sends C had in flight (its concurrency)")
        #expect((tookOverAfter ?? 99) <= 5 + 5, "C's claims taken over within lease + 5 s")
    }

    func getJSON(_ url: String, token: String) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: URL(string: url)!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }

    func lineCount(_ url: URL) -> Int {
        guard let data = FileManager.default.contents(atPath: url.path) else { return 0 }
        return data.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
    }
}
