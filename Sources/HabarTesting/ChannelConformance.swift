import Foundation
import HabarCore
import HabarMessages
import Logging
import Synchronization

/// The behaviour every channel adapter must show, whatever its provider. Each adapter's
/// tests supply a `ChannelConformanceHarness` that can put its real peer into each
/// situation; the suite drives the adapter and checks the results. A failed check throws
/// `ConformanceFailure` naming the case.
public struct ChannelConformance {
    public let harness: any ChannelConformanceHarness

    public init(harness: any ChannelConformanceHarness) { self.harness = harness }

    /// The cases, by name; run each as its own test.
    public static let cases = ["success", "permanent error", "transient error", "timeout", "secret redaction", "idempotency key"]

    public func run(_ name: String) async throws {
        switch name {
        case "success": try await success()
        case "permanent error": try await error(.permanentFailure, retryable: false)
        case "transient error": try await error(.transientFailure, retryable: true)
        case "timeout": try await timeout()
        case "secret redaction": try await redaction()
        case "idempotency key": try await idempotencyKey()
        default: throw ConformanceFailure(name, "no such case")
        }
    }

    func success() async throws {
        let logs = LogCapture()
        let adapter = try await harness.makeAdapter(.success, logger: logs.logger)
        let message = harness.message(key: "conf-1-1-0")
        let receipt = try await sendExpectingSuccess(adapter, message)
        let seen = try await harness.received()
        guard seen.contains(where: { $0.contains(message.message.text) || $0.contains(message.idempotencyKey) }) else {
            throw ConformanceFailure("success", "the peer did not receive the message; it saw \(seen.count) item(s)")
        }
        _ = receipt
    }

    func error(_ scenario: ConformanceScenario, retryable: Bool) async throws {
        let logs = LogCapture()
        let adapter = try await harness.makeAdapter(scenario, logger: logs.logger)
        let name = retryable ? "transient error" : "permanent error"
        switch await attempt(adapter, harness.message(key: "conf-2-1-0")) {
        case .success(let receipt):
            throw ConformanceFailure(name, "send succeeded (\(receipt)) where the peer was set to fail")
        case .failure(let error):
            guard error.isRetryable == retryable else {
                throw ConformanceFailure(name, "expected a \(retryable ? "transient" : "permanent") error, got \(error)")
            }
            guard !error.reason.isEmpty else { throw ConformanceFailure(name, "the error has no reason") }
        }
    }

    func timeout() async throws {
        let logs = LogCapture()
        let adapter = try await harness.makeAdapter(.unresponsive, logger: logs.logger)
        let message = harness.message(key: "conf-3-1-0")
        // Compared with a timer of the configured length (`timed`): what this catches is an
        // adapter that waits for a peer that never answers (its own default or forever)
        // instead of its configured timeout; it comes back long after the timer.
        let timeout = harness.timeout
        let attempt = await timed(expecting: timeout) { await self.attempt(adapter, message) }
        switch attempt.result {
        case .success:
            throw ConformanceFailure("timeout", "send succeeded against an unresponsive peer")
        case .failure(let error):
            guard error.isRetryable else { throw ConformanceFailure("timeout", "a timeout must be transient, got \(error)") }
            guard attempt.within(timeout * 2 + .seconds(3)) else {
                throw ConformanceFailure(
                    "timeout",
                    "took \(attempt.elapsed), the configured timeout is \(timeout) (a timer of that length took \(attempt.control))")
            }
        }
    }

    func redaction() async throws {
        let logs = LogCapture()
        let adapter = try await harness.makeAdapter(.success, logger: logs.logger)
        let message = harness.message(key: "conf-4-1-0")
        // The channel's configured secrets, and those a message carries (a subscriber's signing secret).
        var secrets = adapter.secrets
        if case .webhook(_, let secret) = message.address { secrets.append(secret) }
        guard !secrets.isEmpty else {
            throw ConformanceFailure("secret redaction", "the harness configured no secret to look for")
        }
        _ = try? await adapter.send(message)
        let failing = try await harness.makeAdapter(.permanentFailure, logger: logs.logger)
        var reasons: [String] = []
        do { _ = try await failing.send(harness.message(key: "conf-4-2-0")) } catch { reasons.append(error.reason) }
        let text = logs.text + reasons.joined(separator: "\n")
        guard !logs.text.isEmpty else { throw ConformanceFailure("secret redaction", "the adapter logged nothing at debug level") }
        for secret in secrets where text.contains(secret) {
            throw ConformanceFailure("secret redaction", "a secret appears in the logs or errors")
        }
    }

    func idempotencyKey() async throws {
        let logs = LogCapture()
        let adapter = try await harness.makeAdapter(.success, logger: logs.logger)
        let message = harness.message(key: "conf-5-7-1")
        _ = try await sendExpectingSuccess(adapter, message)
        let seen = try await harness.received()
        guard seen.contains(where: { $0.contains("conf-5-7-1") }) else {
            throw ConformanceFailure("idempotency key", "the peer never saw the idempotency key conf-5-7-1")
        }
    }

    private func attempt(_ adapter: any ChannelAdapter, _ message: OutboundMessage) async -> Result<SendReceipt, ChannelError> {
        do throws(ChannelError) { return .success(try await adapter.send(message)) } catch { return .failure(error) }
    }

    private func sendExpectingSuccess(_ adapter: any ChannelAdapter, _ message: OutboundMessage) async throws -> SendReceipt {
        do { return try await adapter.send(message) } catch {
            throw ConformanceFailure("success", "send failed: \(error)")
        }
    }
}

/// A situation the harness puts its peer in before the adapter is built.
public enum ConformanceScenario: Sendable {
    case success
    case permanentFailure
    case transientFailure
    /// The peer accepts the connection (or the call) and never answers.
    case unresponsive

    /// A short name, for harnesses that look up their peer's setting per scenario.
    public var name: String {
        switch self {
        case .success: "success"
        case .permanentFailure: "permanent"
        case .transientFailure: "transient"
        case .unresponsive: "unresponsive"
        }
    }
}

/// What each adapter's tests provide to the conformance suite.
public protocol ChannelConformanceHarness: Sendable {
    /// The timeout the harness configures the adapter with.
    var timeout: Duration { get }
    /// An adapter configured against the peer set up for `scenario`, logging to `logger`
    /// at debug level, with at least one secret in its configuration.
    func makeAdapter(_ scenario: ConformanceScenario, logger: Logger) async throws -> any ChannelAdapter
    /// A message the adapter's channel can carry, with this idempotency key.
    func message(key: String) -> OutboundMessage
    /// Everything the peer has received so far, as text (one item per message).
    func received() async throws -> [String]
}

public struct ConformanceFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ name: String, _ detail: String) { description = "conformance '\(name)': \(detail)" }
}

/// Captures log output as text, for checks on what was logged.
public final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    public var text: String { lines.withLock { $0.joined(separator: "\n") } }

    public var logger: Logger {
        var logger = Logger(label: "capture") { _ in CaptureHandler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    struct CaptureHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append("\(event.level) \(event.message) \(all.map { "\($0)=\($1)" }.sorted().joined(separator: " "))")
        }
    }
}
