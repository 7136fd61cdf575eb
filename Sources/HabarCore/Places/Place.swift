import Foundation
import HabarMessages

/// What a place is in an evacuation.
public enum PlaceKind: String, Sendable, Codable, CaseIterable {
    case meetingPoint = "meeting_point"
    case borderCrossing = "border_crossing"
    case corridor
}

/// Whether a place can be used now.
public enum PlaceStatus: String, Sendable, Codable, CaseIterable {
    case open, closed
}

/// One version of a green corridor, border crossing or meeting point as HQ keeps it: names
/// and addresses per language, position, contact and status. Every change is a new version;
/// advisories name places by id and record the version they were rendered from.
/// (As stored; `NewPlace` before it is.)
public typealias Place = PlaceRecord<Int64>
/// A place on the way into the store.
public typealias NewPlace = PlaceRecord<Unsaved>

public struct PlaceRecord<ID: RecordID>: Sendable, Hashable, Codable, Identifiable {
    public var id: ID
    public var version: Int
    public var kind: PlaceKind
    public var name: LocalizedText
    public var address: LocalizedText?
    public var location: GeoPoint?
    /// ISO 3166-1 alpha-2.
    public var country: String?
    /// E.164.
    public var contactPhone: String?
    /// Free text per language ("daily 08:00–20:00").
    public var openingHours: LocalizedText?
    public var status: PlaceStatus
    public var createdAt: Date
    /// When this version was made, and by whom.
    public var updatedAt: Date
    public var updatedBy: String

    public init(
        id: ID, version: Int = 1, kind: PlaceKind, name: LocalizedText, address: LocalizedText? = nil, location: GeoPoint? = nil,
        country: String? = nil, contactPhone: String? = nil, openingHours: LocalizedText? = nil, status: PlaceStatus = .open,
        createdAt: Date = Date(), updatedAt: Date = Date(), updatedBy: String
    ) {
        self.id = id
        self.version = version
        self.kind = kind
        self.name = name
        self.address = address
        self.location = location
        self.country = country
        self.contactPhone = contactPhone
        self.openingHours = openingHours
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }

    /// Whether `other` says anything different to a citizen (the version's time and author aside).
    public func differs(from other: Self) -> Bool {
        var a = self, b = other
        (a.version, a.updatedAt, a.updatedBy) = (0, .distantPast, "")
        (b.version, b.updatedAt, b.updatedBy) = (0, .distantPast, "")
        return a != b
    }

    /// Checks what a person wrote; every problem by JSON Pointer.
    public func validate() throws(ValidationFailure) {
        var v = Validator()
        for (pointer, text) in [("/name", Optional(name)), ("/address", address), ("/openingHours", openingHours)] {
            guard let text else { continue }
            for value in text.allValues {
                v.check(!value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, pointer, "is empty")
                v.check(value.count <= 300, pointer, "is longer than 300 characters")
            }
        }
        if let location {
            v.check((-90...90).contains(location.lat), "/location/lat", "must be between -90 and 90")
            v.check((-180...180).contains(location.lon), "/location/lon", "must be between -180 and 180")
        }
        if let country {
            v.check(country.count == 2 && country.allSatisfy { $0.isASCII && $0.isUppercase }, "/country", "'\(country)' is not an ISO 3166-1 alpha-2 code (IR, AZ, AM, TM)")
        }
        if let contactPhone {
            v.check(PhoneNumber(contactPhone) != nil, "/contactPhone", "'\(contactPhone)' is not a phone number (E.164, e.g. +982122565933)")
        }
        try v.throwIfAny()
    }

    /// This record under the id the store gave it.
    public func stored(id: Int64) -> Place {
        Place(id: id, version: version, kind: kind, name: name, address: address, location: location, country: country, contactPhone: contactPhone, openingHours: openingHours, status: status, createdAt: createdAt, updatedAt: updatedAt, updatedBy: updatedBy)
    }
}

/// Which places a list shows.
public struct PlaceFilter: Sendable, Hashable {
    public var kind: PlaceKind?
    public var country: String?
    public var status: PlaceStatus?

    public init(kind: PlaceKind? = nil, country: String? = nil, status: PlaceStatus? = nil) {
        self.kind = kind
        self.country = country
        self.status = status
    }
}

/// A place version an advisory was rendered from, and the part it plays in the texts.
public struct PlaceUse: Sendable, Hashable, Codable {
    public enum Role: String, Sendable, Codable, CaseIterable {
        case meetingPoint, borderCrossing, corridor
        /// The places a correction replaces: its text names old and new.
        case previousMeetingPoint, previousBorderCrossing

        /// The parameter naming the place by id, for the roles an advisory sets.
        public var idParameter: String? {
            switch self {
            case .meetingPoint: "meetingPointId"
            case .borderCrossing: "borderCrossingId"
            case .corridor: "corridorId"
            case .previousMeetingPoint, .previousBorderCrossing: nil
            }
        }

        /// The kind of place the role takes.
        public var kind: PlaceKind {
            switch self {
            case .meetingPoint, .previousMeetingPoint: .meetingPoint
            case .borderCrossing, .previousBorderCrossing: .borderCrossing
            case .corridor: .corridor
            }
        }

        /// The text parameters a place in this role fills.
        public var textParameters: [String] {
            switch self {
            case .meetingPoint: ["meetingPoint", "meetingPointAddress", "meetingPointLocation"]
            case .borderCrossing: ["borderCrossing"]
            case .corridor: ["route"]
            case .previousMeetingPoint: ["previousMeetingPoint"]
            case .previousBorderCrossing: ["previousBorderCrossing"]
            }
        }
    }

    public var role: Role
    public var place: Place

    public init(role: Role, place: Place) {
        self.role = role
        self.place = place
    }
}
