import Foundation
import HabarMessages

/// What HQ knows of a citizen's safety.
public enum WelfareStatus: String, Sendable, Codable, CaseIterable {
    case unknown
    case safe
    case needsHelp = "needs_help"
    /// Every delivery to them failed.
    case unreached
}

/// A point on Earth (WGS 84 degrees).
public struct GeoPoint: Sendable, Hashable, Codable {
    public var lat: Double
    public var lon: Double
    public init(lat: Double, lon: Double) {
        self.lat = lat
        self.lon = lon
    }

    public var isValid: Bool { (-90...90).contains(lat) && (-180...180).contains(lon) }
}

/// A citizen abroad whom HQ may need to reach, as stored.
public typealias Citizen = CitizenRecord<Int64>
/// A citizen on the way into the store.
public typealias NewCitizen = CitizenRecord<Unsaved>

/// A citizen abroad whom HQ may need to reach (`Citizen` once stored, `NewCitizen` before).
public struct CitizenRecord<ID: RecordID>: Sendable, Hashable, Codable, Identifiable {
    public var id: ID
    public var fullName: String
    public var language: Language
    public var phone: PhoneNumber?
    public var email: String?
    /// Current country, ISO 3166-1 alpha-2.
    public var country: String
    public var city: String?
    public var position: GeoPoint?
    public var groupId: String?
    public var agencyId: String?
    public var tags: [String]
    public var passportNumber: String?
    /// `YYYY-MM-DD`.
    public var birthDate: String?
    public var welfareStatus: WelfareStatus
    public var lastContactAt: Date?
    /// Where the last contact came from (link, SMS, agency, operator).
    public var lastContactSource: CheckinSource?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: ID, fullName: String, language: Language = .russian, phone: PhoneNumber? = nil,
        email: String? = nil, country: String, city: String? = nil, position: GeoPoint? = nil,
        groupId: String? = nil, agencyId: String? = nil, tags: [String] = [], passportNumber: String? = nil,
        birthDate: String? = nil, welfareStatus: WelfareStatus = .unknown, lastContactAt: Date? = nil,
        createdAt: Date = Date(), updatedAt: Date = Date()
    ) {
        self.id = id
        self.fullName = fullName
        self.language = language
        self.phone = phone
        self.email = email
        self.country = country
        self.city = city
        self.position = position
        self.groupId = groupId
        self.agencyId = agencyId
        self.tags = tags
        self.passportNumber = passportNumber
        self.birthDate = birthDate
        self.welfareStatus = welfareStatus
        self.lastContactAt = lastContactAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// This citizen under the id the store gave it.
    public func stored(id: Int64) -> Citizen {
        var stored = Citizen(
            id: id, fullName: fullName, language: language, phone: phone, email: email, country: country, city: city,
            position: position, groupId: groupId, agencyId: agencyId, tags: tags, passportNumber: passportNumber,
            birthDate: birthDate, welfareStatus: welfareStatus, lastContactAt: lastContactAt, createdAt: createdAt, updatedAt: updatedAt)
        stored.lastContactSource = lastContactSource
        return stored
    }

    /// Checks what the type itself cannot: a name, a contact, a real country, sane values.
    public func validate() throws(ValidationFailure) {
        var v = Validator()
        v.check(!fullName.trimmingCharacters(in: .whitespaces).isEmpty, "/fullName", "is required")
        v.check(fullName.count <= 200, "/fullName", "is longer than 200 characters")
        v.check(phone != nil || email != nil, "/phone", "a phone or an e-mail is required")
        if let email { v.check(Identifiers.isEmail(email), "/email", "'\(email)' is not an e-mail address") }
        v.check(Identifiers.isCountryCode(country), "/country", "'\(country)' is not an ISO 3166-1 alpha-2 country code")
        if let position { v.check(position.isValid, "/lat", "latitude must be -90...90 and longitude -180...180") }
        if let birthDate { v.check(Citizen.isDate(birthDate), "/birthDate", "'\(birthDate)' is not a date YYYY-MM-DD") }
        for tag in tags { v.check(!tag.isEmpty && !tag.contains("|"), "/tags", "'\(tag)' is not a tag") }
        try v.throwIfAny()
    }

    static func isDate(_ value: String) -> Bool {
        let parts = value.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return false }
        var components = DateComponents(year: year, month: month, day: day)
        components.calendar = Calendar(identifier: .gregorian)
        return (1900...2100).contains(year) && components.isValidDate
    }
}
