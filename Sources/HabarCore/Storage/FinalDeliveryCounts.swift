import Synchronization

/// The delivery counts of advisories whose deliveries are all final, kept by a store until the
/// advisory gets another delivery: final rows never change state, channel or language, and
/// deliveries are never deleted nor moved to another advisory, so the number of an advisory's
/// rows and their highest id (`Probe`, read from an index alone) tell whether anything was added.
public final class FinalDeliveryCounts: Sendable {
    public struct Probe: Sendable, Equatable {
        public var rows: Int
        public var lastId: Int64
        public init(rows: Int, lastId: Int64) {
            self.rows = rows
            self.lastId = lastId
        }
    }

    private let kept = Mutex<[Int64: (probe: Probe, counts: [DeliveryCount])]>([:])

    public init() {}

    /// The counts kept for `advisoryId` if its rows are still what `probe` says.
    public func counts(advisoryId: Int64, probe: Probe) -> [DeliveryCount]? {
        kept.withLock { kept in kept[advisoryId].flatMap { $0.probe == probe ? $0.counts : nil } }
    }

    /// Whether counts are kept for `advisoryId` (worth a probe before counting afresh).
    public func keeps(advisoryId: Int64) -> Bool {
        kept.withLock { $0[advisoryId] != nil }
    }

    /// Keeps `counts` when every one is final (else forgets the advisory's).
    public func offer(advisoryId: Int64, probe: Probe, counts: [DeliveryCount]) {
        kept.withLock { kept in
            if probe.rows > 0, counts.allSatisfy(\.state.isFinal) {
                kept[advisoryId] = (probe, counts)
            } else {
                kept[advisoryId] = nil
            }
        }
    }
}
