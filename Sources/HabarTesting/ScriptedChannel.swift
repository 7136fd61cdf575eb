import Foundation
import HabarCore
import HabarMessages
import Synchronization

/// A channel whose answers a test scripts, for driving the dispatcher through every
/// transition. It records what it was asked to send. (Adapters for real providers are
/// tested against real peers; this one tests the dispatcher.)
public final class ScriptedChannel: ChannelAdapter {
    public enum Answer: Sendable {
        case accept
        case fail(ChannelError)
        /// Waits this long, then accepts.
        case slow(Duration)
    }

    public let name: String
    public let capabilities: ChannelCapabilities
    public var secrets: [String] { [] }
    private let script: Mutex<[Answer]>
    private let fallbackAnswer: Answer
    private let sentMessages = Mutex<[OutboundMessage]>([])

    /// Answers `script` in order, then `otherwise` for every later send.
    public init(name: String, address: AddressKind = .phone, kind: MessageKind = .sms, receipts: Bool = true, script: [Answer] = [], otherwise: Answer = .accept) {
        self.name = name
        self.capabilities = ChannelCapabilities(messageKind: kind, addressKind: address, deliveryReceipts: receipts)
        self.script = Mutex(script)
        self.fallbackAnswer = otherwise
    }

    public var sent: [OutboundMessage] { sentMessages.withLock { $0 } }

    public func send(_ message: OutboundMessage) async throws(ChannelError) -> SendReceipt {
        let answer = script.withLock { $0.isEmpty ? fallbackAnswer : $0.removeFirst() }
        sentMessages.withLock { $0.append(message) }
        switch answer {
        case .accept: return SendReceipt(providerMessageId: "p-\(message.idempotencyKey)")
        case .fail(let error): throw error
        case .slow(let duration):
            do { try await Task.sleep(for: duration) } catch { throw .transient("cancelled") }
            return SendReceipt(providerMessageId: "p-\(message.idempotencyKey)")
        }
    }
}

/// A receipt sink that stores nothing; for tests that build adapters without a dispatcher.
public struct DiscardingReceiptSink: DeliveryReceiptSink {
    public init() {}
    public func accept(_ receipts: [DeliveryReceipt]) async throws {}
}

/// A clock tests move by hand.
public final class TestClock: Sendable {
    private let current: Mutex<Date>
    public init(_ start: Date = Date(timeIntervalSince1970: 1_773_300_000)) { current = Mutex(start) }
    public var now: Date { current.withLock { $0 } }
    public func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
    public var function: @Sendable () -> Date { { self.now } }
}
