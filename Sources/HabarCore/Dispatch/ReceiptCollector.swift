import Foundation
import Logging
import Synchronization

/// Gathers delivery receipts from every channel and stores them by group commit (many
/// channels' reports in one transaction). `accept` returns only after its receipts are
/// committed, so a provider (or the SMS stub) is acknowledged only for what survives a crash.
/// The dispatcher runs it; once that stops, new receipts are refused (a provider keeps them
/// for the next run) while those already accepted are still written.
public actor ReceiptCollector: DeliveryReceiptSink {
    public struct Closed: Error {}

    /// The dispatcher's clock, set when it starts the collector.
    private final class Clock: Sendable {
        let now = Mutex<@Sendable () -> Date>({ Date() })
    }

    private let commits: GroupCommit<[DeliveryReceipt], Void>
    private let clock = Clock()
    private var closed = false

    /// - Parameters:
    ///   - maxBatch: receipt lists (one per `accept`) written in one transaction at most.
    ///   - writers: transactions written at once (`OpenedStore.outcomeWriters`).
    public init(store: any DispatchStore, logger: Logger, maxBatch: Int = 64, writers: Int = 1) {
        let clock = self.clock
        commits = GroupCommit(maxBatch: maxBatch, lanes: writers) { lists in
            do {
                try await store.applyReceipts(lists.flatMap { $0 }, now: clock.now.withLock { $0 }())
            } catch {
                logger.error("storing delivery receipts failed", metadata: ["error": "\(error)", "count": "\(lists.count)"])
                throw error
            }
            return lists.map { _ in () }
        }
    }

    public func accept(_ receipts: [DeliveryReceipt]) async throws {
        if closed { throw Closed() }
        if receipts.isEmpty { return }
        try await commits.submit(receipts)
    }

    /// Takes receipts until cancelled, then refuses more.
    public func run(now: @escaping @Sendable () -> Date) async {
        clock.now.withLock { $0 = now }
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
        closed = true
    }
}
