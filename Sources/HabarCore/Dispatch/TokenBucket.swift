import Foundation
import Synchronization

/// A token-bucket rate limit: `rate` tokens a second, at most `burst` saved up. `reserve`
/// takes a token now and says how long to wait before using it, so callers queue fairly.
public final class TokenBucket: Sendable {
    private struct State {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    public let rate: Double
    public let burst: Double
    private let state: Mutex<State>

    public init(rate: Double, burst: Double? = nil) {
        precondition(rate > 0, "rate must be positive")
        self.rate = rate
        self.burst = max(1, burst ?? rate)
        self.state = Mutex(State(tokens: max(1, burst ?? rate), updated: .now))
    }

    /// Takes one token; the returned wait is zero when one was available.
    public func reserve(now: ContinuousClock.Instant = .now) -> Duration {
        state.withLock { state in
            let elapsed = now - state.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            state.tokens = min(burst, state.tokens + max(0, seconds) * rate)
            state.updated = now
            state.tokens -= 1
            if state.tokens >= 0 { return .zero }
            return .nanoseconds(Int64(-state.tokens / rate * 1e9))
        }
    }

    /// Waits until a token is available.
    public func acquire() async throws {
        let wait = reserve()
        if wait > .zero { try await Task.sleep(for: wait) }
    }
}
