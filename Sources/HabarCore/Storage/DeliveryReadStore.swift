import Foundation
import HabarMessages

/// One count of deliveries by state, channel and language.
public struct DeliveryCount: Sendable, Hashable, Codable {
    public var state: DeliveryState
    public var channel: String
    public var language: Language
    public var count: Int
    public init(state: DeliveryState, channel: String, language: Language, count: Int) {
        self.state = state
        self.channel = channel
        self.language = language
        self.count = count
    }
}

/// How many of an advisory's deliveries reached `state` (sent, delivered or failed) within
/// one time bucket, by when they last moved.
public struct DeliveryTimeBucket: Sendable, Hashable {
    public var start: Date
    public var state: DeliveryState
    public var count: Int
    public init(start: Date, state: DeliveryState, count: Int) {
        self.start = start
        self.state = state
        self.count = count
    }
}

/// Reading deliveries and their history (the API's `/v1/deliveries`, the CLI's `--wait`).
public protocol DeliveryReadStore: Sendable {
    func delivery(id: Int64) async throws -> Delivery?
    /// Every event of a delivery, oldest first (the history is append-only).
    func deliveryEvents(deliveryId: Int64) async throws -> [DeliveryEvent]
    /// Deliveries filtered, in id order, paged by id.
    func deliveries(_ filter: DeliveryFilter, page: PageRequest) async throws -> Page<Delivery>
    /// Counts by state × channel × language, for one advisory or all.
    func deliveryCounts(advisoryId: Int64?) async throws -> [DeliveryCount]
    /// The advisory's deliveries now sent, delivered or failed, by the `bucketSeconds`-long
    /// bucket of their last move (the console's chart of deliveries over time), oldest first.
    func deliveryTimes(advisoryId: Int64, bucketSeconds: Int) async throws -> [DeliveryTimeBucket]
}
