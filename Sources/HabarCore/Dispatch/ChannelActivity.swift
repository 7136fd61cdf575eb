import Foundation
import Synchronization

/// What one channel did lately, for the console's channel health: sends per second over the
/// last minute and the last error a provider gave. Recorded in groups of outcomes (each sender's,
/// up to 64 or when it runs out of work), not per message.
public final class ChannelActivity: Sendable {
    struct State {
        /// Sends handed to the provider, by whole second (`window` seconds, a ring).
        var perSecond: [Int]
        var second: Int64 = 0
        var lastError: String?
        var lastErrorAt: Date?
    }

    static let window = 60
    private let state = Mutex(State(perSecond: Array(repeating: 0, count: ChannelActivity.window)))

    public init() {}

    /// A group of outcomes at `now`.
    public func record(_ outcomes: [DeliveryOutcome], at now: Date) {
        var sent = 0
        var error: String?
        for outcome in outcomes {
            switch outcome.result {
            case .sent: sent += 1
            case .retry(_, let reason, true), .fallback(_, let reason), .failed(let reason), .addressGone(_, let reason): error = reason
            case .retry, .expired, .released: break
            }
        }
        let second = Int64(now.timeIntervalSince1970.rounded(.down))
        state.withLock { state in
            Self.advance(&state, to: second)
            state.perSecond[Int(second % Int64(Self.window))] += sent
            if let error {
                state.lastError = error
                state.lastErrorAt = now
            }
        }
    }

    static func advance(_ state: inout State, to second: Int64) {
        guard second > state.second else { return }
        let gap = min(Int64(window), second - state.second)
        for step in 1...gap { state.perSecond[Int((state.second + step) % Int64(window))] = 0 }
        state.second = second
    }

    /// Sends per second over the last `seconds` whole seconds before `now` (at most a minute).
    public func rate(overLast seconds: Int = 10, at now: Date) -> Double {
        let current = Int64(now.timeIntervalSince1970.rounded(.down))
        let span = max(1, min(seconds, Self.window - 1))
        return state.withLock { state in
            Self.advance(&state, to: current)
            var total = 0
            for back in 1...span { total += state.perSecond[Int((current - Int64(back) + Int64(Self.window)) % Int64(Self.window))] }
            return Double(total) / Double(span)
        }
    }

    public var lastError: (reason: String, at: Date)? {
        state.withLock { state in state.lastError.flatMap { reason in state.lastErrorAt.map { (reason, $0) } } }
    }
}

/// A channel's health as HQ reads it: paused or not, its limit, its pace, its last error.
public struct ChannelHealth: Sendable {
    public var name: String
    /// Until when the circuit breaker holds the channel (nil: it is sending).
    public var pausedUntil: Date?
    /// The configured rate limit, messages per second (nil: none).
    public var rateLimit: Double?
    /// Messages handed to the provider per second over the last ten seconds.
    public var currentRate: Double
    public var lastError: String?
    public var lastErrorAt: Date?

    public init(name: String, pausedUntil: Date?, rateLimit: Double?, currentRate: Double, lastError: String?, lastErrorAt: Date?) {
        self.name = name
        self.pausedUntil = pausedUntil
        self.rateLimit = rateLimit
        self.currentRate = currentRate
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
    }

    /// Seconds to hand over `remaining` messages: at the current pace while sending, else at
    /// the rate limit; nil when neither is known.
    public func secondsToSend(_ remaining: Int) -> Double? {
        guard remaining > 0 else { return 0 }
        let pace = currentRate > 0 ? currentRate : rateLimit
        guard let pace, pace > 0 else { return nil }
        return Double(remaining) / pace
    }
}
