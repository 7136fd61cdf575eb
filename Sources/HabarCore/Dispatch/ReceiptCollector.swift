import Foundation
import Logging

/// Gathers delivery receipts from every channel and stores them in batches. `accept`
/// returns only after its receipt is committed, so a provider (or the SMS stub) is
/// acknowledged only for what survives a crash.
public actor ReceiptCollector: DeliveryReceiptSink {
    private struct Waiting {
        var receipts: [DeliveryReceipt]
        var continuation: CheckedContinuation<Void, any Error>
    }

    public struct Closed: Error {}

    private let store: any HabarStore
    private let logger: Logger
    private let maxBatch: Int
    private var waiting: [Waiting] = []
    private var closed = false
    private var wakeUp: CheckedContinuation<Void, Never>?

    public init(store: any HabarStore, logger: Logger, maxBatch: Int = 1000) {
        self.store = store
        self.logger = logger
        self.maxBatch = maxBatch
    }

    public func accept(_ receipts: [DeliveryReceipt]) async throws {
        if closed { throw Closed() }
        if receipts.isEmpty { return }
        try await withCheckedThrowingContinuation { continuation in
            waiting.append(Waiting(receipts: receipts, continuation: continuation))
            if let wakeUp {
                self.wakeUp = nil
                wakeUp.resume()
            }
        }
    }

    /// Writes receipts until cancelled, then writes what is left and refuses more.
    public func run(now: @Sendable () -> Date) async {
        while !Task.isCancelled {
            if waiting.isEmpty {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { self.wakeUp = $0 }
                } onCancel: {
                    Task { await self.cancelWait() }
                }
                continue
            }
            await flush(now: now())
        }
        closed = true
        while !waiting.isEmpty { await flush(now: now()) }
    }

    private func cancelWait() {
        if let wakeUp {
            self.wakeUp = nil
            wakeUp.resume()
        }
    }

    private func flush(now: Date) async {
        var count = 0
        let taken = waiting.prefix { item in
            defer { count += item.receipts.count }
            return count == 0 || count + item.receipts.count <= maxBatch
        }
        let batch = Array(taken)
        waiting.removeFirst(batch.count)
        do {
            try await store.applyReceipts(batch.flatMap(\.receipts), now: now)
            for item in batch { item.continuation.resume() }
        } catch {
            logger.error("storing delivery receipts failed", metadata: ["error": "\(error)", "count": "\(batch.count)"])
            for item in batch { item.continuation.resume(throwing: error) }
        }
    }
}
