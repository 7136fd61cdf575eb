import Foundation
import HabarMessages

/// A travel agency: its own `agency` token reads its tourists; its `whsec_` secrets verify
/// the webhooks it sends and sign the ones it receives.
public struct Agency: Sendable, Hashable, Codable, Identifiable {
    public var id: String
    public var name: String
    /// Where Habar sends `group.advisory` webhooks (nil: none).
    public var webhookURL: String?
    public var language: Language
    public var createdAt: Date
    /// Why its webhook no longer gets group advisories (a 410 from the agency, or an
    /// operator's `habar subscriber disable`); nil while it does, or has no URL.
    public var webhookDisabledReason: String?

    public init(id: String, name: String, webhookURL: String?, language: Language, createdAt: Date, webhookDisabledReason: String? = nil) {
        self.id = id
        self.name = name
        self.webhookURL = webhookURL
        self.language = language
        self.createdAt = createdAt
        self.webhookDisabledReason = webhookDisabledReason
    }

    /// Agency ids: 1 to 64 of `a-z`, `0-9`, `-`, `_` (they appear in URLs and tokens).
    public static func isValidId(_ id: String) -> Bool {
        (1...64).contains(id.count) && id.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
    }
}

/// One group's journey, as agencies report it.
public enum GroupStatus: String, Sendable, Codable, CaseIterable {
    case atMeetingPoint = "at_meeting_point"
    case crossedBorder = "crossed_border"
    case boarded
    case arrivedHome = "arrived_home"
}

/// `manifest.upsert`: a group and every tourist in it.
public struct Manifest: Sendable, Hashable, Codable {
    public struct Group: Sendable, Hashable, Codable {
        public var id: String
        public var name: String
        public var destination: Destination
        public var hotel: String?
        public var returnFlight: ReturnFlight?
        public init(id: String, name: String, destination: Destination, hotel: String?, returnFlight: ReturnFlight?) {
            self.id = id
            self.name = name
            self.destination = destination
            self.hotel = hotel
            self.returnFlight = returnFlight
        }
    }
    public struct Destination: Sendable, Hashable, Codable {
        public var country: String
        public var city: String?
        public init(country: String, city: String?) {
            self.country = country
            self.city = city
        }
    }
    public struct ReturnFlight: Sendable, Hashable, Codable {
        public var number: String
        /// `YYYY-MM-DD`.
        public var date: String
        public init(number: String, date: String) {
            self.number = number
            self.date = date
        }
    }
    public struct Tourist: Sendable, Hashable, Codable {
        public var id: String
        public var fullName: String
        public var phone: String?
        public var email: String?
        public var language: Language?
        public var passportNumber: String?
        public var birthDate: String?
        public init(
            id: String, fullName: String, phone: String?, email: String?, language: Language?, passportNumber: String?, birthDate: String?
        ) {
            self.id = id
            self.fullName = fullName
            self.phone = phone
            self.email = email
            self.language = language
            self.passportNumber = passportNumber
            self.birthDate = birthDate
        }
    }
    public var group: Group
    public var tourists: [Tourist]

    public init(group: Group, tourists: [Tourist]) {
        self.group = group
        self.tourists = tourists
    }

    /// The most tourists one manifest may carry.
    public static let maxTourists = 20_000

    /// Every problem, with its JSON Pointer under `/data`; nothing is applied unless none.
    public func validate() throws(ValidationFailure) {
        var v = Validator()
        func text(_ value: String, _ pointer: String, max: Int) {
            v.check(!value.trimmingCharacters(in: .whitespaces).isEmpty && value.count <= max, pointer, "must be 1 to \(max) characters")
        }
        text(group.id, "/data/group/id", max: 100)
        text(group.name, "/data/group/name", max: 200)
        v.check(Identifiers.isCountryCode(group.destination.country), "/data/group/destination/country",
                "'\(group.destination.country)' is not an ISO 3166-1 alpha-2 country code")
        if let date = group.returnFlight?.date { v.check(Citizen.isDate(date), "/data/group/returnFlight/date", "must be YYYY-MM-DD") }
        v.check(tourists.count <= Self.maxTourists, "/data/tourists", "at most \(Self.maxTourists) tourists in one manifest")
        var seen: [String: Int] = [:]
        var phones: [String: Int] = [:]
        for (index, tourist) in tourists.enumerated() {
            let at = "/data/tourists/\(index)"
            text(tourist.id, "\(at)/id", max: 100)
            if let first = seen[tourist.id] { v.add("\(at)/id", "'\(tourist.id)' is also tourist \(first)") } else { seen[tourist.id] = index }
            text(tourist.fullName, "\(at)/fullName", max: 200)
            if let phone = tourist.phone {
                if let number = PhoneNumber(phone) {
                    if let first = phones[number.e164] { v.add("\(at)/phone", "\(number.e164) is also tourist \(first)'s number") } else { phones[number.e164] = index }
                } else {
                    v.add("\(at)/phone", "'\(phone)' is not a phone number (E.164, e.g. +77011234567)")
                }
            }
            if let email = tourist.email { v.check(Identifiers.isEmail(email), "\(at)/email", "'\(email)' is not an e-mail address") }
            v.check(tourist.phone != nil || tourist.email != nil, at, "needs a phone or an e-mail address")
            if let date = tourist.birthDate { v.check(Citizen.isDate(date), "\(at)/birthDate", "must be YYYY-MM-DD") }
        }
        try v.throwIfAny()
    }
}

/// `group.status`: where a group is.
public struct GroupStatusReport: Sendable, Hashable, Codable {
    public var groupId: String
    public var status: GroupStatus
    public var place: String?
    public var at: Date

    public enum CodingKeys: String, CodingKey, CaseIterable { case groupId, status, place, at }

    public init(groupId: String, status: GroupStatus, place: String?, at: Date) {
        self.groupId = groupId
        self.status = status
        self.place = place
        self.at = at
    }

    /// Every problem, with its JSON Pointer under `/data`.
    public func validate() throws(ValidationFailure) {
        var v = Validator()
        v.check((1...100).contains(groupId.count), "/data/groupId", "must be 1 to 100 characters")
        if let place { v.check(place.count <= 200, "/data/place", "at most 200 characters") }
        try v.throwIfAny()
    }
}

/// `tourist.checkin`: an agency's word about one tourist.
public struct TouristCheckin: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable { case safe, needHelp = "need_help" }
    public var touristId: String
    public var status: Status
    public var note: String?
    public var at: Date?

    public enum CodingKeys: String, CodingKey, CaseIterable { case touristId, status, note, at }

    public init(touristId: String, status: Status, note: String?, at: Date?) {
        self.touristId = touristId
        self.status = status
        self.note = note
        self.at = at
    }

    /// When the tourist answered: the agency's time, never later than the webhook arrived.
    public func answeredAt(receivedAt: Date) -> Date { at.map { min($0, receivedAt) } ?? receivedAt }

    /// The answer it records for the tourist's citizen, to the request open at `answeredAt`.
    public func answer(citizenId: Int64, openRequest: Int64?, agency: String, receivedAt: Date) -> CheckinAnswer {
        CheckinAnswer(
            citizenId: citizenId, advisoryId: openRequest, meaning: status == .safe ? .safe : .needsHelp, source: .agency,
            text: [agency, note].compactMap { $0 }.joined(separator: ": "), at: answeredAt(receivedAt: receivedAt))
    }

    /// The no-such-tourist refusal.
    public func unknownTourist() -> ValidationFailure {
        ValidationFailure([FieldError(pointer: "/data/touristId", detail: "this agency has no tourist '\(touristId)'")])
    }

    /// Every problem, with its JSON Pointer under `/data`.
    public func validate() throws(ValidationFailure) {
        var v = Validator()
        v.check((1...100).contains(touristId.count), "/data/touristId", "must be 1 to 100 characters")
        if let note { v.check(note.count <= 1000, "/data/note", "at most 1000 characters") }
        try v.throwIfAny()
    }
}

/// What one verified agency webhook asks for.
public enum AgencyCommand: Sendable, Hashable {
    case manifest(Manifest)
    case groupStatus(GroupStatusReport)
    case touristCheckin(TouristCheckin)

    public static let types = ["manifest.upsert", "group.status", "tourist.checkin"]
}

/// One verified agency webhook, ready to apply.
public struct AgencyEvent: Sendable, Hashable {
    public var agencyId: String
    public var webhookId: String
    public var type: String
    public var body: Data
    public var command: AgencyCommand
    public var at: Date
    public init(agencyId: String, webhookId: String, type: String, body: Data, command: AgencyCommand, at: Date) {
        self.agencyId = agencyId
        self.webhookId = webhookId
        self.type = type
        self.body = body
        self.command = command
        self.at = at
    }
}

/// What applying an agency webhook did.
public enum AgencyEventResult: Sendable, Hashable {
    /// Applied now; a short summary for the answer.
    case applied(summary: [String: Int])
    /// This webhook-id was applied before: nothing happened again.
    case duplicate
}
