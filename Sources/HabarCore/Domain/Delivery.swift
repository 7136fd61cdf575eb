import Foundation
import HabarMessages

/// The state of a delivery's current channel step (see PRODUCT.md's state machine).
public enum DeliveryState: String, Sendable, Codable, CaseIterable {
    case queued, sending, sent, delivered, retrying, failed, expired, cancelled

    /// No further transition happens from a final state.
    public var isFinal: Bool {
        switch self {
        case .delivered, .failed, .expired, .cancelled: true
        case .queued, .sending, .sent, .retrying: false
        }
    }

    /// States the dispatcher may still claim and send from.
    public static let pending: [DeliveryState] = [.queued, .retrying]
    /// Not handed to a provider yet (pending, or claimed and being sent).
    public static let unsent: [DeliveryState] = [.queued, .retrying, .sending]
    /// Handed to a provider.
    public static let handedOver: [DeliveryState] = [.sent, .delivered]
    /// Still on its way or arrived: what counts as reaching someone (a correction goes to
    /// them, they are not unreached). Failed, expired and cancelled ones do not.
    public static let live: [DeliveryState] = unsent + handedOver

    /// The state machine every store records (one event per move): `from` nil is creation.
    /// A failed step that falls back moves to `queued` on the next step; a send released at
    /// shutdown goes back to `queued` or `retrying`; a lease taken over goes to `retrying`.
    public static func allows(from: DeliveryState?, to: DeliveryState) -> Bool {
        guard let from else { return to == .queued }
        switch from {
        case .queued, .retrying: return [.sending, .expired, .cancelled, .failed].contains(to)
        case .sending: return [.sent, .retrying, .queued, .failed, .expired, .cancelled].contains(to)
        case .sent: return [.delivered, .failed, .queued].contains(to)
        case .delivered, .failed, .expired, .cancelled: return false
        }
    }
}

/// Why a delivery exists: the advisory version itself, or a follow-up the gateway sends under
/// it (a check-in reminder, the confirmation of a citizen's reply).
public enum DeliveryPurpose: String, Sendable, Codable, CaseIterable {
    case advisory
    case reminder
    case confirmSafe = "confirm_safe"
    case confirmHelp = "confirm_help"
    case confirmReceived = "confirm_received"

    /// What HQ counts as the advisory reaching someone (stats, "reached by", unreached).
    public var isAdvisory: Bool { self == .advisory }

    /// Whether a due delivery of this purpose is still sent after its advisory was cancelled:
    /// the cancellation notice (the version `cancelNoticeVersion` names) and confirmations of
    /// replies (a citizen who wrote gets an answer) are; the advisory's other versions and
    /// reminders to check in are not.
    public func isSentAfterCancellation(version: Int, cancelNoticeVersion: Int?) -> Bool {
        switch self {
        case .advisory: version == cancelNoticeVersion
        case .reminder: false
        case .confirmSafe, .confirmHelp, .confirmReceived: true
        }
    }
}

/// One attempt plan for one (advisory version, recipient): ordered channel steps, the
/// language, and the state of the current step.
public struct Delivery: Sendable, Hashable, Codable, Identifiable {
    public var id: Int64
    public var advisoryId: Int64
    /// The advisory version it carries, or (a follow-up) the version current when it was queued.
    public var advisoryVersion: Int
    public var purpose: DeliveryPurpose
    public var citizenId: Int64?
    public var subscriberId: Int64?
    /// For a group advisory to a travel agency: the group it is about (`/v1/groups/{id}`).
    public var groupId: Int64?
    public var language: Language
    /// Channel instance names in order (fallback plan), or one channel (`all` plan).
    public var steps: [String]
    /// Index into `steps` of the current step.
    public var step: Int
    public var state: DeliveryState
    /// Send attempts made on the current step.
    public var attempts: Int
    public var nextAttemptAt: Date
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var providerMessageId: String?
    public var lastError: String?
    public var expiresAt: Date
    public var createdAt: Date
    public var updatedAt: Date
    public var stepStartedAt: Date
    /// Stable for the life of the delivery: every send of one step carries the same key.
    public var idempotencyKey: String

    public init(
        id: Int64, advisoryId: Int64, advisoryVersion: Int, citizenId: Int64?, subscriberId: Int64?,
        language: Language, steps: [String], step: Int, state: DeliveryState, attempts: Int,
        nextAttemptAt: Date, leaseOwner: String?, leaseExpiresAt: Date?, providerMessageId: String?,
        lastError: String?, expiresAt: Date, createdAt: Date, updatedAt: Date, stepStartedAt: Date,
        idempotencyKey: String, groupId: Int64? = nil, purpose: DeliveryPurpose = .advisory
    ) {
        self.groupId = groupId
        self.purpose = purpose
        self.id = id
        self.advisoryId = advisoryId
        self.advisoryVersion = advisoryVersion
        self.citizenId = citizenId
        self.subscriberId = subscriberId
        self.language = language
        self.steps = steps
        self.step = step
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.providerMessageId = providerMessageId
        self.lastError = lastError
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.stepStartedAt = stepStartedAt
        self.idempotencyKey = idempotencyKey
    }

    /// The channel of the current step.
    public var channel: String { steps[step] }

    /// The idempotency key of one delivery step: `<installation>-<delivery>-<step>`. The same
    /// inputs give the same key after any restart.
    public static func idempotencyKey(installation: String, delivery: Int64, step: Int) -> String {
        "\(installation)-\(delivery)-\(step)"
    }

    /// Parses a key made by `idempotencyKey(installation:delivery:step:)`.
    public static func parseIdempotencyKey(_ key: String) -> (delivery: Int64, step: Int)? {
        let parts = key.split(separator: "-")
        guard parts.count >= 3, let step = Int(parts[parts.count - 1]), let id = Int64(parts[parts.count - 2]) else { return nil }
        return (id, step)
    }
}

/// One recorded transition of a delivery; the history is append-only.
public struct DeliveryEvent: Sendable, Hashable, Codable {
    public var deliveryId: Int64
    public var at: Date
    public var step: Int
    public var channel: String
    public var fromState: DeliveryState?
    public var toState: DeliveryState
    /// The attempt number on this step the event belongs to (0 before the first send).
    public var attempt: Int
    public var detail: String?
    public var providerMessageId: String?

    public init(
        deliveryId: Int64, at: Date, step: Int, channel: String, fromState: DeliveryState?,
        toState: DeliveryState, attempt: Int, detail: String? = nil, providerMessageId: String? = nil
    ) {
        self.deliveryId = deliveryId
        self.at = at
        self.step = step
        self.channel = channel
        self.fromState = fromState
        self.toState = toState
        self.attempt = attempt
        self.detail = detail
        self.providerMessageId = providerMessageId
    }
}
