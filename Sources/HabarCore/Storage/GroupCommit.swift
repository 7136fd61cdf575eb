/// Many callers' writes in one transaction ("group commit"): items that arrive while a batch
/// is being written wait for the next batch, so under load each transaction carries many of
/// them and at rest each goes alone, at once. Every caller resumes when its own item is
/// committed (or with the batch's error), so an answer is never acknowledged before it is
/// stored. With `lanes` above 1, up to that many batches are written at once (a server
/// database, whose transactions wait on round trips, not on one writer); items of
/// batches in flight together may commit in either order.
public actor GroupCommit<Item: Sendable, Output: Sendable> {
    public typealias Write = @Sendable ([Item]) async throws -> [Output]

    private let write: Write
    private let maxBatch: Int
    private let lanes: Int
    private var waiting: [(item: Item, continuation: CheckedContinuation<Output, any Error>)] = []
    private var draining = 0

    /// - Parameter write: writes a batch in one transaction and returns one output per item, in order.
    public init(maxBatch: Int = 500, lanes: Int = 1, write: @escaping Write) {
        self.maxBatch = maxBatch
        self.lanes = max(1, lanes)
        self.write = write
    }

    public func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            waiting.append((item, continuation))
            if draining < lanes {
                draining += 1
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !waiting.isEmpty {
            let batch = Array(waiting.prefix(maxBatch))
            waiting.removeFirst(batch.count)
            do {
                let outputs = try await write(batch.map(\.item))
                precondition(outputs.count == batch.count, "a group commit's write returns one output per item")
                for (entry, output) in zip(batch, outputs) { entry.continuation.resume(returning: output) }
            } catch {
                for entry in batch { entry.continuation.resume(throwing: error) }
            }
        }
        draining -= 1
    }
}
