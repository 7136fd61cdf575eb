import Foundation
import HabarMessages
import Logging

/// Where a message goes; each adapter reaches one kind of address.
public enum Address: Sendable, Hashable {
    case phone(PhoneNumber)
    case email(String)
    /// A webhook endpoint and the secret its payloads are signed with.
    case webhook(url: String, secret: String)

    /// The kind of address, without the value.
    public var kind: AddressKind {
        switch self {
        case .phone: .phone
        case .email: .email
        case .webhook: .webhook
        }
    }
}

/// The kinds of address a channel can reach.
public enum AddressKind: String, Sendable, Codable {
    case phone, email, webhook
}

/// One rendered message on its way to one address through one channel step.
public struct OutboundMessage: Sendable, Hashable {
    public var deliveryId: Int64
    public var step: Int
    /// The same for every attempt of this step, across restarts: providers that honour it
    /// drop a repeat, and every adapter passes it on.
    public var idempotencyKey: String
    public var address: Address
    public var message: RenderedMessage
    public var advisoryId: Int64
    public var advisoryVersion: Int
    public var severity: Severity
    public var expiresAt: Date
    /// What the advisory is, for structured channels (webhooks): its kind, its parameters as
    /// JSON, and which message of it this is (first publication, correction, cancellation).
    public var kind: AdvisoryKind?
    public var paramsJSON: String?
    public var messageType: AdvisoryMessageType?
    /// The citizen it goes to (nil for a webhook subscriber): personal links are made for them.
    public var citizenId: Int64?
    /// For a group advisory to a travel agency: the group and the tourists it concerns.
    public var group: GroupAdvisoryScope?

    public init(
        deliveryId: Int64, step: Int, idempotencyKey: String, address: Address, message: RenderedMessage,
        advisoryId: Int64, advisoryVersion: Int, severity: Severity, expiresAt: Date,
        kind: AdvisoryKind? = nil, paramsJSON: String? = nil, messageType: AdvisoryMessageType? = nil, citizenId: Int64? = nil,
        group: GroupAdvisoryScope? = nil
    ) {
        self.citizenId = citizenId
        self.group = group
        self.deliveryId = deliveryId
        self.step = step
        self.idempotencyKey = idempotencyKey
        self.address = address
        self.message = message
        self.advisoryId = advisoryId
        self.advisoryVersion = advisoryVersion
        self.severity = severity
        self.expiresAt = expiresAt
        self.kind = kind
        self.paramsJSON = paramsJSON
        self.messageType = messageType
    }
}

/// What a group advisory (`group.advisory`, to a travel agency) is about: one of the agency's
/// groups and the tourists of it the advisory concerns.
public struct GroupAdvisoryScope: Sendable, Hashable {
    public struct Tourist: Sendable, Hashable {
        /// The agency's own id for the tourist.
        public var id: String
        public var fullName: String
        public init(id: String, fullName: String) {
            self.id = id
            self.fullName = fullName
        }
    }

    /// The agency's own id for the group.
    public var groupId: String
    public var name: String
    public var tourists: [Tourist]

    public init(groupId: String, name: String, tourists: [Tourist]) {
        self.groupId = groupId
        self.name = name
        self.tourists = tourists
    }
}

/// What a provider said when it took a message.
public struct SendReceipt: Sendable, Hashable {
    /// The provider's own id for the message, when it gives one.
    public var providerMessageId: String?
    public init(providerMessageId: String?) { self.providerMessageId = providerMessageId }
}

/// Why a send did not succeed, and whether trying again can help. Adapters classify; only
/// the dispatcher decides to retry, fail the step or fall back.
public struct ChannelError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The provider may accept it later (outage, throttling, timeout).
        case transient(retryAfter: Duration?)
        /// It will never be accepted as it is (bad number, rejected content, auth refused).
        case permanent
    }

    public var kind: Kind
    /// A short reason for the event history, never containing a secret.
    public var reason: String
    /// The address said it is gone for good (a webhook subscriber's 410): besides failing
    /// this step, nothing more is sent to it.
    public var addressGone: Bool

    public init(_ kind: Kind, _ reason: String, addressGone: Bool = false) {
        self.kind = kind
        self.reason = reason
        self.addressGone = addressGone
    }

    public static func transient(_ reason: String, retryAfter: Duration? = nil) -> ChannelError {
        ChannelError(.transient(retryAfter: retryAfter), reason)
    }

    public static func permanent(_ reason: String) -> ChannelError {
        ChannelError(.permanent, reason)
    }

    /// Permanent, and the address is to be disabled (an unsubscribed webhook receiver).
    public static func gone(_ reason: String) -> ChannelError {
        ChannelError(.permanent, reason, addressGone: true)
    }

    public var isRetryable: Bool {
        if case .transient = kind { return true }
        return false
    }

    public var description: String { "\(isRetryable ? "transient" : "permanent"): \(reason)" }
}

/// What an adapter can do; the dispatcher and previews plan with it.
public struct ChannelCapabilities: Sendable, Hashable {
    /// The catalog variants this channel carries.
    public var messageKind: MessageKind
    public var addressKind: AddressKind
    /// Longest text accepted, in the channel's units (SMS: segments; others: characters).
    public var maxSegments: Int?
    public var encodings: [SMSEncoding]
    /// Whether the provider reports final delivery; without receipts `sent` is the last state.
    public var deliveryReceipts: Bool
    /// The rate the provider is known to take, messages per second (nil: unlimited).
    public var defaultRatePerSecond: Double?
    /// Whether every send ends within the adapter's configured timeout by itself (checked
    /// by the conformance suite); otherwise the dispatcher races each send against
    /// `sendTimeoutSeconds`.
    public var boundsItsOwnSends: Bool

    public init(
        messageKind: MessageKind, addressKind: AddressKind, maxSegments: Int? = nil,
        encodings: [SMSEncoding] = [], deliveryReceipts: Bool, defaultRatePerSecond: Double? = nil, boundsItsOwnSends: Bool = false
    ) {
        self.boundsItsOwnSends = boundsItsOwnSends
        self.messageKind = messageKind
        self.addressKind = addressKind
        self.maxSegments = maxSegments
        self.encodings = encodings
        self.deliveryReceipts = deliveryReceipts
        self.defaultRatePerSecond = defaultRatePerSecond
    }
}

/// A channel instance: one configured way of reaching people (`sms`, `sms-backup`, `email`).
public protocol ChannelAdapter: Sendable {
    /// The instance name from configuration.
    var name: String { get }
    var capabilities: ChannelCapabilities { get }
    /// Values that must never appear in logs or errors (passwords, tokens, signing secrets).
    var secrets: [String] { get }

    /// Hands one message to the provider. Never retries: a transient failure is returned as
    /// such, and a send that outlives the configured timeout returns a transient error.
    func send(_ message: OutboundMessage) async throws(ChannelError) -> SendReceipt

    /// Background work the channel needs while the gateway runs (receipt timers, pools);
    /// returns when the task is cancelled. Most adapters need none.
    func run() async throws
}

extension ChannelAdapter {
    public func run() async throws {}
}

/// A delivery report from a provider about one delivery step.
public struct DeliveryReceipt: Sendable, Hashable {
    public enum Status: Sendable, Hashable {
        case delivered
        /// The provider reports non-delivery: the step failed.
        case failed(reason: String)
        /// Accepted by the next hop; nothing changes but the history.
        case intermediate(String)
    }

    public var deliveryId: Int64
    public var step: Int
    public var channel: String
    public var status: Status
    public var at: Date
    public var providerMessageId: String?

    public init(deliveryId: Int64, step: Int, channel: String, status: Status, at: Date, providerMessageId: String? = nil) {
        self.deliveryId = deliveryId
        self.step = step
        self.channel = channel
        self.status = status
        self.at = at
        self.providerMessageId = providerMessageId
    }
}

/// Takes delivery reports; returns once they are stored, so a provider is acknowledged only
/// for what will survive a crash.
public protocol DeliveryReceiptSink: Sendable {
    /// Stores `receipts` (in one transaction with others waiting); returns once stored.
    func accept(_ receipts: [DeliveryReceipt]) async throws
}

extension DeliveryReceiptSink {
    public func accept(_ receipt: DeliveryReceipt) async throws {
        try await accept([receipt])
    }
}
