import Foundation

/// Options of an `sms-stub` channel (all optional).
///
/// ```json
/// {"name": "sms", "type": "sms-stub",
///  "options": {"file": "data/sms-stub.jsonl", "dlrDelayMilliseconds": 2000, "failureRate": 0.02, "seed": 7}}
/// ```
public struct SMSStubConfiguration: Sendable, Hashable, Codable {
    /// JSON-lines file every accepted message is appended to; default `<data-dir>/<name>.jsonl`
    /// (`sms-stub.jsonl` for the default channel `sms`). Delivery reports go to the same path
    /// with `.dlr` appended.
    public var file: String?
    /// Delay between acceptance and the simulated delivery report.
    public var dlrDelayMilliseconds: Int?
    /// Share of messages (0...1) whose report says "not delivered".
    public var failureRate: Double?
    /// Makes the failures reproducible: the same seed fails the same messages.
    public var seed: UInt64?
    /// Simulated provider latency per send.
    public var latencyMilliseconds: Int?
    /// A send taking longer than this returns a transient "timed out".
    public var timeoutMilliseconds: Int?
    /// Numbers the simulated provider refuses for good (permanent error), for drills.
    public var rejectNumbers: [String]?
    /// Numbers for which the simulated provider is "unavailable" (transient error).
    public var unavailableNumbers: [String]?
    /// A simulated provider credential; like any secret it never reaches a log or the file.
    public var accountToken: String?
    /// The key an HTTP caller gives (`?key=`) to play an incoming SMS at
    /// `/inbound/sms/{channel}`; without one that route refuses the stub's messages
    /// (`habar sms-stub reply` needs none: it writes to the database itself).
    public var inboundKey: String?

    public init(
        file: String? = nil, dlrDelayMilliseconds: Int? = nil, failureRate: Double? = nil, seed: UInt64? = nil,
        latencyMilliseconds: Int? = nil, timeoutMilliseconds: Int? = nil, rejectNumbers: [String]? = nil,
        unavailableNumbers: [String]? = nil, accountToken: String? = nil, inboundKey: String? = nil
    ) {
        self.inboundKey = inboundKey
        self.file = file
        self.dlrDelayMilliseconds = dlrDelayMilliseconds
        self.failureRate = failureRate
        self.seed = seed
        self.latencyMilliseconds = latencyMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
        self.rejectNumbers = rejectNumbers
        self.unavailableNumbers = unavailableNumbers
        self.accountToken = accountToken
    }
}
