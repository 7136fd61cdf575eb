import AsyncHTTPClient
import ChannelHTTP
import ChannelKannel
import ChannelSMTP
import ChannelWebhook
import Foundation
import HabarCore
import HabarMessages
import HabarTesting
import Hummingbird
import Logging
import Synchronization

// Each channel adapter against its local peer: messages per second and the latency of one
// send (p50/p99), with the comparison the channels issue asks for.

/// Sends `count` messages through `send` with `concurrency` in flight; returns the elapsed
/// seconds and each send's latency in milliseconds.
func drive(_ count: Int, concurrency: Int, _ send: @escaping @Sendable (Int) async throws -> Void) async throws -> (seconds: Double, latencies: [Double]) {
    final class Counter: Sendable { let value = Mutex(0) }
    let next = Counter()
    let started = ContinuousClock.now
    let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                var mine: [Double] = []
                while true {
                    let index = next.value.withLock { value -> Int? in
                        guard value < count else { return nil }
                        value += 1
                        return value - 1
                    }
                    guard let index else { return mine }
                    let begun = ContinuousClock.now
                    try await send(index)
                    mine.append(seconds(ContinuousClock.now - begun) * 1000)
                }
            }
        }
        var all: [Double] = []
        for try await part in group { all += part }
        return all
    }
    return (seconds(ContinuousClock.now - started), latencies)
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

func report(_ label: String, _ count: Int, _ result: (seconds: Double, latencies: [Double])) -> Double {
    let rate = Double(count) / result.seconds
    print(String(format: "  %@: %d in %.2f s = %.0f messages/s; p50 %.2f ms, p99 %.2f ms",
                 label, count, result.seconds, rate, percentile(result.latencies, 0.5), percentile(result.latencies, 0.99)))
    return rate
}

func outbound(_ index: Int, to address: Address, kind: MessageKind, text: String, subject: String? = nil, html: String? = nil) -> OutboundMessage {
    OutboundMessage(
        deliveryId: Int64(index), step: 0, idempotencyKey: "bench-\(index)-0", address: address,
        message: RenderedMessage(language: .kazakh, kind: kind, subject: subject, text: text, html: html),
        advisoryId: 1, advisoryVersion: 1, severity: .severe, expiresAt: Date().addingTimeInterval(3600),
        kind: .greenCorridor, paramsJSON: #"{"route":"Тегеран — Астара"}"#, messageType: .alert)
}

let benchText = "ҚР СІМ: Тегеран — Астара жасыл дәлізі ашық: 12 наурыз 11:00 – 21:30. Жиналу: Посольство РК. Тел. +98 21 0000 0000"

func context(_ name: String) throws -> ChannelContext {
    ChannelContext(logger: Logger(label: name), receipts: DiscardingReceiptSink(), dataDirectory: try Fixtures.temporaryDirectory(name))
}

/// Webhooks: the adapter (signing every request) against a local Hummingbird sink, then the
/// same sink driven by apprise's `json://` plugin for 1,000 notifications.
func webhookBenchmark(_ count: Int) async throws {
    print("webhook: adapter → local HTTP sink (Hummingbird, 204 per POST), Standard Webhooks signature per request")
    let received = Mutex(0)
    let router = Router()
    router.post("/hook") { _, _ -> HTTPResponse.Status in
        received.withLock { $0 += 1 }
        return .noContent
    }
    let port = Fixtures.freePort()
    let sink = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: Logger(label: "sink"))
    let server = Task { try await sink.runService(gracefulShutdownSignals: []) }
    defer { server.cancel() }
    try await Task.sleep(for: .milliseconds(300))
    let adapter = try WebhookFactory().makeAdapter(
        configuration: ChannelConfiguration(name: "partners", type: "webhook"), keyPath: "channels[0].options", context: try context("webhook"))
    let secret = WebhookSecret.generate().text
    let url = "http://127.0.0.1:\(port)/hook"
    _ = try await drive(200, concurrency: 8) { index in _ = try await adapter.send(outbound(index, to: .webhook(url: url, secret: secret), kind: .webhook, text: benchText, subject: "Жасыл дәліз")) }
    let concurrent = report("habar, 32 in flight (the dispatcher's default)", count, try await drive(count, concurrency: 32) { index in
        _ = try await adapter.send(outbound(index, to: .webhook(url: url, secret: secret), kind: .webhook, text: benchText, subject: "Жасыл дәліз"))
    })
    let serial = report("habar, one at a time", 2000, try await drive(2000, concurrency: 1) { index in
        _ = try await adapter.send(outbound(index, to: .webhook(url: url, secret: secret), kind: .webhook, text: benchText, subject: "Жасыл дәліз"))
    })
    let script = """
        import time, apprise
        a = apprise.Apprise()
        a.add("json://127.0.0.1:\(port)/hook")
        a.notify(body="warm-up", title="warm-up")
        started = time.perf_counter()
        for i in range(1000):
            assert a.notify(body=\(String(reflecting: benchText)) + str(i), title="Жасыл дәліз")
        print(time.perf_counter() - started)
        """
    let result = try await ExternalProcess.run("python3", ["-c", script], timeout: 600)
    guard result.status == 0, let elapsed = Double(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        print("  apprise: did not run (python3 -m pip install apprise): \(result.stderr.suffix(300))")
        return
    }
    let apprise = 1000 / elapsed
    print(String(format: "  apprise json://: 1000 in %.2f s = %.0f notifications/s (one at a time, as its API sends)", elapsed, apprise))
    print(String(format: "  ratio: habar %.1f× apprise (concurrent), %.1f× one at a time; the sink took %d requests",
                 concurrent / apprise, serial / apprise, received.withLock { $0 }))
}

/// Kannel: the adapter against a real bearerbox + smsbox + fakesmsc, against a plain loop of
/// sendsms requests to the same smsbox over the same HTTP client, same concurrency.
func kannelBenchmark(_ count: Int) async throws {
    guard KannelPeer.isInstalled else {
        print("kannel: skipped (apt-get install kannel kannel-extras)")
        return
    }
    print("kannel: adapter → smsbox sendsms → bearerbox → fakesmsc (UCS-2, 2 segments each, no DLR), 8 in flight")
    let kannel = try await KannelPeer.start()
    defer { kannel.stop() }
    let adapter = try KannelFactory().makeAdapter(
        configuration: ChannelConfiguration(name: "sms", type: "kannel", options: try JSONValue(encoding: KannelConfiguration(
            sendsmsURL: kannel.sendsmsURL, username: "habar", password: kannel.password, from: "1444"))),
        keyPath: "channels[0].options", context: try context("kannel"))
    @Sendable func phone(_ index: Int) -> PhoneNumber { PhoneNumber(storedE164: "+7701\(String(format: "%07d", index % 10_000_000))") }
    _ = try await drive(200, concurrency: 8) { index in _ = try await adapter.send(outbound(index, to: .phone(phone(index)), kind: .sms, text: benchText)) }
    let habar = report("habar kannel adapter", count, try await drive(count, concurrency: 8) { index in
        _ = try await adapter.send(outbound(index, to: .phone(phone(index)), kind: .sms, text: benchText))
    })
    let plain = report("plain sendsms loop", count, try await drive(count, concurrency: 8) { index in
        let query = ProviderHTTP.formEncode([
            ("username", "habar"), ("password", kannel.password), ("from", "1444"), ("to", phone(index).e164),
            ("text", benchText), ("charset", "UTF-8"), ("coding", "2"),
        ])
        let answer = try await ProviderHTTP.execute(
            HTTPClientRequest(url: kannel.sendsmsURL + "?" + query), timeoutMilliseconds: 10_000, responseLimit: 4096, logger: Logger(label: "plain"))
        guard answer.status == 202 else { throw KannelPeerError(description: answer.summary) }
    })
    print(String(format: "  ratio: habar / plain sendsms = %.2f", habar / plain))
}

/// SMTP: the adapter against aiosmtpd with STARTTLS and AUTH (a Python server: its own
/// speed bounds the figure), a pool of 4 sessions, 8 sends in flight.
func smtpBenchmark(_ count: Int) async throws {
    guard try await SMTPServer.isInstalled() else {
        print("smtp: skipped (python3 -m pip install aiosmtpd)")
        return
    }
    print("smtp: adapter → aiosmtpd (STARTTLS, AUTH PLAIN, multipart text + HTML), pool of 4, 8 in flight")
    let server = try await SMTPServer.start()
    defer { server.stop() }
    let adapter = try SMTPFactory().makeAdapter(
        configuration: ChannelConfiguration(name: "email", type: "smtp", options: try JSONValue(encoding: SMTPConfiguration(
            host: "127.0.0.1", port: server.port, username: server.user, password: server.password, fromAddress: "alerts@mfa.habar.test",
            fromName: "ҚР СІМ", caFile: server.certificate.cert.path, poolSize: 4))),
        keyPath: "channels[0].options", context: try context("smtp"))
    let html = "<p>" + benchText + "</p>"
    _ = report("habar smtp adapter", count, try await drive(count, concurrency: 8) { index in
        _ = try await adapter.send(outbound(index, to: .email("person\(index)@citizen.test"), kind: .email, text: benchText, subject: "Жасыл дәліз ашық", html: html))
    })
}
