import Foundation
import HabarMessages

/// Whom a publication goes to.
public enum Recipients: Sendable, Hashable {
    /// The citizens an audience selects (a first publication).
    case audience(Audience)
    /// The citizens earlier versions of the advisory reached or had queued (a correction or
    /// a cancellation notice).
    case reachedBy(advisoryId: Int64, beforeVersion: Int)
}

/// Everything `publish` needs: which advisory version, the texts frozen for it, and how
/// channels reach people.
public struct Publication: Sendable {
    public var advisoryId: Int64
    public var version: Int
    public var messageType: AdvisoryMessageType
    public var approver: String
    public var approverTokenId: Int64?
    /// The advisory as this version publishes it (a correction's new content).
    public var advisory: Advisory
    public var recipients: Recipients
    /// Rendered texts by the citizen's language and the channel's message kind.
    public var renderings: [Language: [MessageKind: RenderedMessage]]
    /// For every channel in the plan: the address it needs and its message kind.
    public var channels: [String: (address: AddressKind, kind: MessageKind)]
    /// The webhook channel that carries `group.advisory` to the agencies whose groups have
    /// recipients (nil: agencies are not told).
    public var agencyChannel: String?
    /// When this version's deliveries stop being worth sending.
    public var expiresAt: Date
    public var now: Date

    public init(
        advisory: Advisory, messageType: AdvisoryMessageType, approver: String, approverTokenId: Int64? = nil,
        recipients: Recipients, renderings: [Language: [MessageKind: RenderedMessage]],
        channels: [String: (address: AddressKind, kind: MessageKind)], agencyChannel: String? = nil, expiresAt: Date? = nil, now: Date
    ) {
        self.agencyChannel = agencyChannel
        self.advisoryId = advisory.id
        self.version = advisory.version
        self.messageType = messageType
        self.approver = approver
        self.approverTokenId = approverTokenId
        self.advisory = advisory
        self.recipients = recipients
        self.renderings = renderings
        self.channels = channels
        self.expiresAt = expiresAt ?? advisory.expiresAt
        self.now = now
    }
}

/// What `publish` changes on the advisory row before fanning out, decided the same way by
/// every store from the row it read (and locked): the rules of which version may follow which.
public enum PublicationStep: Sendable, Equatable {
    /// A first publication (or the same version again): mark it published by its approver.
    case markPublished
    /// A correction to the next version: write its content over the stored one.
    case applyCorrection
    /// The version is already stored (a retried publication): only fan out what is missing.
    case nothing
    /// A cancellation notice: record its version.
    case recordCancelNotice

    /// The step for `publication` on an advisory stored with `status` at `version`; throws
    /// `OperationError.conflict` when the publication does not follow from that state.
    public static func decide(_ publication: Publication, stored status: AdvisoryStatus, version: Int) throws -> PublicationStep {
        let id = publication.advisoryId
        switch publication.messageType {
        case .alert:
            switch status {
            case .draft: return .markPublished
            case .published where version == publication.version: return .markPublished
            case .published, .cancelled, .expired: throw OperationError.conflict("advisory \(id) is \(status.rawValue)")
            }
        case .update:
            guard status == .published else {
                throw OperationError.conflict("advisory \(id) is \(status.rawValue); only a published advisory can be corrected")
            }
            if version == publication.version { return .nothing }
            guard publication.version == version + 1 else {
                throw OperationError.conflict("advisory \(id) is at version \(version), not \(publication.version - 1)")
            }
            return .applyCorrection
        case .cancel:
            guard status == .cancelled, version + 1 == publication.version || version == publication.version else {
                throw OperationError.conflict("a cancellation notice needs the advisory cancelled first")
            }
            return .recordCancelNotice
        }
    }
}

/// How many deliveries `publish` queued, and how many citizens of the audience no planned
/// channel can reach.
public struct PublicationResult: Sendable, Hashable, Codable {
    public var queued: Int
    public var unreachable: Int
    public init(queued: Int, unreachable: Int) {
        self.queued = queued
        self.unreachable = unreachable
    }
}

/// The groups of one agency that an audience touches and how many of their tourists (on the
/// latest manifest) it selects: what the `group.advisory` webhooks of a publication would carry.
public struct GroupAdvisoryCell: Sendable, Hashable, Codable {
    public var agencyId: String
    /// The agency's language, the one its group advisories are written in.
    public var language: Language
    public var groups: Int
    public var tourists: Int

    public init(agencyId: String, language: Language, groups: Int, tourists: Int) {
        self.agencyId = agencyId
        self.language = language
        self.groups = groups
        self.tourists = tourists
    }
}

/// How many citizens of an audience speak `language` and can be reached by phone / e-mail:
/// enough to say how many each channel of any plan would get.
public struct AudienceCell: Sendable, Hashable, Codable {
    public var language: Language
    public var hasPhone: Bool
    public var hasEmail: Bool
    public var count: Int

    public init(language: Language, hasPhone: Bool, hasEmail: Bool, count: Int) {
        self.language = language
        self.hasPhone = hasPhone
        self.hasEmail = hasEmail
        self.count = count
    }
}

/// How an advisory is doing: deliveries by state × channel × language, welfare of the
/// citizens it was for, and how fast it went out.
public struct AdvisoryStats: Sendable, Hashable, Codable {
    public var deliveries: Int
    public var counts: [DeliveryCount]
    /// Citizens the advisory was queued for, by their welfare status.
    public var checkins: [WelfareStatus: Int]
    public var publishedAt: Date?
    public var firstSentAt: Date?
    /// When 95% of the deliveries had been handed to a provider; nil until then.
    public var ninetyFivePercentSentAt: Date?

    public init(
        deliveries: Int, counts: [DeliveryCount], checkins: [WelfareStatus: Int], publishedAt: Date?, firstSentAt: Date?,
        ninetyFivePercentSentAt: Date?
    ) {
        self.deliveries = deliveries
        self.counts = counts
        self.checkins = checkins
        self.publishedAt = publishedAt
        self.firstSentAt = firstSentAt
        self.ninetyFivePercentSentAt = ninetyFivePercentSentAt
    }
}

/// What the publisher needs: advisories and their versions, audience sizes, and the fan-out
/// of one version to its recipients.
/// Every requirement is one transaction: it happens whole or not at all, and a caller that
/// gets an error may assume nothing changed. `OperationError.notFound` / `.conflict` are the
/// answers a caller handles; any other error is the store failing.
public protocol PublishingStore: Sendable {
    /// Stores a new advisory (a draft); returns it with its id.
    func insertAdvisory(_ advisory: NewAdvisory) async throws -> Advisory
    func advisory(id: Int64) async throws -> Advisory?
    /// Advisories filtered, newest first, paged by id.
    func advisories(_ filter: AdvisoryFilter, page: PageRequest) async throws -> Page<Advisory>
    /// The published versions of an advisory, oldest first.
    func advisoryVersions(id: Int64) async throws -> [AdvisoryVersion]
    /// Records an approval whose publication waits for `publishAt` (the advisory stays a
    /// draft); `.conflict` when it is no longer a draft.
    func scheduleAdvisory(id: Int64, approver: String, approverTokenId: Int64?, publishAt: Date) async throws
    /// Approved drafts whose `publishAt` has come.
    func dueScheduledAdvisories(now: Date) async throws -> [Advisory]
    /// Keeps a correction for a second person's approval (nil clears it); `.conflict` when
    /// the advisory is not published.
    func setPendingCorrection(id: Int64, _ pending: PendingCorrection?) async throws
    /// Holds the sending of a published advisory (`at` and `by` set) or lets it go on (nil):
    /// a held advisory's deliveries are not claimed, those with a provider go on.
    /// `.conflict` when the advisory is not published.
    func setInterrupted(id: Int64, at: Date?, by: String?) async throws
    /// The recipients by language and reachable address, for previews and the two-person rule.
    func audienceCells(_ recipients: Recipients) async throws -> [AudienceCell]
    /// Per agency with a webhook, the groups with tourists in the audience, in agency id order.
    func groupAdvisoryCells(_ audience: Audience) async throws -> [GroupAdvisoryCell]
    /// Publishes one version, atomically with its fan-out:
    /// - a first publication (`version` 1) needs a draft (else `.conflict`) and marks it published;
    /// - a correction needs the advisory published at `version - 1` (else `.conflict`), stores
    ///   its new content and cancels what earlier versions had not sent yet;
    /// - a cancellation notice needs the advisory cancelled.
    /// One delivery per (version, recipient, plan entry) — never two, whoever publishes the same
    /// version again or at the same time (a repeat queues nothing and returns `queued: 0`) —
    /// and one `group.advisory` per affected agency group when `agencyChannel` is set.
    func publish(_ publication: Publication) async throws -> PublicationResult
    /// Cancels the advisory (`.conflict` when it is not a draft or published) and every
    /// delivery of it not yet sent; returns how many. A `notice` publication (its version one
    /// above the advisory's) is queued in the same transaction to those already reached. A
    /// draft nobody approved records `by` as the one who decided on it (its approver).
    func cancelAdvisory(id: Int64, at: Date, by: String, notice: Publication?) async throws -> (cancelled: Int, notice: PublicationResult?)
    /// Deliveries by state, channel and language, the welfare of the citizens it was queued
    /// for, and when it went out (first send, 95% sent); nil when there is no such advisory.
    func advisoryStats(id: Int64) async throws -> AdvisoryStats?
}
