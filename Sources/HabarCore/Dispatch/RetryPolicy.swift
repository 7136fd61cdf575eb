import Foundation

/// When a transient failure is tried again, and when a step gives up.
///
/// Delays grow exponentially with full jitter (a uniform draw between zero and the
/// exponential bound), so a provider coming back is not hit by every retry at once. A
/// provider's Retry-After replaces the computed delay.
public struct RetryPolicy: Sendable, Hashable, Codable {
    /// Send attempts on one step before it fails.
    public var maxAttempts: Int
    public var baseDelaySeconds: Double
    public var maxDelaySeconds: Double
    /// A step that has been retried for longer than this fails (and falls back).
    public var maxStepAgeSeconds: Double

    public init(maxAttempts: Int = 8, baseDelaySeconds: Double = 2, maxDelaySeconds: Double = 300, maxStepAgeSeconds: Double = 3600) {
        self.maxAttempts = maxAttempts
        self.baseDelaySeconds = baseDelaySeconds
        self.maxDelaySeconds = maxDelaySeconds
        self.maxStepAgeSeconds = maxStepAgeSeconds
    }

    /// The wait before the attempt after `attempts` failed ones.
    public func delay<R: RandomNumberGenerator>(afterAttempts attempts: Int, retryAfter: Duration?, using random: inout R) -> TimeInterval {
        if let retryAfter {
            let (seconds, attoseconds) = retryAfter.components
            return max(0, Double(seconds) + Double(attoseconds) / 1e18)
        }
        let exponent = Double(max(0, attempts - 1))
        let bound = min(maxDelaySeconds, baseDelaySeconds * pow(2, min(exponent, 62)))
        return Double.random(in: 0...bound, using: &random)
    }

    /// Whether a step with `attempts` made since `stepStartedAt` must stop retrying.
    public func isExhausted(attempts: Int, stepStartedAt: Date, now: Date) -> Bool {
        attempts >= maxAttempts || now.timeIntervalSince(stepStartedAt) >= maxStepAgeSeconds
    }
}
