import Foundation

/// How the dispatcher claims and paces work.
public struct DispatcherSettings: Sendable, Hashable, Codable {
    /// Names this process's leases. Keep it stable across restarts of one instance (a
    /// restarted instance takes its own leases back at once) and unique among instances.
    public var instanceId: String
    /// Deliveries in flight per channel at most, split among its loops: the most a crash
    /// between a send and its record can send twice.
    public var batchSize: Int
    /// How long a claim is held; a crashed instance's claims return after this.
    public var leaseSeconds: Double
    /// Idle wait between claims when nothing is due.
    public var pollMilliseconds: Int
    /// The longest one send may take before it counts as a transient failure.
    public var sendTimeoutSeconds: Double
    /// Default sends in flight per channel instance.
    public var concurrency: Int
    /// Claim-send-record loops per channel; two let one send while the other writes.
    public var workersPerChannel: Int
    public var retry: RetryPolicy

    public init(
        instanceId: String = "habar-1", batchSize: Int = 500, leaseSeconds: Double = 60, pollMilliseconds: Int = 100,
        sendTimeoutSeconds: Double = 30, concurrency: Int = 32, workersPerChannel: Int = 2, retry: RetryPolicy = RetryPolicy()
    ) {
        self.workersPerChannel = workersPerChannel
        self.instanceId = instanceId
        self.batchSize = batchSize
        self.leaseSeconds = leaseSeconds
        self.pollMilliseconds = pollMilliseconds
        self.sendTimeoutSeconds = sendTimeoutSeconds
        self.concurrency = concurrency
        self.retry = retry
    }

    public func validate(keyPath: String) throws(ConfigurationError) {
        if instanceId.isEmpty { throw ConfigurationError(keyPath: keyPath + ".instanceId", reason: "must not be empty") }
        if !(1...10_000).contains(batchSize) { throw ConfigurationError(keyPath: keyPath + ".batchSize", reason: "must be 1...10000") }
        if leaseSeconds < 1 { throw ConfigurationError(keyPath: keyPath + ".leaseSeconds", reason: "must be at least 1") }
        if pollMilliseconds < 1 { throw ConfigurationError(keyPath: keyPath + ".pollMilliseconds", reason: "must be at least 1") }
        if sendTimeoutSeconds <= 0 || sendTimeoutSeconds >= leaseSeconds {
            throw ConfigurationError(keyPath: keyPath + ".sendTimeoutSeconds", reason: "must be more than 0 and less than leaseSeconds")
        }
        if !(1...16).contains(workersPerChannel) { throw ConfigurationError(keyPath: keyPath + ".workersPerChannel", reason: "must be 1...16") }
        if concurrency < 1 { throw ConfigurationError(keyPath: keyPath + ".concurrency", reason: "must be at least 1") }
        if retry.maxAttempts < 1 { throw ConfigurationError(keyPath: keyPath + ".retry.maxAttempts", reason: "must be at least 1") }
        if retry.baseDelaySeconds < 0 || retry.maxDelaySeconds < retry.baseDelaySeconds {
            throw ConfigurationError(keyPath: keyPath + ".retry", reason: "need 0 <= baseDelaySeconds <= maxDelaySeconds")
        }
    }
}
