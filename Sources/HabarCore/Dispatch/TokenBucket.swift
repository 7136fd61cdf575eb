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

/// What paces a channel's sends: a bucket of this process (`TokenBucket`), or one the
/// instances sharing a database draw from together (`SharedTokenBucket`).
public protocol RateLimiter: Sendable {
    /// Sends per second at most.
    var rate: Double { get }
    /// Waits until one send may go.
    func acquire() async throws
}

extension TokenBucket: RateLimiter {}

/// A store that keeps token buckets the instances on it share (PostgreSQL).
public protocol RateLimitStore: Sendable {
    /// Takes up to `want` tokens from the bucket `name` (refilled at `rate` per second up to
    /// `burst` since it was last drawn, created full), at `now`; returns how many it got.
    /// Two instances drawing at once never get more than the bucket holds.
    func takeTokens(bucket name: String, want: Int, rate: Double, burst: Double, now: Date) async throws -> Int
}

/// A channel's rate limit held for the whole cluster: every instance draws its tokens from
/// one bucket in the database, a tenth of a second's worth at a time, so all of them
/// together send at most `rate` per second (after a first burst of one second's worth).
public actor SharedTokenBucket: RateLimiter {
    public nonisolated let rate: Double
    private let name: String
    private let store: any RateLimitStore
    private let chunk: Int
    private var tokens = 0

    public init(name: String, rate: Double, store: any RateLimitStore) {
        self.name = name
        self.rate = rate
        self.store = store
        chunk = max(1, Int(rate / 10))
    }

    public func acquire() async throws {
        while tokens == 0 {
            let got = try await store.takeTokens(bucket: name, want: chunk, rate: rate, burst: rate, now: Date())
            tokens += got
            if got == 0 { try await Task.sleep(for: .seconds(Double(chunk) / rate)) }
        }
        tokens -= 1
    }
}
