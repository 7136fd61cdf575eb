import HabarApp
import ChannelKannel
import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import Logging

// Check-in link POSTs and incoming SMS against a live gateway (release build), loaded by wrk
// on 127.0.0.1; the gateway's SMS channel is a real Kannel, so the confirmations the SMS
// replies cause are sent while the load runs.

/// wrk's "Requests/sec" and latency percentiles from its `--latency` output.
struct WrkFigures {
    var requestsPerSecond: Double
    var p50: String
    var p99: String
    var errors: String

    init?(_ output: String) {
        func field(after label: String) -> String? {
            output.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }
                .map { $0.trimmingCharacters(in: .whitespaces).dropFirst(label.count).trimmingCharacters(in: .whitespaces) }
        }
        guard let rate = field(after: "Requests/sec:").flatMap(Double.init) else { return nil }
        requestsPerSecond = rate
        p50 = field(after: "50%") ?? "?"
        p99 = field(after: "99%") ?? "?"
        errors = output.split(separator: "\n").filter { $0.contains("Non-2xx") || $0.contains("Socket errors") }.joined(separator: "; ")
    }
}

func runWrk(_ script: String, url: String, seconds: Int) async throws -> (WrkFigures?, String) {
    let file = try Fixtures.temporaryDirectory("wrk").appendingPathComponent("load.lua")
    try Data(script.utf8).write(to: file)
    let result = try await ExternalProcess.run(
        "wrk", ["-t2", "-c32", "-d\(seconds)s", "--latency", "-s", file.path, url], timeout: TimeInterval(seconds + 60))
    return (WrkFigures(result.stdout), result.stdout + result.stderr)
}

/// The gateway's storage for a benchmark: the embedded SQLite default, or a new database on
/// the benchmark's PostgreSQL server; and the label its figures carry.
func benchStorage(_ peer: PostgresPeer?) async throws -> (StorageConfiguration, String) {
    guard let peer else { return (StorageConfiguration(), "") }
    return (StorageConfiguration(kind: "postgres", url: try await peer.createDatabase(prefix: "bench"), poolSize: 20), " (PostgreSQL)")
}

func checkinBenchmark(citizens count: Int, seconds: Int, on peer: PostgresPeer? = nil) async throws {
    guard ExternalProcess.exists("/usr/bin/wrk"), KannelPeer.isInstalled else {
        print("checkin: skipped (needs wrk, kannel and kannel-extras from Debian)")
        return
    }
    let port = Fixtures.freePort()
    let key = "bench-\(UInt32.random(in: 0...UInt32.max))"
    let kannel = try await KannelPeer.start(habarURL: "http://127.0.0.1:\(port)", key: key)
    defer { kannel.stop() }
    var configuration = HabarConfiguration()
    configuration.dataDir = try Fixtures.temporaryDirectory("bench-checkin").path
    configuration.messagesDir = Fixtures.messagesDirectory.path
    configuration.http.port = port
    configuration.logLevel = "warning"
    let (storage, label) = try await benchStorage(peer)
    configuration.storage = storage
    configuration.channels = [ChannelConfiguration(name: "sms", type: "kannel", concurrency: 8, options: try JSONValue(encoding: KannelConfiguration(
        sendsmsURL: kannel.sendsmsURL, username: "habar", password: kannel.password, from: "1444",
        callbackBaseURL: "http://127.0.0.1:\(port)", callbackSecret: key)))]
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let gateway = try await Gateway.make(configuration: configuration, logger: logger)
    let application = buildApplication(gateway: gateway)
    let server = Task { try await application.runService(gracefulShutdownSignals: []) }
    defer { server.cancel() }
    try await Task.sleep(for: .milliseconds(500))

    var batch: [NewCitizen] = []
    for index in 1...count { batch.append(Fixtures.citizen(index, language: index % 2 == 0 ? .kazakh : .russian)) }
    _ = try await gateway.store.upsertCitizens(batch)
    let draft = try await gateway.publisher.draft(Fixtures.checkinRequest(), now: Date())
    _ = try await gateway.publisher.publish(id: draft.id, approver: "bench", now: Date())
    print("checkin\(label): \(count) citizens asked through a real Kannel; waiting for the requests to be sent and reported delivered…")
    while try await gateway.store.deliveryCounts(advisoryId: draft.id).filter({ [.queued, .retrying, .sending, .sent].contains($0.state) })
        .reduce(0, { $0 + $1.count }) > 0
    {
        try await Task.sleep(for: .milliseconds(500))
    }
    var tokens: [String] = []
    for index in 1...count {
        let id = try await gateway.store.citizenId(phone: Fixtures.citizen(index).phone!.e164)!
        tokens.append(try await gateway.links.token(citizenId: id, advisoryId: draft.id))
    }
    let url = "http://127.0.0.1:\(port)"
    let (health, _) = try await runWrk("request = function() return wrk.format(\"GET\", \"/health\") end", url: url, seconds: seconds)
    if let health {
        print(String(format: "  reference — GET /health through the same server and middleware: %.0f req/s, p50 %@, p99 %@", health.requestsPerSecond, health.p50, health.p99))
    }
    let get = """
        local tokens = {\(tokens.map { "\"\($0)\"" }.joined(separator: ","))}
        local n = 0
        request = function()
          n = n + 1
          return wrk.format("GET", "/c/" .. tokens[(n % #tokens) + 1])
        end
        """
    let (pages, pageOutput) = try await runWrk(get, url: url, seconds: seconds)
    guard let pages else { print("  wrk failed: \(pageOutput)"); return }
    print(String(format: "  GET /c/{token} (the page): %.0f req/s, p50 %@, p99 %@ %@", pages.requestsPerSecond, pages.p50, pages.p99, pages.errors))
    let post = """
        local tokens = {\(tokens.map { "\"\($0)\"" }.joined(separator: ","))}
        local n = 0
        request = function()
          n = n + 1
          local status = (n % 10 == 0) and "need_help" or "safe"
          return wrk.format("POST", "/c/" .. tokens[(n % #tokens) + 1], {["Content-Type"] = "application/x-www-form-urlencoded"}, "status=" .. status .. "&note=bench")
        end
        """
    let (posts, postOutput) = try await runWrk(post, url: url, seconds: seconds)
    guard let posts else { print("  wrk failed: \(postOutput)"); return }
    print(String(format: "  POST /c/{token} (1 in 10 need_help, each a recorded answer): %.0f req/s, p50 %@, p99 %@ %@",
                 posts.requestsPerSecond, posts.p50, posts.p99, posts.errors))

    let phones = (1...min(count, 5000)).map { Fixtures.citizen($0).phone!.e164.replacingOccurrences(of: "+", with: "%2B") }
    let inbound = """
        local phones = {\(phones.map { "\"\($0)\"" }.joined(separator: ","))}
        local texts = {"1", "%D0%B0%D0%BC%D0%B0%D0%BD", "2", "%D0%B3%D0%B4%D0%B5+%D0%B0%D0%B2%D1%82%D0%BE%D0%B1%D1%83%D1%81%3F"}
        local n = 0
        local thread_id = 0
        local threads = 0
        setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
        init = function(args) thread_id = tid end
        request = function()
          n = n + 1
          local path = "/inbound/sms/sms?key=\(key)&to=1444&from=" .. phones[(n % #phones) + 1] .. "&text=" .. texts[(n % #texts) + 1] .. "&time=1795617860&id=b" .. thread_id .. "-" .. n
          return wrk.format("GET", path)
        end
        """
    let (sms, smsOutput) = try await runWrk(inbound, url: url, seconds: seconds)
    guard let sms else { print("  wrk failed: \(smsOutput)"); return }
    print(String(format: "  GET /inbound/sms/{channel} (Kannel's get-url; each stored once, then parsed and confirmed): %.0f req/s, p50 %@, p99 %@ %@",
                 sms.requestsPerSecond, sms.p50, sms.p99, sms.errors))
    // The check-in processor reads what was stored, queues the confirmations (which Kannel is
    // sent meanwhile): how long until every reply is read?
    let started = ContinuousClock.now
    let backlog = try await gateway.store.unprocessedInboundSMS(limit: 10_000_000).count
    var left = backlog
    while left > 0, ContinuousClock.now - started < .seconds(300) {
        try await Task.sleep(for: .milliseconds(500))
        left = try await gateway.store.unprocessedInboundSMS(limit: 10_000_000).count
    }
    let elapsed = (ContinuousClock.now - started).components
    let drained = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    print(String(format: "  after the load: %d replies still unread, read and confirmed in %.1f s more (%.0f replies/s while confirmations go out through Kannel)%@",
                 backlog, drained, Double(backlog - left) / max(drained, 0.001), left > 0 ? " — \(left) left after 300 s" : ""))
}
