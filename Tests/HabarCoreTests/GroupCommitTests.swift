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

    /// Callers in a closed loop, as the dispatcher's senders: each submits its next item as
    /// soon as its last one is committed. Two waves of eight arrive 50 ms apart (the second
    /// while the first batch is being written); left alone they would take turns as two
    /// cohorts of eight (this test fails so, average 8.0, with gathering switched off). With
    /// gathering the cohorts merge and the batches hold every caller. Writes take 100 ms: a
    /// margin against a busy test machine's scheduling.
    @Test("gathering: closed-loop callers end up in one batch instead of taking turns")
    func gathering() async throws {
        let sizes = Mutex<[Int]>([])
        let commit = GroupCommit<Int, Void>(maxBatch: 100, gathers: true) { batch in
            sizes.withLock { $0.append(batch.count) }
            try await Task.sleep(for: .milliseconds(100))
            return batch.map { _ in () }
        }
        let callers = 16
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<callers {
                group.addTask {
                    if caller >= callers / 2 { try await Task.sleep(for: .milliseconds(50)) }
                    for round in 0..<8 { try await commit.submit(caller * 100 + round) }
                }
            }
            try await group.waitForAll()
        }
        let seen = sizes.withLock { $0 }
        #expect(seen.reduce(0, +) == callers * 8)
        // Past the start (the waves arriving) and before the end (callers leaving): the middle batches.
        let middle = seen.dropFirst(seen.count / 3).dropLast(seen.count / 3)
        let average = Double(middle.reduce(0, +)) / Double(max(1, middle.count))
        #expect(average >= Double(callers) * 0.75, "batches \(seen): the callers still take turns")
    }

    /// What a gathering lane waits for (decided without a clock; the test above shows the
    /// waiting itself): never for a lone item, never past a full batch.
    @Test("gathering never holds back a lone caller, and waits for at most one full batch")
    func gatherTarget() {
        typealias Commit = GroupCommit<Int, Void>
        #expect(Commit.gatherTarget(lastBatch: 0, waiting: 0, maxBatch: 100) == nil, "the first item after a rest waited")
        #expect(Commit.gatherTarget(lastBatch: 1, waiting: 0, maxBatch: 100) == nil, "a lone caller was held back")
        #expect(Commit.gatherTarget(lastBatch: 1, waiting: 5, maxBatch: 100) == nil, "items after a lone one were held back")
        #expect(Commit.gatherTarget(lastBatch: 32, waiting: 0, maxBatch: 100) == 32)
        #expect(Commit.gatherTarget(lastBatch: 32, waiting: 30, maxBatch: 100) == 62, "the other cohort is counted too")
        #expect(Commit.gatherTarget(lastBatch: 80, waiting: 50, maxBatch: 100) == 100, "a lane waited past a full batch")
        #expect(Commit.gatherTarget(lastBatch: 40, waiting: 100, maxBatch: 100) == nil, "a full batch waited")
    }
}
