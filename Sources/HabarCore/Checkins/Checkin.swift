import Foundation
import HabarMessages

/// Where a welfare fact came from.
public enum CheckinSource: String, Sendable, Codable, CaseIterable {
    /// The citizen's one-tap link (`/c/{token}`).
    case link
    /// An SMS reply.
    case sms
    /// A travel agency's report about its tourist.
    case agency
    /// An operator who spoke to the citizen.
    case `operator`
    /// Habar itself: every delivery to the citizen failed.
    case delivery
}

/// One citizen's current answer to one check-in request: the latest answer wins.
public struct Checkin: Sendable, Hashable, Codable {
    public var citizenId: Int64
    public var advisoryId: Int64
    /// `safe` or `needs_help`.
    public var status: WelfareStatus
    public var source: CheckinSource
    public var note: String?
    public var answeredAt: Date

    public init(citizenId: Int64, advisoryId: Int64, status: WelfareStatus, source: CheckinSource, note: String?, answeredAt: Date) {
        self.citizenId = citizenId
        self.advisoryId = advisoryId
        self.status = status
        self.source = source
        self.note = note
        self.answeredAt = answeredAt
    }
}

/// One entry of a citizen's welfare history.
public struct WelfareEvent: Sendable, Hashable, Codable {
    /// `safe`, `needs_help`, `unreached`, or `unclear` for a reply a person must read.
    public var status: String
    public var source: CheckinSource
    public var advisoryId: Int64?
    /// The SMS text or the note.
    public var detail: String?
    public var at: Date

    public init(status: String, source: CheckinSource, advisoryId: Int64?, detail: String?, at: Date) {
        self.status = status
        self.source = source
        self.advisoryId = advisoryId
        self.detail = detail
        self.at = at
    }
}

/// Messages of an advisory other than its versions, queued as deliveries of their own purpose
/// so they go through the same queue, channels and history: the reminder of a check-in and
/// the confirmations of replies. Each has its catalog template.
public enum FollowUp: String, Sendable, CaseIterable {
    case reminder
    case confirmSafe = "confirm_safe"
    case confirmHelp = "confirm_help"
    case confirmReceived = "confirm_received"

    /// Stored as its deliveries' purpose.
    public var purpose: DeliveryPurpose { DeliveryPurpose(rawValue: rawValue)! }

    public var template: String {
        switch self {
        case .reminder: "checkin_request.reminder"
        case .confirmSafe: "reply.safe"
        case .confirmHelp: "reply.help"
        case .confirmReceived: "reply.received"
        }
    }

    /// The confirmation of a reply that meant `meaning`.
    public static func confirmation(of meaning: ReplyMeaning) -> FollowUp {
        switch meaning {
        case .safe: .confirmSafe
        case .needsHelp: .confirmHelp
        case .unclear: .confirmReceived
        }
    }
}

/// What the check-in processor needs to know of the citizen who sent a reply.
public struct ReplyContext: Sendable, Hashable {
    public var language: Language
    public var openCheckinId: Int64?
    public var latestAdvisoryId: Int64?
    public init(language: Language, openCheckinId: Int64?, latestAdvisoryId: Int64?) {
        self.language = language
        self.openCheckinId = openCheckinId
        self.latestAdvisoryId = latestAdvisoryId
    }
}

/// What one reply, form or report says, ready to be recorded in one transaction: the
/// answer, the welfare change, the hotline case and the confirmation to queue.
public struct CheckinAnswer: Sendable, Hashable {
    public var citizenId: Int64
    /// The check-in request it answers (nil: none was open).
    public var advisoryId: Int64?
    public var meaning: ReplyMeaning
    /// An unclear reply a person must read before other unclear ones (a bare "no").
    public var urgent: Bool
    public var source: CheckinSource
    /// The reply's text or the form's note.
    public var text: String?
    /// The incoming SMS it came from (marked processed in the same transaction).
    public var inboundId: Int64?
    public var at: Date

    /// The status the answer records on the check-in row: the welfare it means, or `unclear`.
    public var recordedStatus: String {
        switch meaning {
        case .safe: WelfareStatus.safe.rawValue
        case .needsHelp: WelfareStatus.needsHelp.rawValue
        case .unclear: "unclear"
        }
    }
    /// The confirmation to send: through which channel, and its text in the citizen's language.
    public var confirmation: Confirmation?

    /// A confirmation is queued under an advisory (the open check-in request, else the last
    /// advisory that reached the citizen) so it travels like any delivery.
    public struct Confirmation: Sendable, Hashable {
        public var advisoryId: Int64
        public var channel: String
        public var followUp: FollowUp
        public var message: RenderedMessage
        public init(advisoryId: Int64, channel: String, followUp: FollowUp, message: RenderedMessage) {
            self.advisoryId = advisoryId
            self.channel = channel
            self.followUp = followUp
            self.message = message
        }
    }

    public init(
        citizenId: Int64, advisoryId: Int64?, meaning: ReplyMeaning, urgent: Bool = false, source: CheckinSource, text: String?,
        inboundId: Int64? = nil, at: Date, confirmation: Confirmation? = nil
    ) {
        self.citizenId = citizenId
        self.advisoryId = advisoryId
        self.meaning = meaning
        self.urgent = urgent
        self.source = source
        self.text = text
        self.inboundId = inboundId
        self.at = at
        self.confirmation = confirmation
    }
}

// MARK: Hotline cases

public enum CaseStatus: String, Sendable, Codable, CaseIterable {
    case open, assigned, resolved
}

/// Why a case is in the queue; the order is the queue's: help first, then free text, then silence.
public enum CaseReason: String, Sendable, Codable, CaseIterable, Comparable {
    case needsHelp = "needs_help"
    /// A reply the parser did not understand with confidence.
    case freeText = "free_text"
    /// No answer by the check-in deadline.
    case silent

    public var priority: Int {
        switch self {
        case .needsHelp: 0
        case .freeText: 1
        case .silent: 2
        }
    }

    public static func < (a: CaseReason, b: CaseReason) -> Bool { a.priority < b.priority }

    /// The queue position of a case opened (or raised) by `answer`: an urgent unclear reply
    /// (a bare "no") stands with the help requests.
    public static func priority(of reason: CaseReason, for answer: CheckinAnswer) -> Int {
        answer.urgent ? CaseReason.needsHelp.priority : reason.priority
    }
}

/// One line of a case's history: the citizen's replies, operators' notes, status changes.
public struct CaseEntry: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable { case reply, note, status }
    public var kind: Kind
    public var author: String?
    public var text: String
    public var at: Date

    public init(kind: Kind, author: String?, text: String, at: Date) {
        self.kind = kind
        self.author = author
        self.text = text
        self.at = at
    }
}

/// A hotline case: one citizen, at most one open (or assigned) at a time.
public struct HotlineCase: Sendable, Hashable, Codable, Identifiable {
    public var id: Int64
    public var citizenId: Int64?
    public var advisoryId: Int64?
    public var status: CaseStatus
    public var reason: CaseReason
    public var assignee: String?
    public var openedAt: Date
    public var updatedAt: Date
    public var resolvedAt: Date?
    public var entries: [CaseEntry]

    public init(
        id: Int64, citizenId: Int64?, advisoryId: Int64?, status: CaseStatus, reason: CaseReason, assignee: String?, openedAt: Date,
        updatedAt: Date, resolvedAt: Date?, entries: [CaseEntry]
    ) {
        self.id = id
        self.citizenId = citizenId
        self.advisoryId = advisoryId
        self.status = status
        self.reason = reason
        self.assignee = assignee
        self.openedAt = openedAt
        self.updatedAt = updatedAt
        self.resolvedAt = resolvedAt
        self.entries = entries
    }
}

/// What an operator changes on a case.
public struct CaseUpdate: Sendable, Hashable {
    public var status: CaseStatus?
    /// "" clears the assignee.
    public var assignee: String?
    public var note: String?
    public init(status: CaseStatus? = nil, assignee: String? = nil, note: String? = nil) {
        self.status = status
        self.assignee = assignee
        self.note = note
    }
}

public struct CaseFilter: Sendable, Hashable {
    public var status: CaseStatus?
    public var reason: CaseReason?
    public var assignee: String?
    public var advisoryId: Int64?
    public var citizenId: Int64?
    public init(status: CaseStatus? = nil, reason: CaseReason? = nil, assignee: String? = nil, advisoryId: Int64? = nil, citizenId: Int64? = nil) {
        self.status = status
        self.reason = reason
        self.assignee = assignee
        self.advisoryId = advisoryId
        self.citizenId = citizenId
    }
}

public struct CheckinFilter: Sendable, Hashable {
    public var advisoryId: Int64?
    public var status: WelfareStatus?
    public var citizenId: Int64?
    public init(advisoryId: Int64? = nil, status: WelfareStatus? = nil, citizenId: Int64? = nil) {
        self.advisoryId = advisoryId
        self.status = status
        self.citizenId = citizenId
    }
}

/// An advisory's check-in tallies: every recipient is `safe`, `needs_help`, `no_answer` or
/// `unreached` (every delivery of the advisory to them failed).
public struct CheckinTally: Sendable, Hashable, Codable {
    public var total: [String: Int]
    public var byCountry: [String: [String: Int]]
    public var byLanguage: [String: [String: Int]]
    /// Answers per hour (UTC, the hour's start), oldest first.
    public var overTime: [Bucket]

    public struct Bucket: Sendable, Hashable, Codable {
        public var hour: Date
        public var safe: Int
        public var needsHelp: Int
        public init(hour: Date, safe: Int, needsHelp: Int) {
            self.hour = hour
            self.safe = safe
            self.needsHelp = needsHelp
        }
    }

    public init(total: [String: Int], byCountry: [String: [String: Int]], byLanguage: [String: [String: Int]], overTime: [Bucket]) {
        self.total = total
        self.byCountry = byCountry
        self.byLanguage = byLanguage
        self.overTime = overTime
    }
}
