import Synchronization

/// The deliveries one dispatcher loop has claimed and not yet handed to a sender, claimed
/// ahead: the loop claims its next batch once half a batch is left, so its senders keep
/// sending through the claim's round trips instead of idling from a batch's last send to the
/// next claim. It holds at most a batch and a half. (Topping it up to a batch instead took
/// twice the claims, each with its fixed cost: 780 claims for 200,000 deliveries instead of
/// 400, and more CPU on both stores.)
///
/// What a crash can send twice is unchanged by it: a claimed delivery not yet sent is not sent
/// by the crashed instance, and its lease is taken over; only the sends in flight are
/// unrecorded, and their number is the senders'.
///
/// It also keeps the outcomes whose record failed (the database away) until the loop's next
/// claim records them; while any wait, senders keep their outcomes here instead of trying.
final class ClaimFeed: Sendable {
    private struct State {
        var waiting: [ClaimedDelivery] = []
        var head = 0
        var senders: [CheckedContinuation<ClaimedDelivery?, Never>] = []
        var claimer: CheckedContinuation<Void, Never>?
        var closed = false
        var unrecorded: [DeliveryOutcome] = []

        var count: Int { waiting.count - head }

        /// The next delivery, and the claimer to wake when taking it left half a batch or less.
        mutating func pop(refillAt: Int) -> (ClaimedDelivery, CheckedContinuation<Void, Never>?) {
            let delivery = waiting[head]
            head += 1
            if head == waiting.count {
                waiting.removeAll(keepingCapacity: true)
                head = 0
            }
            guard count <= refillAt, let claimer else { return (delivery, nil) }
            self.claimer = nil
            return (delivery, claimer)
        }
    }

    private let state = Mutex(State())
    /// How many deliveries each claim takes.
    let batch: Int
    private var refillAt: Int { batch / 2 }

    init(batch: Int) { self.batch = max(1, batch) }

    var isClosed: Bool { state.withLock(\.closed) }

    /// Whether no claimed delivery waits for a sender.
    var isEmpty: Bool { state.withLock { $0.count == 0 } }

    /// The next claimed delivery, waiting while none is left and the loop still claims; nil
    /// once the feed is closed and empty.
    func next() async -> ClaimedDelivery? {
        // Most takes find one waiting: no suspension for them.
        let ready: (ClaimedDelivery, CheckedContinuation<Void, Never>?)? = state.withLock { state in
            state.count > 0 ? state.pop(refillAt: refillAt) : nil
        }
        if let ready {
            ready.1?.resume()
            return ready.0
        }
        return await withCheckedContinuation { continuation in
            let ready: (ClaimedDelivery?, CheckedContinuation<Void, Never>?)? = state.withLock { state in
                if state.count > 0 { return state.pop(refillAt: refillAt) }
                if state.closed { return (nil, nil) }
                state.senders.append(continuation)
                return nil
            }
            guard let ready else { return }
            ready.1?.resume()
            continuation.resume(returning: ready.0)
        }
    }

    /// Returns once half a batch or less is left (time to claim), or the feed is closed.
    func wantMore() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                if state.closed || state.count <= refillAt { return true }
                state.claimer = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// A claimed batch, handed first to the senders waiting for one.
    func add(_ claimed: [ClaimedDelivery]) {
        guard !claimed.isEmpty else { return }
        let handed = state.withLock { state in
            if state.head > 0 {
                state.waiting.removeFirst(state.head)
                state.head = 0
            }
            state.waiting += claimed
            var handed: [(CheckedContinuation<ClaimedDelivery?, Never>, ClaimedDelivery)] = []
            while state.count > 0, !state.senders.isEmpty {
                let sender = state.senders.removeFirst()
                let (delivery, _) = state.pop(refillAt: -1)
                handed.append((sender, delivery))
            }
            return handed
        }
        for (sender, delivery) in handed { sender.resume(returning: delivery) }
    }

    /// No more claims: senders take what is left, then stop.
    func close() {
        let (senders, claimer) = state.withLock { state in
            state.closed = true
            defer {
                state.senders = []
                state.claimer = nil
            }
            return (state.senders, state.claimer)
        }
        for sender in senders { sender.resume(returning: nil) }
        claimer?.resume()
    }

    /// Whether outcomes wait for the next claim to record them (the last record failed).
    var recordingFails: Bool { state.withLock { !$0.unrecorded.isEmpty } }

    func keepUnrecorded(_ outcomes: [DeliveryOutcome]) {
        guard !outcomes.isEmpty else { return }
        state.withLock { $0.unrecorded += outcomes }
    }

    func takeUnrecorded() -> [DeliveryOutcome] {
        state.withLock { state in
            defer { state.unrecorded = [] }
            return state.unrecorded
        }
    }
}
