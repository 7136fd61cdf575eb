import Foundation
import HabarCore
import HabarMessages
import Hummingbird
import NIOCore

/// OASIS CAP 1.2 for an advisory's current version: one `<info>` per language, the area
/// from its audience, `references` to every earlier message for `Update` and `Cancel`.
public enum CAPDocument {
    static let namespace = "urn:oasis:names:tc:emergency:cap:1.2"

    /// The whole document, with the XML declaration.
    public static func make(_ advisory: Advisory, gateway: Gateway) async throws -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + (try await alert(advisory, gateway: gateway))
    }

    /// CAP `identifier`: unique per installation, advisory and version.
    static func identifier(_ installation: String, _ id: Int64, _ version: Int) -> String {
        "habar-\(installation)-advisory-\(id)-v\(version)"
    }

    /// CAP times: seconds, explicit offset, never `Z`.
    static func time(_ date: Date) -> String {
        var style = Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!)
        style = style.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .colon)
        let text = date.formatted(style)
        return text.hasSuffix("Z") ? String(text.dropLast()) + "+00:00" : text
    }

    static func escape(_ text: String) -> String { HTML.escape(text) }

    /// The `<alert>` element alone (the Atom feed embeds it).
    static func alert(_ advisory: Advisory, gateway: Gateway) async throws -> String {
        let id = advisory.id
        let installation = try await gateway.roles.installation.installationId()
        let versions = try await gateway.roles.publishing.advisoryVersions(id: id)
        let current = versions.last
        let sender = gateway.configuration.cap.sender
        let messageType: String
        switch current?.messageType ?? .alert {
        case .alert: messageType = "Alert"
        case .update: messageType = "Update"
        case .cancel: messageType = "Cancel"
        }
        let sent = time(current?.sentAt ?? advisory.publishedAt ?? Date())
        var xml = "<alert xmlns=\"\(namespace)\">\n"
        xml += "  <identifier>\(escape(identifier(installation, id, advisory.version)))</identifier>\n"
        xml += "  <sender>\(escape(sender))</sender>\n"
        xml += "  <sent>\(sent)</sent>\n"
        xml += "  <status>\(CAPStatus(exercise: advisory.exercise).cap)</status>\n"
        xml += "  <msgType>\(messageType)</msgType>\n"
        xml += "  <scope>\(advisory.scope == .public ? "Public" : "Restricted")</scope>\n"
        if advisory.scope == .restricted {
            xml += "  <restriction>Citizens concerned and partners of the crisis headquarters only</restriction>\n"
        }
        let earlier = versions.filter { $0.version < advisory.version }
        if messageType != "Alert", !earlier.isEmpty {
            let references = earlier.map { "\(sender),\(identifier(installation, id, $0.version)),\(time($0.sentAt))" }
            xml += "  <references>\(escape(references.joined(separator: " ")))</references>\n"
        }
        // Rendered as of the version's publication, as the citizens received it.
        let texts = try gateway.publisher.render(advisory, kinds: [.webhook, .sms], now: current?.sentAt ?? gateway.now())
        for language in Language.allCases {
            guard let webhook = texts[language]?[.webhook] else { continue }
            xml += "  <info>\n"
            xml += "    <language>\(language.tag)</language>\n"
            xml += "    <category>Safety</category>\n"
            xml += "    <event>\(escape(eventName(advisory.kind, language)))</event>\n"
            xml += "    <urgency>\(advisory.severity >= .severe ? "Immediate" : "Expected")</urgency>\n"
            xml += "    <severity>\(advisory.severity.rawValue.capitalized)</severity>\n"
            xml += "    <certainty>Observed</certainty>\n"
            xml += "    <expires>\(time(advisory.expiresAt))</expires>\n"
            xml += "    <senderName>\(escape(gateway.configuration.cap.senderName))</senderName>\n"
            xml += "    <headline>\(escape(webhook.subject ?? ""))</headline>\n"
            xml += "    <description>\(escape(webhook.text))</description>\n"
            if let sms = texts[language]?[.sms] { xml += "    <instruction>\(escape(sms.text))</instruction>\n" }
            if let phone = advisory.params.resolved(with: advisory.places).contactPhone { xml += "    <contact>\(escape(phone))</contact>\n" }
            xml += area(advisory.audience, language)
            xml += "  </info>\n"
        }
        xml += "</alert>"
        return xml
    }

    /// The audience as a CAP `<area>`: a description, the drawn circle or polygon, and the
    /// countries as ISO 3166-1 geocodes.
    static func area(_ audience: Audience, _ language: Language) -> String {
        let locale = Locale(identifier: language.tag)
        var names = (audience.countries ?? []).map { locale.localizedString(forRegionCode: $0) ?? $0 }
        names += audience.cities ?? []
        if audience.circle != nil || audience.polygon != nil { names.append(areaWords[language]?.drawn ?? "drawn area") }
        if names.isEmpty { names.append(areaWords[language]?.all ?? "citizens abroad") }
        var xml = "    <area>\n      <areaDesc>\(escape(names.joined(separator: ", ")))</areaDesc>\n"
        if let polygon = audience.polygon, let first = polygon.first {
            let points = (polygon + (polygon.last == first ? [] : [first])).map { "\(coordinate($0.lat)),\(coordinate($0.lon))" }
            xml += "      <polygon>\(points.joined(separator: " "))</polygon>\n"
        }
        if let circle = audience.circle {
            xml += "      <circle>\(coordinate(circle.center.lat)),\(coordinate(circle.center.lon)) \(coordinate(circle.radiusKm))</circle>\n"
        }
        for country in audience.countries ?? [] {
            xml += "      <geocode>\n        <valueName>ISO3166-1</valueName>\n        <value>\(escape(country))</value>\n      </geocode>\n"
        }
        return xml + "    </area>\n"
    }

    static func coordinate(_ value: Double) -> String { String(format: "%.5f", value) }

    /// CAP `event`: what kind of alert this is, in each language.
    static func eventName(_ kind: AdvisoryKind, _ language: Language) -> String {
        eventNames[kind]?[language] ?? kind.rawValue
    }

    static let eventNames: [AdvisoryKind: [Language: String]] = [
        .greenCorridor: [.kazakh: "Жасыл дәліз", .russian: "Зелёный коридор", .english: "Green corridor"],
        .meetingPoint: [.kazakh: "Жиналу орны", .russian: "Место сбора", .english: "Meeting point"],
        .checkinRequest: [.kazakh: "Қауіпсіздік туралы сұрау", .russian: "Запрос о безопасности", .english: "Safety check-in"],
        .general: [.kazakh: "СІМ хабарламасы", .russian: "Сообщение МИД", .english: "Foreign ministry advisory"],
    ]

    static let areaWords: [Language: (drawn: String, all: String)] = [
        .kazakh: ("картада белгіленген аймақ", "шетелдегі азаматтар"),
        .russian: ("отмеченный на карте район", "граждане за рубежом"),
        .english: ("area drawn on the map", "citizens abroad"),
    ]
}
