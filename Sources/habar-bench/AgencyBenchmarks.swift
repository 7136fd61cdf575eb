import AsyncHTTPClient
import ChannelHTTP
import NIOHTTP1
import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import Logging
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// Agencies' signed webhooks against a live gateway: a 10,000-tourist manifest, then verified
// tourist.checkin events from a bounded load loop (32 in flight) over keep-alive HTTP.

func agencyBenchmark(tourists count: Int, events: Int) async throws {
    let port = Fixtures.freePort()
    var configuration = HabarConfiguration()
    configuration.dataDir = try Fixtures.temporaryDirectory("bench-agency").path
    configuration.messagesDir = Fixtures.repositoryRoot.appendingPathComponent("messages").path
    configuration.http.port = port
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let gateway = try Gateway.make(configuration: configuration, logger: logger)
    let server = Task { try await buildApplication(gateway: gateway).runService(gracefulShutdownSignals: []) }
    defer { server.cancel() }
    try await Task.sleep(for: .milliseconds(500))
    let secret = WebhookSecret.generate()
    let (_, hash) = AccessToken.generate()
    _ = try await gateway.store.insertAgency(
        Agency(id: "bench", name: "Bench Travel", webhookURL: nil, language: .russian, createdAt: Date()), secret: secret.text,
        token: AccessToken(name: "agency bench", role: .agency, agencyId: "bench", tokenHash: hash))
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
    print(String(format: "agency: a %d-tourist manifest (%.1f MB), verified, validated and applied in one transaction: HTTP %d in %.2f s",
                 count, Double(manifest.count) / 1_000_000, status, seconds(ContinuousClock.now - started)))

    let result = try await drive(events, concurrency: 32) { index in
        let body = Data("{\"type\":\"tourist.checkin\",\"data\":{\"touristId\":\"T-\(index % count + 1)\",\"status\":\"safe\"}}".utf8)
        let code = try await send(body, id: "evt-\(index)")
        guard code == 200 else { throw KannelPeerError(description: "HTTP \(code)") }
    }
    _ = report("verified tourist.checkin webhooks (AsyncHTTPClient, 32 in flight)", events, result)
}
