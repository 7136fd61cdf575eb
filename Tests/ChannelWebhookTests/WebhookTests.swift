import ChannelWebhook
import Foundation
import HabarCore
import HabarMessages
import HabarTesting
import Logging
import Synchronization
import Testing

/// The Python receiver (`Fixtures/receiver.py`) on a free port of 127.0.0.1.
final class Receiver: Sendable {
    let port: Int
    let log: URL
    let secret: WebhookSecret
    private let process: Process

    /// Starts a receiver, or nil (a loud skip locally, a failure under CI) without Python's
    /// `standardwebhooks`.
    static func start(secret: WebhookSecret = .generate()) async throws -> Receiver? {
        guard try await ExternalProcess.run("python3", ["-c", "import standardwebhooks"], timeout: 60).status == 0 else {
            if ExternalProcess.underCI {
                Issue.record("python3 with standardwebhooks is missing (Tests/run-all.sh installs it)")
            } else {
                print("⚠️  SKIPPED: webhook tests need python3 -m pip install standardwebhooks")
            }
            return nil
        }
        // A free port can be taken by someone else before the receiver binds it: try another.
        for attempt in 1...5 {
            do { return try await Receiver(secret: secret) } catch where attempt < 5 { continue }
        }
        return nil
    }

    private init(secret: WebhookSecret) async throws {
        self.secret = secret
        port = Fixtures.freePort()
        log = try Fixtures.temporaryDirectory("receiver").appendingPathComponent("received.jsonl")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/receiver.py")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, String(port), log.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["WEBHOOK_SECRET": secret.text]) { $1 }
        let out = Pipe()
        process.standardOutput = out
        // Its own file, not the test's: an inherited stderr would keep `swift test` waiting.
        FileManager.default.createFile(atPath: log.path + ".stderr", contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log.path + ".stderr"))
        try process.run()
        let ready = await DedicatedThread.run { String(decoding: ExternalProcess.read(out.fileHandleForReading, until: "ready"), as: UTF8.self).contains("ready") }
        if !ready { throw ConformanceFailure("receiver", "the receiver did not start") }
    }

    /// Stops the receiver (tests call it with `defer`; deinit is the backstop).
    func stop() {
        kill(process.processIdentifier, SIGKILL)
    }

    deinit { stop() }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// What /ok received, one JSON object per request.
    func received() -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: log.path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

func webhookAdapter(_ options: WebhookConfiguration = WebhookConfiguration(timeoutMilliseconds: 2_000), logger: Logger = Logger(label: "t")) throws -> any ChannelAdapter {
    try WebhookFactory().makeAdapter(
        configuration: ChannelConfiguration(name: "partners", type: "webhook", options: try JSONValue(encoding: options)),
        keyPath: "channels[0].options",
        context: ChannelContext(logger: logger, receipts: DiscardingReceiptSink(), dataDirectory: try Fixtures.temporaryDirectory("webhook")))
}

func webhookMessage(_ key: String, to url: String, secret: String) -> OutboundMessage {
    OutboundMessage(
        deliveryId: 7, step: 0, idempotencyKey: key, address: .webhook(url: url, secret: secret),
        message: RenderedMessage(language: .kazakh, kind: .webhook, subject: "Тегеран — Астара жасыл дәлізі ашылды", text: "Өткізу пункті: Астара. Консул: +98 21 2256 5933."),
        advisoryId: 3, advisoryVersion: 2, severity: .severe, expiresAt: Date(timeIntervalSince1970: 1_900_000_000),
        kind: .greenCorridor, paramsJSON: #"{"route":"Тегеран — Астара","borderCrossing":"Астара"}"#, messageType: .update)
}

/// The conformance suite against the real receiver.
struct WebhookHarness: ChannelConformanceHarness {
    let receiver: Receiver
    let timeout: Duration = .milliseconds(300)
    /// The receiver path the next messages go to (set by the scenario).
    final class Target: Sendable { let path = Mutex("/ok") }
    let target = Target()

    func makeAdapter(_ scenario: ConformanceScenario, logger: Logger) async throws -> any ChannelAdapter {
        target.path.withLock { $0 = ["success": "/ok", "permanent": "/bad", "transient": "/fail", "unresponsive": "/hang"][scenario.name]! }
        return try webhookAdapter(WebhookConfiguration(timeoutMilliseconds: 300), logger: logger)
    }

    func message(key: String) -> OutboundMessage {
        webhookMessage(key, to: receiver.url(target.path.withLock { $0 }), secret: receiver.secret.text)
    }

    func received() async throws -> [String] {
        receiver.received().map { String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
    }
}

@Suite("webhook channel against a real receiver", .serialized)
struct WebhookTests {
    @Test("passes the channel conformance suite", arguments: ChannelConformance.cases)
    func conformance(_ name: String) async throws {
        guard let receiver = try await Receiver.start() else { return }
        defer { receiver.stop() }
        try await ChannelConformance(harness: WebhookHarness(receiver: receiver)).run(name)
    }

    @Test("the reference library verifies every request; webhook-id is the idempotency key, the same on a retry; the payload is API.md's")
    func signedPayload() async throws {
        guard let receiver = try await Receiver.start() else { return }
        defer { receiver.stop() }
        let adapter = try webhookAdapter()
        let old = WebhookSecret.generate()
        // Rotation: the subscriber's secret list carries the new and the old secret.
        let message = webhookMessage("inst-7-0", to: receiver.url("/ok"), secret: "\(receiver.secret.text) \(old.text)")
        _ = try await adapter.send(message)
        _ = try await adapter.send(message)
        let received = receiver.received()
        #expect(received.count == 2)
        #expect(received.allSatisfy { $0["verified"] as? Bool == true }, "\(received)")
        #expect(received.map { $0["id"] as? String } == ["inst-7-0", "inst-7-0"])
        #expect(received.first?["signatures"] as? Int == 2)
        let body = try #require(received.first?["body"] as? [String: Any])
        #expect(body["type"] as? String == "advisory.updated")
        let data = try #require(body["data"] as? [String: Any])
        #expect(data["advisoryId"] as? Int == 3 && data["kind"] as? String == "green_corridor" && data["severity"] as? String == "severe")
        #expect(data["language"] as? String == "kk" && data["title"] as? String == "Тегеран — Астара жасыл дәлізі ашылды")
        #expect((data["params"] as? [String: String])?["route"] == "Тегеран — Астара")
        #expect(data["expiresAt"] as? String == "2030-03-17T17:46:40Z")
    }

    @Test("receiver answers map to outcomes: 500 and 429 retry (Retry-After honoured), 410 and 400 are permanent, redirects are not followed, a hang times out")
    func answers() async throws {
        guard let receiver = try await Receiver.start() else { return }
        defer { receiver.stop() }
        let adapter = try webhookAdapter(WebhookConfiguration(timeoutMilliseconds: 500))
        func outcome(_ path: String) async -> ChannelError? {
            do throws(ChannelError) {
                _ = try await adapter.send(webhookMessage("k\(path)", to: receiver.url(path), secret: receiver.secret.text))
                return nil
            } catch { return error }
        }
        let failed = await outcome("/fail")
        #expect(failed?.isRetryable == true && failed?.reason.hasPrefix("500") == true)
        let limited = await outcome("/ratelimit")
        #expect(limited?.kind == .transient(retryAfter: .seconds(7)), "\(String(describing: limited))")
        let gone = await outcome("/gone")
        #expect(gone?.isRetryable == false && gone?.reason.contains("unsubscribed") == true)
        #expect(await outcome("/bad")?.isRetryable == false)
        let redirect = await outcome("/redirect")
        #expect(redirect?.isRetryable == false && redirect?.reason.contains("not followed") == true)
        let hang = await timed(expecting: .milliseconds(500)) { await outcome("/hang") }
        #expect(hang.result?.isRetryable == true)
        #expect(hang.within(.seconds(5)), "took \(hang.elapsed), a timer of the configured 500 ms \(hang.control)")
        #expect(await outcome("/big") == nil, "a large answer is read up to the limit and the 200 counts")
        #expect(receiver.received().isEmpty, "the redirect was not followed to /ok")
    }

    @Test("link-local and metadata addresses are refused without a connection unless allowed")
    func ssrf() async throws {
        let adapter = try webhookAdapter(WebhookConfiguration(timeoutMilliseconds: 300))
        for url in ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook", "http://metadata.google.internal/x", "http://[::ffff:169.254.1.1]/"] {
            do throws(ChannelError) {
                _ = try await adapter.send(webhookMessage("k", to: url, secret: WebhookSecret.generate().text))
                Issue.record("\(url) was not refused")
            } catch {
                #expect(!error.isRetryable && error.reason.contains("refused"), "\(url): \(error)")
            }
        }
        let allowed = try webhookAdapter(WebhookConfiguration(timeoutMilliseconds: 300, allowLinkLocal: true))
        do throws(ChannelError) {
            _ = try await allowed.send(webhookMessage("k", to: "http://169.254.0.1:9/", secret: WebhookSecret.generate().text))
        } catch {
            #expect(!error.reason.contains("refused to send"), "allowLinkLocal lets it try: \(error)")
        }
    }

    @Test("bad options name their key path")
    func badOptions() {
        #expect { try webhookAdapter(WebhookConfiguration(timeoutMilliseconds: 5)) } throws: { "\($0)".contains("channels[0].options.timeoutMilliseconds") }
    }
}
