import Foundation
import HabarCore
import HabarMessages
import HabarStoreSQLite

/// Ready-made domain values and stores for tests.
public enum Fixtures {
    /// A citizen in Iran with a Kazakh mobile number derived from `index`.
    public static func citizen(_ index: Int, language: Language = .russian, email: Bool = false, country: String = "IR") -> Citizen {
        Citizen(
            fullName: "Citizen \(index)", language: language,
            phone: PhoneNumber(String(format: "+7701%07d", index)),
            email: email ? "citizen\(index)@example.kz" : nil, country: country)
    }

    /// A published-ready green corridor advisory for everyone in `country`.
    public static func advisory(
        country: String = "IR", channels: [String] = ["sms"], mode: ChannelPlan.Mode = .fallback,
        severity: Severity = .severe, expiresAt: Date = Date().addingTimeInterval(3600), template: String = "green_corridor.opened"
    ) -> Advisory {
        Advisory(
            kind: .greenCorridor, severity: severity, audience: Audience(countries: [country]),
            params: AdvisoryParameters(
                route: "Тегеран — Астара", borderCrossing: "Астара", opensAt: Date(timeIntervalSince1970: 1_773_300_600),
                closesAt: Date(timeIntervalSince1970: 1_773_338_400),
                meetingPoint: "Посольство РК", contactPhone: "+982100000000", timeZone: "Asia/Tehran"),
            template: template, channelPlan: ChannelPlan(mode: mode, channels: channels), expiresAt: expiresAt, author: "operator-1")
    }

    /// The repository's own catalogs (`messages/`).
    public static func catalog() throws -> MessageCatalog {
        try MessageCatalog.load(directory: repositoryRoot.appendingPathComponent("messages"))
    }

    /// The package root, found from this file's location.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A fresh directory under the system temporary directory.
    public static func temporaryDirectory(_ name: String = "habar") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The two stores storage tests run against: in memory and a WAL pool on disk.
    public static func stores() throws -> [(name: String, store: SQLiteStore)] {
        [("in-memory queue", try SQLiteStore.inMemory()), ("file pool", try SQLiteStore.open(directory: temporaryDirectory("store")))]
    }
}

extension JSONValue {
    /// An adapter's typed options as the configuration's JSON value.
    public init(encoding value: some Encodable) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }
}
