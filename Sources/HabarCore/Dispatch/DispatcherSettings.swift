import Foundation

/// How the dispatcher claims and paces work.
public struct DispatcherSettings: Sendable, Hashable, Codable {
    /// Names this process's leases; unique among the instances sharing a database. The
    /// default, the host name and the process id, is new on every start: a restarted
    /// instance on a shared database gets its old claims back by take-over, as every other
    /// instance would. On SQLite (one instance, holding the data directory) every lease is
    /// taken back at start.
    public var instanceId: String
    /// The default instance id: host name and process id.
    public static var defaultInstanceId: String { "\(ProcessInfo.processInfo.hostName)-\(getpid())" }
    /// Deliveries claimed at once per channel, split among its loops; each loop claims its
    /// next batch when half of one is left (`ClaimFeed`), so at most one and a half batches
    /// wait unsent. What a crash can send twice is bounded by `concurrency` (the sends in
    /// flight), not by this; a crashed instance's claimed and unsent deliveries are taken over.
    public var batchSize: Int
    /// How long a claim is held without a heartbeat: a live instance renews its claims every
    /// third of it, and a dead instance's claims are taken over after it (and at most a
    /// second of housekeeping).
    public var leaseSeconds: Double
    /// Idle wait between claims when nothing is due.
    public var pollMilliseconds: Int
    /// The longest one send may take before it counts as a transient failure.
    public var sendTimeoutSeconds: Double
    /// Default sends in flight per channel instance.
    public var concurrency: Int
    /// Claim loops per channel, each with its share of the channel's senders.
    public var workersPerChannel: Int
    public var retry: RetryPolicy

    public init(
        instanceId: String = DispatcherSettings.defaultInstanceId, batchSize: Int = 500, leaseSeconds: Double = 15, pollMilliseconds: Int = 100,
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
        if leaseSeconds < 3 { throw ConfigurationError(keyPath: keyPath + ".leaseSeconds", reason: "must be at least 3 (it is renewed every third of it)") }
        if pollMilliseconds < 1 { throw ConfigurationError(keyPath: keyPath + ".pollMilliseconds", reason: "must be at least 1") }
        if sendTimeoutSeconds <= 0 { throw ConfigurationError(keyPath: keyPath + ".sendTimeoutSeconds", reason: "must be more than 0") }
        if !(1...16).contains(workersPerChannel) { throw ConfigurationError(keyPath: keyPath + ".workersPerChannel", reason: "must be 1...16") }
        if concurrency < 1 { throw ConfigurationError(keyPath: keyPath + ".concurrency", reason: "must be at least 1") }
        if retry.maxAttempts < 1 { throw ConfigurationError(keyPath: keyPath + ".retry.maxAttempts", reason: "must be at least 1") }
        if retry.baseDelaySeconds < 0 || retry.maxDelaySeconds < retry.baseDelaySeconds {
            throw ConfigurationError(keyPath: keyPath + ".retry", reason: "need 0 <= baseDelaySeconds <= maxDelaySeconds")
        }
    }
}
