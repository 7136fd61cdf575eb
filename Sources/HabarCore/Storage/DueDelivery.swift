import Foundation
import HabarMessages

/// A due delivery as a claim reads it from any store (the delivery row joined with its
/// advisory), and the rules every store applies to it: what is closed instead of sent, and
/// the message a sendable one becomes. The stores differ only in how they read the row and
/// look up a subscriber, a text and a group.
public struct DueDelivery: Sendable {
    public var id: Int64
    public var advisoryId: Int64
    public var version: Int
    public var step: Int
    /// The channel plan, comma-separated.
    public var steps: String
    /// The step's channel and the delivery's state as read (for the event of a closing).
    public var channel: String
    public var state: String
    public var attempts: Int
    public var stepStartedAt: Date
    public var expiresAt: Date
    public var phone: String?
    public var email: String?
    public var language: String
    /// The advisory's status and severity.
    public var status: String
    public var severity: String
    public var subscriberId: Int64?
    public var cancelNoticeVersion: Int?
    public var kind: String
    public var params: String
    public var citizenId: Int64?
    public var agencyGroup: Int64?
    public var purpose: DeliveryPurpose

    public init(
        id: Int64, advisoryId: Int64, version: Int, step: Int, steps: String, channel: String, state: String, attempts: Int, stepStartedAt: Date, expiresAt: Date,
        phone: String?, email: String?, language: String, status: String, severity: String, subscriberId: Int64?,
        cancelNoticeVersion: Int?, kind: String, params: String, citizenId: Int64?, agencyGroup: Int64?, purpose: String
    ) {
        self.id = id
        self.advisoryId = advisoryId
        self.version = version
        self.step = step
        self.steps = steps
        self.channel = channel
        self.state = state
        self.attempts = attempts
        self.stepStartedAt = stepStartedAt
        self.expiresAt = expiresAt
        self.phone = phone
        self.email = email
        self.language = language
        self.status = status
        self.severity = severity
        self.subscriberId = subscriberId
        self.cancelNoticeVersion = cancelNoticeVersion
        self.kind = kind
        self.params = params
        self.citizenId = citizenId
        self.agencyGroup = agencyGroup
        self.purpose = DeliveryPurpose(rawValue: purpose) ?? .advisory
    }

    /// How the delivery is closed before anything is looked up: a cancelled advisory sends
    /// only what the purpose's rule lets through, and nothing is sent after it expired.
    public func closedBeforeSend(now: Date) -> (state: DeliveryState, detail: String)? {
        if status == "cancelled", !purpose.isSentAfterCancellation(version: version, cancelNoticeVersion: cancelNoticeVersion) {
            return (.cancelled, "advisory cancelled")
        }
        if expiresAt <= now { return (.expired, "expired before it could be sent") }
        return nil
    }

    /// The address on the row for a phone or e-mail channel (a webhook's is the subscriber's,
    /// which the store looks up).
    public func storedAddress(_ address: AddressKind) -> Address? {
        switch address {
        case .phone: phone.map { .phone(PhoneNumber(storedE164: $0)) }
        case .email: email.map(Address.email)
        case .webhook: nil
        }
    }

    /// How the delivery is closed when its recipient or text is missing; nil when it can be sent.
    public static func closedForLack(
        of address: AddressKind, kind: MessageKind, recipient: Address?, text: RenderedMessage?
    ) -> (state: DeliveryState, detail: String)? {
        if address == .webhook, recipient == nil { return (.cancelled, "the subscriber is disabled") }
        if recipient == nil || text == nil {
            return (.failed, "no \(address.rawValue) address or no \(kind.rawValue) text for this step")
        }
        return nil
    }

    /// The message the delivery sends to `recipient` with `text`.
    public func message(
        to recipient: Address, text: RenderedMessage, address: AddressKind, installation: String, group: GroupAdvisoryScope?
    ) -> OutboundMessage {
        OutboundMessage(
            deliveryId: id, step: step, idempotencyKey: Delivery.idempotencyKey(installation: installation, delivery: id, step: step),
            address: recipient, message: text, advisoryId: advisoryId, advisoryVersion: version,
            severity: Severity(rawValue: severity) ?? .unknown, expiresAt: expiresAt, kind: AdvisoryKind(rawValue: kind),
            paramsJSON: address == .webhook ? params : nil,
            messageType: .of(version: version, purpose: purpose, cancelNoticeVersion: cancelNoticeVersion), citizenId: citizenId,
            group: group)
    }
}

/// The channel plans of one claim, split once each.
public struct StepPlans: Sendable {
    private var plans: [String: [String]] = [:]
    public init() {}

    public mutating func steps(_ text: String) -> [String] {
        if let known = plans[text] { return known }
        let split = text.split(separator: ",").map(String.init)
        plans[text] = split
        return split
    }
}
