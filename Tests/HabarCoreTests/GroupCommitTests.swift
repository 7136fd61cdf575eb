import HabarCore
import Synchronization
import Testing

/// Group commit: every caller gets its own item's output once its batch is written; with
/// `lanes`, no more than that many batches are written at once, and under load they are.
@Suite("Group commit")
struct GroupCommitTests {
    /// Counts the writes in flight and the most seen at once.
    final class Probe: Sendable {
        let state = Mutex((now: 0, most: 0, batches: 0))
        func enter() { state.withLock { $0.now += 1; $0.most = max($0.most, $0.now); $0.batches += 1 } }
        func leave() { state.withLock { $0.now -= 1 } }
    }

    @Test("each caller gets its own output; at most `lanes` batches in flight", arguments: [1, 3])
    func lanes(_ lanes: Int) async throws {
        let probe = Probe()
        let commit = GroupCommit<Int, Int>(maxBatch: 10, lanes: lanes) { batch in
            probe.enter()
            defer { probe.leave() }
            try await Task.sleep(for: .milliseconds(20))
            return batch.map { $0 * 2 }
        }
        let outputs = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for item in 0..<200 { group.addTask { (item, try await commit.submit(item)) } }
            var seen: [Int: Int] = [:]
            for try await (item, output) in group { seen[item] = output }
            return seen
        }
        #expect(outputs.count == 200)
        #expect(outputs.allSatisfy { $0.value == $0.key * 2 }, "a caller got another item's output")
        let (most, batches) = probe.state.withLock { ($0.most, $0.batches) }
        #expect(most <= lanes, "\(most) batches in flight with \(lanes) lanes")
        #expect(batches >= 20, "\(batches) batches for 200 items at 10 a batch")
        if lanes > 1 { #expect(most > 1, "200 waiting items never had two batches in flight with \(lanes) lanes") }
    }
}
