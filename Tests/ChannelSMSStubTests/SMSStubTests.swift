@testable import ChannelSMSStub
import Foundation
import HabarCore
import HabarMessages
import HabarTesting
import Logging
import Synchronization
import Testing

/// The stub's peer is its own files: the harness reads what the simulated provider got.
struct SMSStubHarness: ChannelConformanceHarness {
    let directory: URL
    let timeout: Duration = .milliseconds(300)
    static let phone = "+77010000001"
    static let secret = "stub-account-secret-4711"

    func makeAdapter(_ scenario: ConformanceScenario, logger: Logger) async throws -> any ChannelAdapter {
        var options = SMSStubConfiguration(file: directory.appendingPathComponent("stub.jsonl").path, accountToken: Self.secret)
        switch scenario {
        case .success: break
        case .permanentFailure: options.rejectNumbers = [Self.phone]
        case .transientFailure: options.unavailableNumbers = [Self.phone]
        case .unresponsive:
            options.latencyMilliseconds = 60_000
            options.timeoutMilliseconds = 300
        }
        let configuration = ChannelConfiguration(name: "sms", type: "sms-stub", options: try JSONValue(encoding: options))
        return try SMSStubFactory().makeAdapter(
            configuration: configuration, keyPath: "channels[0].options",
            context: ChannelContext(logger: logger, receipts: DiscardingReceiptSink(), dataDirectory: directory))
    }

    func message(key: String) -> OutboundMessage {
        OutboundMessage(
            deliveryId: 1, step: 0, idempotencyKey: key, address: .phone(PhoneNumber(Self.phone)!),
            message: RenderedMessage(language: .russian, kind: .sms, text: "Проверка связи"), advisoryId: 1, advisoryVersion: 1,
            severity: .severe, expiresAt: Date().addingTimeInterval(3600))
    }

    func received() async throws -> [String] {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent("stub.jsonl").path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}

@Suite("sms-stub passes the channel conformance suite")
struct SMSStubConformanceTests {
    @Test(arguments: ChannelConformance.cases)
    func conformance(_ name: String) async throws {
        try await ChannelConformance(harness: SMSStubHarness(directory: try Fixtures.temporaryDirectory("stub"))).run(name)
    }
}

/// Collects receipts in memory.
final class ReceiptBox: DeliveryReceiptSink {
    let receipts = Mutex<[DeliveryReceipt]>([])
    func accept(_ batch: [DeliveryReceipt]) async throws { receipts.withLock { $0.append(contentsOf: batch) } }
    var all: [DeliveryReceipt] { receipts.withLock { $0 } }
}

@Suite("sms-stub behaviour")
struct SMSStubBehaviourTests {
    func adapter(_ directory: URL, _ options: SMSStubConfiguration, sink: ReceiptBox) throws -> any ChannelAdapter {
        try SMSStubFactory().makeAdapter(
            configuration: ChannelConfiguration(name: "sms", type: "sms-stub", options: try JSONValue(encoding: options)),
            keyPath: "channels[0].options", context: ChannelContext(logger: Logger(label: "t"), receipts: sink, dataDirectory: directory))
    }

    func message(_ index: Int, text: String = "Сбор в 14:30") -> OutboundMessage {
        OutboundMessage(
            deliveryId: Int64(index), step: 0, idempotencyKey: "k-\(index)-0", address: .phone(PhoneNumber("+7701555\(String(format: "%04d", index))")!),
            message: RenderedMessage(language: .russian, kind: .sms, text: text), advisoryId: 1, advisoryVersion: 1,
            severity: .severe, expiresAt: Date().addingTimeInterval(3600))
    }

    @Test("each message is one JSON line with key, recipient, encoding and segments")
    func fileFormat() async throws {
        let directory = try Fixtures.temporaryDirectory("stub")
        let stub = try adapter(directory, SMSStubConfiguration(), sink: ReceiptBox())
        _ = try await stub.send(message(1, text: String(repeating: "ж", count: 71)))
        _ = try await stub.send(message(2, text: "Gate \"{A}\"\n\\ok\u{1}"))
        let lines = try String(contentsOf: directory.appendingPathComponent("sms-stub.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let first = try decoder.decode(SMSStubAdapter.Line.self, from: Data(lines[0].utf8))
        #expect(first.idempotencyKey == "k-1-0" && first.to == "+77015550001")
        #expect(first.encoding == .ucs2 && first.segments == 2)
        let second = try decoder.decode(SMSStubAdapter.Line.self, from: Data(lines[1].utf8))
        #expect(second.text == "Gate \"{A}\"\n\\ok\u{1}", "the line round-trips through a JSON parser")
        #expect(second.encoding == .ucs2, "a control character is outside GSM 03.38")
    }

    @Test("a line's time is RFC 3339 UTC to the second, zero-padded, like Foundation's ISO 8601")
    func timeText() {
        let dates = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 946_684_799.999), Date(timeIntervalSince1970: 1_773_302_405.5),
                     Date(timeIntervalSince1970: 4_102_444_800), Date(timeIntervalSince1970: 1_709_164_800)]
        #expect(JSONText.time(dates[2]) == "2026-03-12T08:00:05Z")
        for date in dates {
            let whole = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
            #expect(JSONText.time(date) == whole.formatted(.iso8601), "\(date.timeIntervalSince1970)")
        }
    }

    @Test("delivery reports follow after the delay; the seed fixes which fail")
    func reports() async throws {
        let options = SMSStubConfiguration(dlrDelayMilliseconds: 50, failureRate: 0.3, seed: 42)
        var outcomes: [[String]] = []
        for _ in 0..<2 {
            let sink = ReceiptBox()
            let stub = try adapter(try Fixtures.temporaryDirectory("stub"), options, sink: sink)
            let runner = Task { try await stub.run() }
            for index in 1...40 { _ = try await stub.send(message(index)) }
            try await waitUntil { sink.all.count >= 40 }
            try await Task.sleep(for: .milliseconds(100))
            #expect(sink.all.count == 40, "one report per message")
            runner.cancel()
            outcomes.append(sink.all.sorted { $0.deliveryId < $1.deliveryId }.map { "\($0.deliveryId):\($0.status == .delivered)" })
        }
        #expect(outcomes[0] == outcomes[1], "the same seed fails the same messages")
        let failed = outcomes[0].filter { $0.hasSuffix("false") }.count
        #expect((4...20).contains(failed), "about 30% of 40 fail; got \(failed)")
    }

    @Test("reports not yet given when the process stopped are given after a restart")
    func resumeAfterRestart() async throws {
        let directory = try Fixtures.temporaryDirectory("stub")
        let options = SMSStubConfiguration(dlrDelayMilliseconds: 60_000)
        let first = try adapter(directory, options, sink: ReceiptBox())
        for index in 1...5 { _ = try await first.send(message(index)) }
        let sink = ReceiptBox()
        let second = try adapter(directory, SMSStubConfiguration(dlrDelayMilliseconds: 0), sink: sink)
        let runner = Task { try await second.run() }
        try await waitUntil { sink.all.count == 5 }
        runner.cancel()
        #expect(Set(sink.all.map(\.deliveryId)) == [1, 2, 3, 4, 5])
    }

    @Test("bad options are refused with their key path")
    func badOptions() throws {
        let bad: [(JSONValue, String)] = [
            (.object(["failureRate": .number(1.5)]), "channels[0].options.failureRate"),
            (.object(["dlrDelayMilliseconds": .string("soon")]), "channels[0].options.dlrDelayMilliseconds"),
            (.object(["rejectNumbers": .array([.string("8701")])]), "channels[0].options.rejectNumbers[0]"),
        ]
        for (options, keyPath) in bad {
            #expect {
                _ = try SMSStubFactory().makeAdapter(
                    configuration: ChannelConfiguration(name: "sms", type: "sms-stub", options: options), keyPath: "channels[0].options",
                    context: ChannelContext(logger: Logger(label: "t"), receipts: DiscardingReceiptSink(), dataDirectory: URL(fileURLWithPath: "/tmp")))
            } throws: { error in
                (error as? ConfigurationError)?.keyPath == keyPath
            }
        }
    }
}

func waitUntil(timeout: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        if ContinuousClock.now > deadline { throw ConformanceFailure("wait", "condition not met within \(timeout)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
