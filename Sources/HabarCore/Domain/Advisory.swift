import Foundation
import HabarMessages

/// What an advisory is about; each kind has its own templates.
public enum AdvisoryKind: String, Sendable, Codable, CaseIterable {
    case greenCorridor = "green_corridor"
    case meetingPoint = "meeting_point"
    case checkinRequest = "checkin_request"
    case general

    /// The catalog template an advisory of this kind uses when none is named.
    public var defaultTemplate: String {
        switch self {
        case .greenCorridor: "green_corridor.opened"
        case .meetingPoint: "meeting_point.set"
        case .checkinRequest: "checkin_request.ask"
        case .general: "general.notice"
        }
    }
}

/// CAP 1.2 severity. Higher severities are dispatched first.
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case extreme, severe, moderate, minor, unknown

    /// Dispatch priority: a larger number is sent first.
    public var priority: Int {
        switch self {
        case .extreme: 4
        case .severe: 3
        case .moderate: 2
        case .minor: 1
        case .unknown: 0
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.priority < rhs.priority }
}

/// Where an advisory is in its life.
public enum AdvisoryStatus: String, Sendable, Codable, CaseIterable {
    case draft, published, cancelled, expired
}

/// Who may see an advisory outside HQ: `public` ones appear in the CAP feed (CAP `scope`).
public enum AdvisoryScope: String, Sendable, Codable, CaseIterable {
    case `public`, restricted
}

/// The CAP message type of one published version of an advisory.
public enum AdvisoryMessageType: String, Sendable, Codable, CaseIterable {
    /// The first publication.
    case alert
    /// A correction that replaces the earlier versions.
    case update
    /// The cancellation (with or without a notice to the people reached).
    case cancel

    /// What a delivery carries: version 1 is the alert, the version a cancellation named its
    /// notice the cancel, any other version a correction; a follow-up (a reminder, a
    /// confirmation) goes as an update of the advisory it follows.
    public static func of(version: Int, purpose: DeliveryPurpose, cancelNoticeVersion: Int?) -> AdvisoryMessageType {
        guard purpose.isAdvisory else { return .update }
        if version == cancelNoticeVersion { return .cancel }
        return version == 1 ? .alert : .update
    }

    /// What the `queued` event opening a delivery's history says of the publication that
    /// queued it: nothing for the alert, "update, version 2" (or "cancel, …") for the others.
    public func queuedDetail(version: Int) -> String? { self == .alert ? nil : "\(rawValue), version \(version)" }
}

/// One published version of an advisory.
public struct AdvisoryVersion: Sendable, Hashable, Codable {
    public var version: Int
    public var messageType: AdvisoryMessageType
    public var sentAt: Date
    public var approver: String

    public init(version: Int, messageType: AdvisoryMessageType, sentAt: Date, approver: String) {
        self.version = version
        self.messageType = messageType
        self.sentAt = sentAt
        self.approver = approver
    }
}

/// What a correction changes; fields left out keep their value.
public struct AdvisoryCorrection: Sendable, Hashable, Codable {
    public var severity: Severity?
    public var params: AdvisoryParameters?
    public var template: String?
    public var expiresAt: Date?
    /// The place versions the corrected texts come from (a place's change makes them).
    public var places: [PlaceUse]?

    public init(
        severity: Severity? = nil, params: AdvisoryParameters? = nil, template: String? = nil, expiresAt: Date? = nil, places: [PlaceUse]? = nil
    ) {
        self.severity = severity
        self.params = params
        self.template = template
        self.expiresAt = expiresAt
        self.places = places
    }
}

/// A correction written by `author`, waiting for a second person because its audience is
/// above the approval threshold.
public struct PendingCorrection: Sendable, Hashable, Codable {
    public var correction: AdvisoryCorrection
    public var author: String
    public var authorTokenId: Int64?

    public init(correction: AdvisoryCorrection, author: String, authorTokenId: Int64?) {
        self.correction = correction
        self.author = author
        self.authorTokenId = authorTokenId
    }
}

/// How the channels of an advisory are used for one citizen.
public struct ChannelPlan: Sendable, Hashable, Codable {
    public enum Mode: String, Sendable, Codable {
        /// Try the channels in order; the next one starts only when the previous one failed.
        case fallback
        /// Send on every channel the citizen can be reached on, independently.
        case all
    }

    public var mode: Mode
    /// Channel instance names, as configured (`sms`, `email`, `sms-backup`, ...).
    public var channels: [String]

    public init(mode: Mode = .fallback, channels: [String]) {
        self.mode = mode
        self.channels = channels
    }
}

/// The typed parameters an advisory's templates are filled from. Every field is optional in
/// the type; the template decides which are required (a missing one is refused at creation).
/// Text parameters are one string for every language or one per language (`LocalizedText`).
public struct AdvisoryParameters: Sendable, Hashable, Codable {
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case route, borderCrossing, opensAt, closesAt, meetingPoint, meetingPointAddress, meetingPointLocation
        case previousMeetingPoint, previousBorderCrossing, contactPhone, timeZone, text, checkinDeadline
        case meetingPointId, borderCrossingId, corridorId
    }

    public var route: LocalizedText?
    public var borderCrossing: LocalizedText?
    public var opensAt: Date?
    public var closesAt: Date?
    public var meetingPoint: LocalizedText?
    public var meetingPointAddress: LocalizedText?
    public var meetingPointLocation: GeoPoint?
    public var previousMeetingPoint: LocalizedText?
    /// The crossing a correction replaces: a "changed" text names old and new.
    public var previousBorderCrossing: LocalizedText?
    public var contactPhone: String?
    /// IANA time zone of the place the advisory is about (times are shown in it).
    public var timeZone: String?
    /// Free text for general advisories.
    public var text: LocalizedText?
    /// When answers to a check-in request are due.
    public var checkinDeadline: Date?
    /// Places from the registry instead of typed names: their texts come from the place's
    /// version at queue time.
    public var meetingPointId: Int64?
    public var borderCrossingId: Int64?
    public var corridorId: Int64?

    public init(
        route: LocalizedText? = nil, borderCrossing: LocalizedText? = nil, opensAt: Date? = nil, closesAt: Date? = nil,
        meetingPoint: LocalizedText? = nil, meetingPointAddress: LocalizedText? = nil, meetingPointLocation: GeoPoint? = nil,
        previousMeetingPoint: LocalizedText? = nil, previousBorderCrossing: LocalizedText? = nil, contactPhone: String? = nil,
        timeZone: String? = nil, text: LocalizedText? = nil, checkinDeadline: Date? = nil
    ) {
        self.previousBorderCrossing = previousBorderCrossing
        self.route = route
        self.borderCrossing = borderCrossing
        self.opensAt = opensAt
        self.closesAt = closesAt
        self.meetingPoint = meetingPoint
        self.meetingPointAddress = meetingPointAddress
        self.meetingPointLocation = meetingPointLocation
        self.previousMeetingPoint = previousMeetingPoint
        self.contactPhone = contactPhone
        self.timeZone = timeZone
        self.text = text
        self.checkinDeadline = checkinDeadline
    }

    /// The place id the parameters give for `role`.
    public func placeId(_ role: PlaceUse.Role) -> Int64? {
        switch role {
        case .meetingPoint: meetingPointId
        case .borderCrossing: borderCrossingId
        case .corridor: corridorId
        case .previousMeetingPoint, .previousBorderCrossing: nil
        }
    }

    /// These parameters with the texts of `places` filled in: a place's name (and a meeting
    /// point's address and position) for its role; its contact phone when none is given.
    public func resolved(with places: [PlaceUse]) -> AdvisoryParameters {
        guard !places.isEmpty else { return self }
        var result = self
        for use in places {
            let place = use.place
            switch use.role {
            case .meetingPoint:
                result.meetingPoint = place.name
                result.meetingPointAddress = place.address ?? result.meetingPointAddress
                result.meetingPointLocation = place.location ?? result.meetingPointLocation
            case .borderCrossing: result.borderCrossing = place.name
            case .corridor: result.route = place.name
            case .previousMeetingPoint: result.previousMeetingPoint = place.name
            case .previousBorderCrossing: result.previousBorderCrossing = place.name
            }
        }
        if result.contactPhone == nil {
            let order: [PlaceUse.Role] = [.meetingPoint, .borderCrossing, .corridor]
            result.contactPhone = order.lazy.compactMap { role in places.first { $0.role == role }?.place.contactPhone }.first
        }
        return result
    }

    /// The text parameters by name, as the templates name them.
    public var texts: [(name: String, value: LocalizedText)] {
        let all: [(String, LocalizedText?)] = [
            ("route", route), ("borderCrossing", borderCrossing), ("meetingPoint", meetingPoint),
            ("meetingPointAddress", meetingPointAddress), ("previousMeetingPoint", previousMeetingPoint),
            ("previousBorderCrossing", previousBorderCrossing), ("text", text),
        ]
        return all.compactMap { name, value in value.map { (name, $0) } }
    }

    /// The typed values templates are rendered with at `now` for readers of `language`: each
    /// text parameter's value for that language (else the first of `fallback` that has one),
    /// times (the catalog formats them in the advisory's zone and Astana's), the consular
    /// phone grouped for reading, the meeting point as a map link, and the check-in deadline.
    public func templateArguments(now: Date, language: Language, fallback: [Language] = []) -> [String: MessageArgument] {
        var arguments: [String: MessageArgument] = [:]
        for (name, value) in texts {
            if let text = value.value(for: language, fallback: fallback) { arguments[name] = .text(text) }
        }
        if let opensAt { arguments["opensAt"] = .date(opensAt) }
        if let closesAt { arguments["closesAt"] = .date(closesAt) }
        if let opensAt, let closesAt {
            // A window within one local day names its date once.
            let zone = timeZone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!
            let day = { (date: Date) in LocaleFormat.date(date, zone, .english) }
            arguments["sameDay"] = .text(day(opensAt) == day(closesAt) ? "yes" : "no")
        }
        // Whether a correction replaces the crossing (its text then names the old one).
        arguments["borderCrossingChanged"] = .text(previousBorderCrossing == nil ? "no" : "yes")
        arguments["meetingPointChanged"] = .text(previousMeetingPoint == nil ? "no" : "yes")
        if let meetingPointLocation {
            arguments["meetingPointLocation"] = .text(LocaleFormat.mapLink(lat: meetingPointLocation.lat, lon: meetingPointLocation.lon))
            // SMS: the same link without its scheme (phones link it all the same), 8 characters fewer.
            arguments["meetingPointMap"] = .text(LocaleFormat.mapLink(lat: meetingPointLocation.lat, lon: meetingPointLocation.lon, scheme: false))
        }
        if let contactPhone { arguments["contactPhone"] = .text(LocaleFormat.phone(PhoneNumber(contactPhone)?.e164 ?? contactPhone)) }
        if let checkinDeadline {
            arguments["deadline"] = .date(checkinDeadline)
            let seconds = max(0, checkinDeadline.timeIntervalSince(now))
            arguments["hoursLeft"] = .number(max(1, (seconds / 3600).rounded(.down)))
            arguments["minutesLeft"] = .number(max(1, (seconds / 60).rounded(.down)))
        }
        return arguments
    }

    /// Placeholders `template` may use without the parameter: they stand in a `select`
    /// branch taken only when the parameter is given (`borderCrossingChanged`, `meetingPointChanged`).
    public static func optionalPlaceholders(of template: String) -> Set<String> {
        template == "green_corridor.changed" ? ["previousBorderCrossing", "previousMeetingPoint"] : []
    }

    /// The parameter a template argument comes from (`hoursLeft` from `checkinDeadline`).
    public static func source(of argument: String) -> String {
        switch argument {
        case "deadline", "hoursLeft", "minutesLeft": "checkinDeadline"
        case "sameDay": "closesAt"
        case "meetingPointMap": "meetingPointLocation"
        default: argument
        }
    }
}

/// Whether an advisory is live or a drill, as CAP's `<status>` says it (`Actual`, `Exercise`).
public enum CAPStatus: String, Sendable, Codable, CaseIterable {
    case actual, exercise

    public init(exercise: Bool) { self = exercise ? .exercise : .actual }
    public var isExercise: Bool { self == .exercise }
    /// CAP 1.2's spelling.
    public var cap: String { self == .exercise ? "Exercise" : "Actual" }
}

/// What HQ says: a kind, a severity, an audience, parameters, a template and a channel plan.
/// (As stored; `NewAdvisory` before it is.)
public typealias Advisory = AdvisoryRecord<Int64>
/// An advisory on the way into the store.
public typealias NewAdvisory = AdvisoryRecord<Unsaved>

public struct AdvisoryRecord<ID: RecordID>: Sendable, Hashable, Codable, Identifiable {
    public var id: ID
    public var kind: AdvisoryKind
    public var severity: Severity
    public var audience: Audience
    public var params: AdvisoryParameters
    /// Catalog template key, e.g. `green_corridor.opened`.
    public var template: String
    public var channelPlan: ChannelPlan
    public var expiresAt: Date
    public var status: AdvisoryStatus
    public var version: Int
    public var author: String
    public var approver: String?
    public var createdAt: Date
    public var publishedAt: Date?
    public var cancelledAt: Date?
    public var scope: AdvisoryScope
    /// When an approved advisory goes out; nil: at approval.
    public var publishAt: Date?
    public var authorTokenId: Int64?
    public var approverTokenId: Int64?
    public var pendingCorrection: PendingCorrection?
    /// The version whose deliveries carry the cancellation notice, if one was sent.
    public var cancelNoticeVersion: Int?
    /// The place versions its texts are rendered from (resolved again when it is queued).
    public var places: [PlaceUse]
    /// A drill (CAP `<status>Exercise</status>`), not a live advisory: every text carries the
    /// exercise marker, and it goes only through channels configured `exercise: true`.
    public var exercise: Bool
    /// Sending held by an approver (nothing more is handed to a provider until resumed);
    /// who held it. Deliveries already with a provider go on.
    public var interruptedAt: Date?
    public var interruptedBy: String?

    public init(
        id: ID, kind: AdvisoryKind, severity: Severity, audience: Audience,
        params: AdvisoryParameters, template: String, channelPlan: ChannelPlan, expiresAt: Date,
        status: AdvisoryStatus = .draft, version: Int = 1, author: String, approver: String? = nil,
        createdAt: Date = Date(), publishedAt: Date? = nil, cancelledAt: Date? = nil, scope: AdvisoryScope = .restricted,
        publishAt: Date? = nil, authorTokenId: Int64? = nil, approverTokenId: Int64? = nil,
        pendingCorrection: PendingCorrection? = nil, cancelNoticeVersion: Int? = nil, places: [PlaceUse] = [], exercise: Bool = false,
        interruptedAt: Date? = nil, interruptedBy: String? = nil
    ) {
        self.interruptedAt = interruptedAt
        self.interruptedBy = interruptedBy
        self.exercise = exercise
        self.places = places
        self.id = id
        self.kind = kind
        self.severity = severity
        self.audience = audience
        self.params = params
        self.template = template
        self.channelPlan = channelPlan
        self.expiresAt = expiresAt
        self.status = status
        self.version = version
        self.author = author
        self.approver = approver
        self.createdAt = createdAt
        self.publishedAt = publishedAt
        self.cancelledAt = cancelledAt
        self.scope = scope
        self.publishAt = publishAt
        self.authorTokenId = authorTokenId
        self.approverTokenId = approverTokenId
        self.pendingCorrection = pendingCorrection
        self.cancelNoticeVersion = cancelNoticeVersion
    }

    /// Approved, waiting for `publishAt`.
    public var isScheduled: Bool { status == .draft && approver != nil }

    /// This advisory with `correction` applied, as its next version.
    public func applying(_ correction: AdvisoryCorrection) -> Self {
        var next = self
        if let severity = correction.severity { next.severity = severity }
        if let params = correction.params { next.params = params }
        if let template = correction.template { next.template = template }
        if let expiresAt = correction.expiresAt { next.expiresAt = expiresAt }
        if let places = correction.places { next.places = places }
        next.version = version + 1
        next.pendingCorrection = nil
        return next
    }

    /// This record under the id the store gave it.
    public func stored(id: Int64) -> Advisory {
        Advisory(id: id, kind: kind, severity: severity, audience: audience, params: params, template: template, channelPlan: channelPlan, expiresAt: expiresAt, status: status, version: version, author: author, approver: approver, createdAt: createdAt, publishedAt: publishedAt, cancelledAt: cancelledAt, scope: scope, publishAt: publishAt, authorTokenId: authorTokenId, approverTokenId: approverTokenId, pendingCorrection: pendingCorrection, cancelNoticeVersion: cancelNoticeVersion, places: places, exercise: exercise, interruptedAt: interruptedAt, interruptedBy: interruptedBy)
    }
}
