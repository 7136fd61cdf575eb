import AsyncHTTPClient
import Foundation
import HabarApp
import HabarConsole
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// The console's figures on a live server: the dashboard's server render time with
/// `citizens` citizens and `advisories` advisories in force (each to one of as many
/// countries, delivered through the stub), its page weight with the CSS and script, and how
/// long a delivery report takes to reach an open dashboard's event stream.
func consoleBenchmark(citizens count: Int, advisories: Int, port: Int) async throws {
    var configuration = HabarConfiguration()
    configuration.dataDir = try Fixtures.temporaryDirectory("bench-console").path
    configuration.messagesDir = Fixtures.messagesDirectory.path
    configuration.http.port = port
    configuration.logLevel = "warning"
    configuration.channels = [ChannelConfiguration(name: "sms", type: "sms-stub", options: .object(["dlrDelayMilliseconds": .number(50)]))]
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let gateway = try await Gateway.make(configuration: configuration, logger: logger)
    let codes = ["IR", "TR", "AE", "GE", "AM", "AZ", "RU", "UZ", "KG", "TJ", "CN", "IN", "TH", "EG", "IL", "SA", "QA", "DE", "FR", "GB",
                 "IT", "ES", "JP", "KR", "MY", "ID", "VN", "JO", "LB", "OM"]
    let countries = Array(codes.prefix(max(1, min(advisories, codes.count))))
    var batch: [NewCitizen] = []
    for index in 1...count {
        batch.append(Fixtures.citizen(index, language: [.kazakh, .russian, .english][index % 3], country: countries[index % countries.count]))
        if batch.count == 50_000 { _ = try await gateway.store.upsertCitizens(batch); batch.removeAll(keepingCapacity: true) }
    }
    if !batch.isEmpty { _ = try await gateway.store.upsertCitizens(batch) }
    for country in countries {
        let draft = try await gateway.publisher.draft(Fixtures.advisory(country: country, expiresAt: Date().addingTimeInterval(86400)), now: Date())
        _ = try await gateway.publisher.publish(id: draft.id, approver: "bench", now: Date())
    }
    let accounts = ConsoleAccounts(store: gateway.store, throttle: SignInThrottle(), settings: .init(bcryptCost: 4, failureDelay: 0))
    let (_, password) = try await accounts.create(name: "bench", role: .viewer, at: Date())
    let cookie = try await accounts.signIn(name: "bench", password: password, totp: nil, address: "bench", at: Date()).cookie

    let ready = AsyncStream<Void>.makeStream()
    let app = buildApplication(gateway: gateway, modules: [ConsoleModule()]) { _ in ready.continuation.yield() }
    let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
    let server = Task { try await group.run() }
    for await _ in ready.stream { break }
    let base = "http://127.0.0.1:\(port)"
    // Every delivery reported, so the page shows its final figures.
    while try await gateway.store.deliveryCounts(advisoryId: nil).contains(where: { !$0.state.isFinal }) { try await Task.sleep(for: .milliseconds(250)) }

    let client = HTTPClient(eventLoopGroupProvider: .singleton)
    func get(_ path: String) async throws -> (ms: Double, bytes: Int, text: String) {
        var request = HTTPClientRequest(url: base + path)
        request.headers.add(name: "Cookie", value: "habar_session=\(cookie)")
        let started = ContinuousClock.now
        let response = try await client.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 10 << 20)
        return (seconds(ContinuousClock.now - started) * 1000, body.readableBytes, String(buffer: body))
    }
    _ = try await get("/console/")
    var times: [Double] = []
    var page = (ms: 0.0, bytes: 0, text: "")
    for _ in 0..<20 { page = try await get("/console/"); times.append(page.ms) }
    // Renders a second and more apart: the dashboards' shared figures are read afresh each time.
    var cold: [Double] = []
    for _ in 0..<5 {
        try await Task.sleep(for: .milliseconds(1100))
        cold.append(try await get("/console/").ms)
    }
    let css = try await get("/console/static/console.css"), script = try await get("/console/static/console.js")
    let shown = page.text.components(separatedBy: "class=\"card advisory").count - 1
    print(String(format: "console: dashboard with %d citizens and %d advisories in force (%d shown, %d deliveries): median %.1f ms, p95 %.1f ms over 20 renders (loopback HTTP, server side)",
                 count, advisories, shown, count, median(times), times.sorted()[Int(Double(times.count) * 0.95) - 1]))
    print(String(format: "console: dashboard rendered a second or more after the last (its figures read afresh): median %.1f ms, max %.1f ms over %d renders",
                 median(cold), cold.max() ?? 0, cold.count))
    print(String(format: "console: page weight %.1f KB (HTML %.1f KB, CSS %.1f KB, script %.1f KB; nothing else loaded)",
                 Double(page.bytes + css.bytes + script.bytes) / 1024, Double(page.bytes) / 1024, Double(css.bytes) / 1024, Double(script.bytes) / 1024))

    // A delivery report to an open dashboard: the stream's event that first shows it.
    var request = HTTPClientRequest(url: base + "/console/events")
    request.headers.add(name: "Cookie", value: "habar_session=\(cookie)")
    let stream = try await client.execute(request, timeout: .seconds(120))
    var latencies: [Double] = []
    let citizen = try await gateway.store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Bench", phone: PhoneNumber("+77099999999"), country: "US"))
    var iterator = stream.body.makeAsyncIterator()
    var buffer = ""
    for round in 0..<5 {
        let draft = try await gateway.publisher.draft(Fixtures.advisory(country: "US", expiresAt: Date().addingTimeInterval(86400)), now: Date())
        _ = try await gateway.publisher.publish(id: draft.id, approver: "bench", now: Date())
        // When the store has the report (polled every 5 ms) …
        var reportedAt: ContinuousClock.Instant?
        let watcher = Task {
            while true {
                if try await gateway.store.deliveryCounts(advisoryId: draft.id).contains(where: { $0.state == .delivered }) { return ContinuousClock.now }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        // … and when the stream first carries it.
        var shownAt: ContinuousClock.Instant?
        while shownAt == nil, let chunk = try await iterator.next() {
            buffer += String(buffer: chunk)
            while let end = buffer.range(of: "\n\n") {
                let event = String(buffer[..<end.lowerBound])
                buffer = String(buffer[end.upperBound...])
                guard event.hasPrefix("event: progress"), let json = event.split(separator: "\n").last?.dropFirst(6),
                    let items = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]],
                    let item = items.first(where: { ($0["id"] as? NSNumber)?.int64Value == draft.id }),
                    ((item["channels"] as? [[String: Any]])?.first?["delivered"] as? Int ?? 0) > 0
                else { continue }
                shownAt = ContinuousClock.now
            }
        }
        reportedAt = try await watcher.value
        if let reportedAt, let shownAt { latencies.append(seconds(shownAt - reportedAt) * 1000) }
        _ = round
        _ = citizen
    }
    print(String(format: "console: delivery report → open dashboard's event stream: median %.0f ms, max %.0f ms over %d reports (the stream reads every 1 s)",
                 median(latencies), latencies.max() ?? 0, latencies.count))
    try await client.shutdown()
    await group.triggerGracefulShutdown()
    _ = try? await server.value
}
