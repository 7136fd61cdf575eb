import Foundation
import Synchronization

/// Pauses a failing channel instance. After `failureThreshold` consecutive transient
/// failures it opens for `openSeconds`; then one probe is let through: success closes it,
/// failure opens it again. Permanent errors (a bad number) say nothing about the provider
/// and do not count.
public final class CircuitBreaker: Sendable {
    public enum Permit: Sendable, Equatable {
        case allowed
        /// The one request that tests an open breaker.
        case probe
        case rejected(until: Date)
    }

    private enum State {
        case closed(failures: Int)
        case open(until: Date)
        case probing
    }

    public let settings: BreakerSettings
    private let state = Mutex<State>(.closed(failures: 0))

    public init(settings: BreakerSettings) {
        self.settings = settings
    }

    public func permit(now: Date) -> Permit {
        state.withLock { state in
            switch state {
            case .closed: return .allowed
            case .open(let until) where now >= until:
                state = .probing
                return .probe
            case .open(let until): return .rejected(until: until)
            case .probing: return .rejected(until: now.addingTimeInterval(min(1, settings.openSeconds)))
            }
        }
    }

    /// When the breaker refuses sends until a later time, that time; nil when a send (or a
    /// probe) may go now. Changes nothing.
    public func pausedUntil(now: Date) -> Date? {
        state.withLock { state in
            if case .open(let until) = state, now < until { return until }
            return nil
        }
    }

    public func recordSuccess() {
        state.withLock { $0 = .closed(failures: 0) }
    }

    /// Counts a transient failure; returns true when this failure opened the breaker.
    @discardableResult
    public func recordFailure(now: Date) -> Bool {
        state.withLock { state in
            switch state {
            case .closed(let failures):
                if failures + 1 >= settings.failureThreshold {
                    state = .open(until: now.addingTimeInterval(settings.openSeconds))
                    return true
                }
                state = .closed(failures: failures + 1)
                return false
            case .probing, .open:
                state = .open(until: now.addingTimeInterval(settings.openSeconds))
                return true
            }
        }
    }

    /// Whether the breaker is currently open (or probing).
    public var isOpen: Bool {
        state.withLock { if case .closed = $0 { return false } else { return true } }
    }
}
