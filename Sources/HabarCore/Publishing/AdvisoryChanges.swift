import Synchronization

/// Tells whoever keeps a copy of an advisory (the check-in pages' cache) that it changed:
/// the publisher calls `changed` after every publication, scheduling, correction and
/// cancellation it commits, so no front end has to know which of its actions should drop a
/// cache. (Several instances on one database will feed this from the database too.)
public final class AdvisoryChanges: Sendable {
    private let observers = Mutex<[@Sendable (Int64) -> Void]>([])

    public init() {}

    /// `observer` is called with the advisory's id after each change, on the changing task.
    public func observe(_ observer: @escaping @Sendable (Int64) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    public func changed(_ id: Int64) {
        for observer in observers.withLock({ $0 }) { observer(id) }
    }
}
