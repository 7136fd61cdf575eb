import Foundation

/// A problem in a catalog or in rendering from it, with where it is: file, key, and the
/// line and column in the file (1-based) when known.
public struct CatalogError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String?
    public var key: String?
    public var line: Int?
    public var column: Int?
    public var detail: String

    public init(file: String? = nil, key: String? = nil, line: Int? = nil, column: Int? = nil, detail: String) {
        self.file = file
        self.key = key
        self.line = line
        self.column = column
        self.detail = detail
    }

    /// `messages/ru.json:12:40: key 'green_corridor.opened.sms': …`, the way compilers write it.
    public var description: String {
        var location = file ?? ""
        if let line { location += ":\(line)" + (column.map { ":\($0)" } ?? "") }
        return [location.isEmpty ? nil : location, key.map { "key '\($0)'" }, detail].compactMap { $0 }.joined(separator: ": ")
    }
}

/// One catalog string: its parsed message and where its value starts in the file.
public struct CatalogEntry: Sendable, Hashable {
    public var message: MessageFormat
    /// Maps an offset in the message to a line and column of the file.
    var position: JSONStringPosition?

    public init(_ message: MessageFormat) {
        self.message = message
        self.position = nil
    }

    public init(_ source: String) throws(MessageFormat.Failure) {
        self.init(try MessageFormat(source))
    }
}

/// The message catalogs: one flat JSON object per language (`messages/kk.json`, …) whose
/// values are ICU MessageFormat strings. Keys are `<template>.<variant>` (variants per
/// message kind: `sms`, `email.subject`, `email.text`, `email.html`, `webhook.title`,
/// `webhook.text`) and `zone.<IANA id>` (a time zone's place name as the templates use it:
/// Russian genitive, "по времени Тегерана").
public struct MessageCatalog: Sendable {
    /// Entries by language, then by full key.
    public private(set) var entries: [Language: [String: CatalogEntry]]
    /// The files they were read from, by language.
    public private(set) var files: [Language: String] = [:]

    /// `zone.*` names by language and zone id, read once.
    private var zoneNames: [Language: [String: String]] = [:]

    public init(entries: [Language: [String: CatalogEntry]]) {
        self.entries = entries
        for (language, byKey) in entries {
            for (key, entry) in byKey where key.hasPrefix("zone.") {
                if let name = try? entry.message.format([:], language: language, zones: MessageZones()) {
                    zoneNames[language, default: [:]][String(key.dropFirst(5))] = name
                }
            }
        }
    }

    /// Loads every `<language>.json` in `directory`; the first problem is an error naming
    /// the file, key, line and column (`check(directory:)` lists them all).
    public static func load(directory: URL) throws(CatalogError) -> MessageCatalog {
        let (catalog, problems) = read(directory: directory)
        if let first = problems.first { throw first }
        return catalog
    }

    /// Reads what can be read and lists every problem on the way.
    static func read(directory: URL) -> (MessageCatalog, [CatalogError]) {
        var entries: [Language: [String: CatalogEntry]] = [:]
        var files: [Language: String] = [:]
        var problems: [CatalogError] = []
        for language in Language.allCases {
            let url = directory.appendingPathComponent("\(language.tag).json")
            let file = url.path
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            files[language] = file
            guard let text = String(data: data, encoding: .utf8) else {
                problems.append(CatalogError(file: file, detail: "not UTF-8"))
                continue
            }
            let object: [(key: String, value: String, position: JSONStringPosition)]
            do { object = try FlatJSON.parse(text) } catch {
                problems.append(CatalogError(file: file, line: error.line, column: error.column, detail: error.detail))
                continue
            }
            var parsed: [String: CatalogEntry] = [:]
            for (key, value, position) in object {
                if parsed[key] != nil {
                    let (line, column) = position.location(ofCharacter: 0)
                    problems.append(CatalogError(file: file, key: key, line: line, column: column, detail: "appears twice"))
                    continue
                }
                do {
                    var entry = try CatalogEntry(value)
                    entry.position = position
                    parsed[key] = entry
                } catch {
                    let (line, column) = position.location(ofCharacter: error.offset)
                    problems.append(CatalogError(file: file, key: key, line: line, column: column, detail: error.detail))
                }
            }
            entries[language] = parsed
        }
        if entries.isEmpty {
            problems.append(CatalogError(file: directory.path, detail: "no catalog (kk.json, ru.json or en.json) found"))
        }
        var catalog = MessageCatalog(entries: entries)
        catalog.files = files
        return (catalog, problems)
    }

    /// The languages that have a catalog.
    public var languages: [Language] { entries.keys.sorted() }

    /// Whether `template` exists for every variant of `kind` in `language`.
    public func has(template: String, kind: MessageKind, language: Language) -> Bool {
        kind.variants.allSatisfy { entries[language]?["\(template).\($0)"] != nil }
    }

    /// Every template name (keys without their variant), across languages.
    public var templateNames: Set<String> {
        var names: Set<String> = []
        for byKey in entries.values {
            for key in byKey.keys where !key.hasPrefix("zone.") {
                if let variant = MessageKind.allVariants.first(where: { key.hasSuffix(".\($0)") }) {
                    names.insert(String(key.dropLast(variant.count + 1)))
                }
            }
        }
        return names
    }

    /// The parameters `template` uses in any language and variant (`localZone` is the
    /// catalog's own).
    public func placeholders(of template: String) -> Set<String> {
        var names: Set<String> = []
        for (_, byKey) in entries {
            for (key, entry) in byKey where key.hasPrefix(template + ".") {
                names.formUnion(entry.message.arguments)
            }
        }
        return names.subtracting(Self.catalogArguments)
    }

    /// Arguments the catalog fills itself.
    public static let catalogArguments: Set<String> = ["localZone"]

    /// The place name of `zone` as `language`'s templates use it, else its UTC offset.
    public func zoneName(_ zone: TimeZone, _ language: Language) -> String {
        if let name = zoneNames[language]?[zone.identifier] { return name }
        let offset = zone.secondsFromGMT()
        let minutes = abs(offset) / 60
        return "UTC\(offset < 0 ? "-" : "+")\(minutes / 60)" + (minutes % 60 == 0 ? "" : String(format: ":%02d", minutes % 60))
    }

    /// Renders `template` for `language` and `kind`. A missing argument, a missing variant or
    /// an argument of the wrong type is an error naming it; argument values are text, never
    /// message syntax, and are escaped in HTML.
    public func render(
        template: String, kind: MessageKind, language: Language, arguments: [String: MessageArgument], zones: MessageZones = MessageZones()
    ) throws(CatalogError) -> RenderedMessage {
        var arguments = arguments
        arguments["localZone"] = .text(zoneName(zones.local, language))
        func variant(_ suffix: String, escapeHTML: Bool = false) throws(CatalogError) -> String {
            let key = "\(template).\(suffix)"
            guard let entry = entries[language]?[key] else {
                throw CatalogError(file: "\(language.tag).json", key: key, detail: "missing")
            }
            do { return try entry.message.format(arguments, language: language, zones: zones, escapeHTML: escapeHTML) } catch {
                throw CatalogError(file: "\(language.tag).json", key: key, detail: error.detail)
            }
        }
        switch kind {
        case .sms:
            return RenderedMessage(language: language, kind: kind, text: try variant("sms"))
        case .email:
            return RenderedMessage(
                language: language, kind: kind, subject: try variant("email.subject"), text: try variant("email.text"),
                html: try variant("email.html", escapeHTML: true))
        case .webhook:
            return RenderedMessage(language: language, kind: kind, subject: try variant("webhook.title"), text: try variant("webhook.text"))
        }
    }
}

extension MessageCatalog {
    /// One plain key (a page's text, `page.checkin.title`) for `language`, formatted with
    /// `arguments`; nil when the key is missing or does not format.
    public func string(_ key: String, language: Language, arguments: [String: MessageArgument] = [:], zones: MessageZones = MessageZones()) -> String? {
        var arguments = arguments
        arguments["localZone"] = .text(zoneName(zones.local, language))
        return try? entries[language]?[key]?.message.format(arguments, language: language, zones: zones, escapeHTML: false)
    }
}

extension MessageKind {
    /// Every variant suffix of every kind.
    public static let allVariants: [String] = allCases.flatMap(\.variants)
}

/// HTML text escaping for parameters placed into HTML variants.
public enum HTML {
    public static func escape(_ text: String) -> String {
        // Scanning bytes: this runs for every parameter of every HTML variant rendered.
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
