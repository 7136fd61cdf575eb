import HabarApp
import AsyncHTTPClient
import ChannelHTTP
import NIOHTTP1
import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarStorePostgres
import HabarStoreSQLite
import HabarTesting
import Hummingbird
import Logging
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// Agencies' signed webhooks against a live gateway: a 10,000-tourist manifest, then verified
// tourist.checkin events from a bounded load loop (32 in flight) over keep-alive HTTP.

func agencyBenchmark(tourists count: Int, events: Int, on peer: PostgresPeer? = nil) async throws {
    let port = Fixtures.freePort()
    var configuration = HabarConfiguration()
    configuration.dataDir = try Fixtures.temporaryDirectory("bench-agency").path
    configuration.messagesDir = Fixtures.messagesDirectory.path
    configuration.http.port = port
    let (storage, label) = try await benchStorage(peer)
    configuration.storage = storage
    var logger = Logger(label: "bench")
    logger.logLevel = .notice
    let gateway = try await Gateway.make(configuration: configuration, logger: logger)
    let server = Task { try await buildApplication(gateway: gateway).runService(gracefulShutdownSignals: []) }
    defer { server.cancel() }
    try await Task.sleep(for: .milliseconds(500))
    let secret = WebhookSecret.generate()
    let (_, hash) = AccessToken.generate()
    _ = try await gateway.store.insertAgency(
        Agency(id: "bench", name: "Bench Travel", webhookURL: nil, language: .russian, createdAt: Date()), secret: secret.text,
        token: NewAccessToken(id: .unsaved, name: "agency bench", role: .agency, agencyId: "bench", tokenHash: hash))
    let url = URL(string: "http://127.0.0.1:\(port)/inbound/agencies/bench")!

    // AsyncHTTPClient with pooled keep-alive connections, as a partner's sender would be.
    @Sendable func send(_ body: Data, id: String) async throws -> Int {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        for (name, value) in StandardWebhooks.headers(id: id, timestamp: Date(), body: body, secrets: [secret]) {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(body)
        return try await ProviderHTTP.execute(request, timeoutMilliseconds: 60_000, responseLimit: 65_536, logger: Logger(label: "bench")).status
    }

    let tourists = (1...count).map { index in
        "{\"id\":\"T-\(index)\",\"fullName\":\"Турист \(index)\",\"phone\":\"+7702\(String(format: "%07d", index))\",\"language\":\"\(index % 2 == 0 ? "kk" : "ru")\"}"
    }
    let manifest = Data(("{\"type\":\"manifest.upsert\",\"data\":{\"group\":{\"id\":\"G-1\",\"name\":\"Анталья\",\"destination\":{\"country\":\"TR\",\"city\":\"Antalya\"}},\"tourists\":["
        + tourists.joined(separator: ",") + "]}}").utf8)
    let started = ContinuousClock.now
    let status = try await send(manifest, id: "manifest-1")
    print(String(format: "agency\(label): a %d-tourist manifest (%.1f MB), verified, validated and applied in one transaction: HTTP %d in %.2f s",
                 count, Double(manifest.count) / 1_000_000, status, seconds(ContinuousClock.now - started)))

    // A rejected manifest of the same size: every tourist's problems found, nothing applied.
    let broken = Data(String(decoding: manifest, as: UTF8.self).replacingOccurrences(of: "\"phone\":\"+77020000", with: "\"phone\":\"0000").utf8)
    let refusedStarted = ContinuousClock.now
    let refused = try await send(broken, id: "manifest-2")
    print(String(format: "agency\(label): the same manifest with %d bad phones, refused with every pointer: HTTP %d in %.2f s",
                 min(count, 9999), refused, seconds(ContinuousClock.now - refusedStarted)))

    // Verified tourist.checkin webhooks from wrk (C, 2 threads, 32 connections) over keep-alive
    // HTTP: each request a new webhook-id signed beforehand, each applied and stored before its 200.
    guard ExternalProcess.exists("/usr/bin/wrk") else {
        print("agency\(label): webhook load skipped (needs wrk from Debian)")
        return
    }
    let directory = try Fixtures.temporaryDirectory("bench-agency-wrk")
    let now = Date()
    for thread in 1...2 {
        var lines = ""
        lines.reserveCapacity(events * 90)
        for index in stride(from: thread - 1, to: events, by: 2) {
            let id = "evt_\(index)"
            let body = "{\"type\":\"tourist.checkin\",\"data\":{\"touristId\":\"T-\(index % count + 1)\",\"status\":\"\(index % 10 == 0 ? "need_help" : "safe")\"}}"
            let headers = StandardWebhooks.headers(id: id, timestamp: now, body: Data(body.utf8), secrets: [secret])
            lines += "\(id)\t\(headers["webhook-timestamp"] ?? "")\t\(headers["webhook-signature"] ?? "")\t\(body)\n"
        }
        try Data(lines.utf8).write(to: directory.appendingPathComponent("events-\(thread).tsv"))
    }
    let script = """
        local events = {}
        local n = 0
        local threads = 0
        setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
        init = function(args)
          for line in io.lines("\(directory.path)/events-" .. tid .. ".tsv") do
            local id, ts, sig, body = line:match("([^\\t]+)\\t([^\\t]+)\\t([^\\t]+)\\t(.+)")
            events[#events + 1] = wrk.format("POST", "/inbound/agencies/bench",
              {["Content-Type"] = "application/json", ["webhook-id"] = id, ["webhook-timestamp"] = ts, ["webhook-signature"] = sig}, body)
          end
        end
        request = function()
          n = n + 1
          return events[((n - 1) % #events) + 1]
        end
        """
    let seconds = max(3, min(10, events / 12_000))
    // How fast this machine is right now: the same server's cheapest route under the same load.
    let (health, _) = try await runWrk("request = function() return wrk.format(\"GET\", \"/health\") end", url: "http://127.0.0.1:\(port)", seconds: 5)
    if let health {
        print(String(format: "agency\(label): reference — GET /health through the same server and middleware: %.0f req/s, p50 %@, p99 %@", health.requestsPerSecond, health.p50, health.p99))
    }
    let (figures, output) = try await runWrk(script, url: "http://127.0.0.1:\(port)", seconds: seconds)
    guard let figures else { print("  wrk failed: \(output)"); return }
    var applied = 0
    if let store = gateway.store as? SQLiteStore { applied = try await store.agencyEventCount(agencyId: "bench") }
    if let store = gateway.store as? PostgresStore { applied = try await store.agencyEventCount(agencyId: "bench") }
    print(String(format: "agency\(label): verified tourist.checkin webhooks (wrk -t2 -c32, %d s; each a new webhook-id, verified, applied, stored): %.0f req/s, p50 %@, p99 %@; %d applied (of %d signed)%@",
                 seconds, figures.requestsPerSecond, figures.p50, figures.p99, applied - 1, events, figures.errors.isEmpty ? "" : " — \(figures.errors)"))
}
