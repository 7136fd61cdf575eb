/// Many callers' writes in one transaction ("group commit"): items that arrive while a batch
/// is being written wait for the next batch, so under load each transaction carries many of
/// them and at rest each goes alone, at once. Every caller resumes when its own item is
/// committed (or with the batch's error), so an answer is never acknowledged before it is
/// stored. With `lanes` above 1, up to that many batches are written at once (a server
/// database, whose transactions wait on round trips, not on one writer); items of
/// batches in flight together may commit in either order.
///
/// `gathers`: for callers in a closed loop, each submitting its next item soon after its last
/// one is committed (the dispatcher's senders). Without it the callers split into two cohorts
/// that take turns — the batch just committed resumes its callers while the next batch, the
/// other half, is already being written — so each caller waits for two writes per item. With
/// it, a lane that has just committed a batch of several items first waits for the callers it
/// resumed to come back (until as many items wait as were in that batch and the next one
/// together), but never longer than that batch's write took: the cohorts merge into one
/// batch, and a caller waits for about one write. A lone item is never held back. With more
/// than one lane, batches already overlap and `gathers` is ignored.
public actor GroupCommit<Item: Sendable, Output: Sendable> {
    public typealias Write = @Sendable ([Item]) async throws -> [Output]

    private let write: Write
    private let maxBatch: Int
    private let lanes: Int
    private let gathers: Bool
    private var waiting: [(item: Item, continuation: CheckedContinuation<Output, any Error>)] = []
    private var draining = 0
    /// A lane gathering: resumed when `until` items wait (or by its deadline).
    private var gathering: (until: Int, token: Int, continuation: CheckedContinuation<Void, Never>)?
    private var gatherTokens = 0
    /// The last batch's size and how long its write took (gathering).
    private var recent = (count: 0, took: Duration.zero)

    /// - Parameter write: writes a batch in one transaction and returns one output per item, in order.
    public init(maxBatch: Int = 500, lanes: Int = 1, gathers: Bool = false, write: @escaping Write) {
        self.maxBatch = maxBatch
        self.lanes = max(1, lanes)
        self.gathers = gathers
        self.write = write
    }

    public func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            waiting.append((item, continuation))
            if let gathering, waiting.count >= gathering.until { endGathering(token: gathering.token) }
            if draining < lanes {
                draining += 1
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while true {
            // Gathering: the callers the last batch resumed come back (they may all be away
            // now, sending: the lane waits for them rather than ending).
            if gathers, lanes == 1, let target = Self.gatherTarget(lastBatch: recent.count, waiting: waiting.count, maxBatch: maxBatch) {
                await gather(until: target, atMost: recent.took)
            }
            if waiting.isEmpty { break }
            let batch = Array(waiting.prefix(maxBatch))
            waiting.removeFirst(batch.count)
            let started = ContinuousClock.now
            do {
                let outputs = try await write(batch.map(\.item))
                precondition(outputs.count == batch.count, "a group commit's write returns one output per item")
                recent = (batch.count, ContinuousClock.now - started)
                for (entry, output) in zip(batch, outputs) { entry.continuation.resume(returning: output) }
            } catch {
                recent = (0, .zero)
                for entry in batch { entry.continuation.resume(throwing: error) }
            }
        }
        recent = (0, .zero)  // none came back in time: the next item, whenever it comes, goes at once
        draining -= 1
    }

    /// How many items a gathering lane waits for before its next batch, or nil to write at
    /// once: after a batch of several (`lastBatch`), the callers it resumed plus the items
    /// already `waiting`, at most `maxBatch`; nil after a lone item or when that many wait.
    public static func gatherTarget(lastBatch: Int, waiting: Int, maxBatch: Int) -> Int? {
        guard lastBatch > 1 else { return nil }
        let target = min(maxBatch, lastBatch + waiting)
        return waiting < target ? target : nil
    }

    /// Waits until `count` items wait or `deadline` has passed, whichever comes first.
    private func gather(until count: Int, atMost deadline: Duration) async {
        gatherTokens += 1
        let token = gatherTokens
        await withCheckedContinuation { continuation in
            gathering = (count, token, continuation)
            Task {
                try? await Task.sleep(for: deadline)
                await self.endGathering(token: token)
            }
        }
    }

    private func endGathering(token: Int) {
        guard let current = gathering, current.token == token else { return }
        gathering = nil
        current.continuation.resume()
    }
}
