import Foundation

/// Which citizens an advisory is for.
///
/// Citizens listed in `citizenIds` are always included. The other selectors narrow the rest:
/// each non-empty selector must match (values within one selector are alternatives), so
/// `countries: ["IR"], tags: ["pilgrims"]` means pilgrims in Iran. `all: true` with no other
/// selector targets everyone; an audience that names nothing is refused, never read as "all".
public struct Audience: Sendable, Hashable, Codable {
    public var all: Bool?
    public var countries: [String]?
    public var cities: [String]?
    public var groupIds: [String]?
    public var agencyIds: [String]?
    public var tags: [String]?
    public var citizenIds: [Int64]?
    public var circle: Circle?
    public var polygon: [GeoPoint]?

    /// A centre and a radius around citizens' last known positions.
    public struct Circle: Sendable, Hashable, Codable {
        public var center: GeoPoint
        public var radiusKm: Double
        public init(center: GeoPoint, radiusKm: Double) {
            self.center = center
            self.radiusKm = radiusKm
        }
    }

    public init(
        all: Bool? = nil, countries: [String]? = nil, cities: [String]? = nil, groupIds: [String]? = nil,
        agencyIds: [String]? = nil, tags: [String]? = nil, citizenIds: [Int64]? = nil,
        circle: Circle? = nil, polygon: [GeoPoint]? = nil
    ) {
        self.all = all
        self.countries = countries
        self.cities = cities
        self.groupIds = groupIds
        self.agencyIds = agencyIds
        self.tags = tags
        self.citizenIds = citizenIds
        self.circle = circle
        self.polygon = polygon
    }

    /// Whether any narrowing selector is set.
    public var hasFilters: Bool {
        [countries, cities, groupIds, agencyIds, tags].contains { !($0 ?? []).isEmpty } || circle != nil || polygon != nil
    }

    public func validate(pointer: String = "/audience") throws(ValidationFailure) {
        var v = Validator()
        let namesSomeone = all == true || hasFilters || !(citizenIds ?? []).isEmpty
        v.check(namesSomeone, pointer, "selects nobody: give a selector, citizenIds, or \"all\": true")
        if all == true {
            v.check(!hasFilters, pointer + "/all", "\"all\" cannot be combined with other selectors")
        }
        for (index, country) in (countries ?? []).enumerated() {
            v.check(Identifiers.isCountryCode(country), "\(pointer)/countries/\(index)", "'\(country)' is not an ISO 3166-1 alpha-2 country code")
        }
        if let circle {
            v.check(circle.center.isValid, pointer + "/circle/center", "latitude must be -90...90 and longitude -180...180")
            v.check(circle.radiusKm > 0 && circle.radiusKm <= 20_000, pointer + "/circle/radiusKm", "must be more than 0 and at most 20000")
        }
        if let polygon {
            v.check(polygon.count >= 3, pointer + "/polygon", "needs at least 3 points")
            for (index, point) in polygon.enumerated() where !point.isValid {
                v.add("\(pointer)/polygon/\(index)", "latitude must be -90...90 and longitude -180...180")
            }
        }
        try v.throwIfAny()
    }
}

/// Plane geometry on the sphere, shared by every store that resolves geographic audiences.
public enum Geography {
    /// Great-circle distance in kilometres.
    public static func distanceKm(_ a: GeoPoint, _ b: GeoPoint) -> Double {
        let radius = 6371.0088
        let dLat = (b.lat - a.lat) * .pi / 180
        let dLon = (b.lon - a.lon) * .pi / 180
        let h = sin(dLat / 2) * sin(dLat / 2)
            + cos(a.lat * .pi / 180) * cos(b.lat * .pi / 180) * sin(dLon / 2) * sin(dLon / 2)
        return 2 * radius * asin(min(1, sqrt(h)))
    }

    /// Ray casting in longitude/latitude; adequate for the city-to-country sized areas HQ draws.
    public static func contains(_ polygon: [GeoPoint], _ point: GeoPoint) -> Bool {
        var inside = false
        var j = polygon.count - 1
        for i in polygon.indices {
            let a = polygon[i], b = polygon[j]
            if (a.lat > point.lat) != (b.lat > point.lat),
                point.lon < (b.lon - a.lon) * (point.lat - a.lat) / (b.lat - a.lat) + a.lon
            {
                inside.toggle()
            }
            j = i
        }
        return inside
    }
}
