import Foundation
import HabarCore
import HabarMessages

/// The compose form's fields read into an advisory, and the advisory's errors sorted to the
/// fields they concern. Field names follow the API's: `kind`, `severity`, `status`,
/// `template`, `expiresAt`, `publishAt`, `scope`; the audience's `countries`, `cities`,
/// `tags`, `groupIds`, `agencyIds` (comma-separated), `citizenIds`, `all`; a checkbox
/// `channel.<name>` per configured channel and `mode`; each text parameter per language
/// (`route.kk`, `route.ru`, `route.en`); places by id (`meetingPointId`, …); times as
/// `YYYY-MM-DD HH:MM` in UTC (a `T` between them, seconds or an offset are read too).
struct ComposeForm {
    var fields: [String: String]
    /// Problems by the form field (or group of fields) they belong next to.
    var errors: [String: [String]] = [:]

    /// Parameters with a text per language.
    static let textParameters = ["route", "borderCrossing", "meetingPoint", "meetingPointAddress", "previousMeetingPoint", "previousBorderCrossing", "text"]
    /// Parameters that are moments.
    static let timeParameters = ["opensAt", "closesAt", "checkinDeadline"]
    /// Parameters that are one string for everyone.
    static let plainParameters = ["contactPhone", "timeZone"]

    init(fields: [String: String]) { self.fields = fields }

    func value(_ name: String) -> String? {
        guard let raw = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else { return nil }
        return raw
    }

    /// A comma-separated list (countries also by spaces, upper-cased).
    func list(_ name: String, upper: Bool = false) -> [String]? {
        guard let raw = value(name) else { return nil }
        let separators: Set<Character> = upper ? [",", ";", " "] : [",", ";"]
        let items = raw.split(whereSeparator: { separators.contains($0) }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return items.isEmpty ? nil : items.map { upper ? $0.uppercased() : $0 }
    }

    mutating func fail(_ field: String, _ detail: String) { errors[field, default: []].append(detail) }

    static let timeFormats: [String] = ["yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ssXXXXX"]

    /// A moment typed in UTC.
    mutating func time(_ name: String) -> Date? {
        guard let raw = value(name) else { return nil }
        for format in Self.timeFormats {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = format
            if let date = formatter.date(from: raw) { return date }
        }
        fail(name, "'\(raw)' is not a date and time (YYYY-MM-DD HH:MM, UTC)")
        return nil
    }

    static func timeField(_ date: Date?) -> String {
        guard let date else { return "" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }

    /// A text parameter from its per-language fields; nil when none is filled.
    func localized(_ name: String) -> LocalizedText? {
        var texts: [Language: String] = [:]
        for language in Language.allCases { if let text = value("\(name).\(language.tag)") { texts[language] = text } }
        return texts.isEmpty ? nil : .perLanguage(texts)
    }

    mutating func placeId(_ name: String) -> Int64? {
        guard let raw = value(name) else { return nil }
        guard let id = Int64(raw), id > 0 else { fail(name, "'\(raw)' is not a place id"); return nil }
        return id
    }

    /// The parameters the form gives.
    mutating func parameters() -> AdvisoryParameters {
        var params = AdvisoryParameters(
            route: localized("route"), borderCrossing: localized("borderCrossing"), opensAt: time("opensAt"), closesAt: time("closesAt"),
            meetingPoint: localized("meetingPoint"), meetingPointAddress: localized("meetingPointAddress"),
            previousMeetingPoint: localized("previousMeetingPoint"), previousBorderCrossing: localized("previousBorderCrossing"),
            contactPhone: value("contactPhone"), timeZone: value("timeZone"), text: localized("text"), checkinDeadline: time("checkinDeadline"))
        params.meetingPointId = placeId("meetingPointId")
        params.borderCrossingId = placeId("borderCrossingId")
        params.corridorId = placeId("corridorId")
        // A place chosen from the registry fills its texts: what was typed for them is set aside.
        if params.corridorId != nil { params.route = nil }
        if params.borderCrossingId != nil { params.borderCrossing = nil }
        if params.meetingPointId != nil {
            params.meetingPoint = nil
            params.meetingPointAddress = nil
            return params
        }
        if let lat = value("meetingPointLocation.lat"), let lon = value("meetingPointLocation.lon") {
            if let lat = Double(lat), let lon = Double(lon) {
                params.meetingPointLocation = GeoPoint(lat: lat, lon: lon)
            } else {
                fail("meetingPointLocation", "latitude and longitude must be numbers")
            }
        }
        return params
    }

    /// The audience the form selects.
    mutating func audience() -> Audience {
        var citizenIds: [Int64]?
        if let ids = list("citizenIds") {
            citizenIds = ids.compactMap { Int64($0) }
            for id in ids where Int64(id) == nil { fail("audience", "'\(id)' is not a citizen id") }
        }
        return Audience(
            all: fields["all"] == "on" ? true : nil, countries: list("countries", upper: true), cities: list("cities"),
            groupIds: list("groupIds"), agencyIds: list("agencyIds"), tags: list("tags"), citizenIds: citizenIds)
    }

    /// The channels ticked, in the configured order.
    func channelPlan(configured: [String]) -> ChannelPlan {
        ChannelPlan(mode: fields["mode"] == "all" ? .all : .fallback, channels: configured.filter { fields["channel.\($0)"] == "on" })
    }

    /// The new advisory the form describes (with its reading errors in `errors`).
    mutating func advisory(author: Actor, configuredChannels: [String], now: Date) -> NewAdvisory {
        let kind = value("kind").flatMap(AdvisoryKind.init(rawValue:)) ?? .general
        if let raw = value("kind"), AdvisoryKind(rawValue: raw) == nil { fail("kind", "unknown kind '\(raw)'") }
        let severity = value("severity").flatMap(Severity.init(rawValue:)) ?? .severe
        let expiresAt = time("expiresAt")
        if expiresAt == nil, errors["expiresAt"] == nil { fail("expiresAt", "is required: when the advisory stops being in force") }
        return NewAdvisory(
            id: .unsaved, kind: kind, severity: severity, audience: audience(), params: parameters(),
            template: value("template").flatMap { $0.hasPrefix(kind.rawValue + ".") ? $0 : nil } ?? kind.defaultTemplate, channelPlan: channelPlan(configured: configuredChannels),
            expiresAt: expiresAt ?? now.addingTimeInterval(86_400), author: author.name, createdAt: now,
            scope: fields["scope"] == "public" ? .public : .restricted, publishAt: time("publishAt"), authorTokenId: author.tokenId,
            exercise: fields["status"] == "exercise")
    }

    /// The correction the form describes for `advisory` (kind, audience and channels stay).
    mutating func correction(of advisory: Advisory) -> AdvisoryCorrection {
        let severity = value("severity").flatMap(Severity.init(rawValue:))
        return AdvisoryCorrection(
            severity: severity == advisory.severity ? nil : severity, params: parameters(),
            template: value("template").flatMap { $0 == advisory.template ? nil : $0 }, expiresAt: time("expiresAt"))
    }

    /// Sorts a validation failure's errors to the fields their pointers name.
    mutating func add(_ failure: ValidationFailure) {
        for error in failure.errors { fail(Self.field(for: error.pointer ?? ""), error.detail) }
    }

    /// The form field a JSON Pointer into an advisory points at: `/params/route/kk` → `route`,
    /// `/audience/countries/0` → `audience`, `/channelPlan/channels/1` → `channels`.
    static func field(for pointer: String) -> String {
        let parts = pointer.split(separator: "/").map(String.init)
        guard let first = parts.first else { return "form" }
        switch first {
        case "params": return parts.count > 1 ? parts[1] : "params"
        case "channelPlan": return "channels"
        default: return first
        }
    }

    /// The form's fields from a stored advisory (a correction's starting point, or a copy).
    static func fields(of advisory: Advisory) -> [String: String] {
        var fields: [String: String] = [
            "kind": advisory.kind.rawValue, "severity": advisory.severity.rawValue, "template": advisory.template,
            "status": advisory.exercise ? "exercise" : "actual", "scope": advisory.scope.rawValue,
            "expiresAt": timeField(advisory.expiresAt), "mode": advisory.channelPlan.mode.rawValue,
        ]
        let audience = advisory.audience
        if audience.all == true { fields["all"] = "on" }
        for (name, values) in [
            ("countries", audience.countries), ("cities", audience.cities), ("tags", audience.tags), ("groupIds", audience.groupIds),
            ("agencyIds", audience.agencyIds), ("citizenIds", audience.citizenIds?.map(String.init)),
        ] {
            if let values, !values.isEmpty { fields[name] = values.joined(separator: ", ") }
        }
        for channel in advisory.channelPlan.channels { fields["channel.\(channel)"] = "on" }
        let params = advisory.params
        let texts: [String: LocalizedText?] = [
            "route": params.route, "borderCrossing": params.borderCrossing, "meetingPoint": params.meetingPoint,
            "meetingPointAddress": params.meetingPointAddress, "previousMeetingPoint": params.previousMeetingPoint,
            "previousBorderCrossing": params.previousBorderCrossing, "text": params.text,
        ]
        for (name, text) in texts {
            guard let text else { continue }
            for language in Language.allCases { if let value = text.value(for: language) { fields["\(name).\(language.tag)"] = value } }
        }
        for (name, date) in [("opensAt", params.opensAt), ("closesAt", params.closesAt), ("checkinDeadline", params.checkinDeadline)] {
            if let date { fields[name] = timeField(date) }
        }
        if let phone = params.contactPhone { fields["contactPhone"] = phone }
        if let zone = params.timeZone { fields["timeZone"] = zone }
        if let id = params.meetingPointId { fields["meetingPointId"] = String(id) }
        if let id = params.borderCrossingId { fields["borderCrossingId"] = String(id) }
        if let id = params.corridorId { fields["corridorId"] = String(id) }
        if let location = params.meetingPointLocation, params.meetingPointId == nil {
            fields["meetingPointLocation.lat"] = String(location.lat)
            fields["meetingPointLocation.lon"] = String(location.lon)
        }
        return fields
    }
}
