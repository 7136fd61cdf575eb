import Foundation

extension MessageCatalog {
    /// The templates the gateway renders; every catalog must have each in every variant.
    public static let requiredTemplates: [String] = [
        "green_corridor.opened", "green_corridor.changed", "green_corridor.closed",
        "meeting_point.set", "meeting_point.moved",
        "checkin_request.ask", "checkin_request.reminder",
        "reply.safe", "reply.help", "reply.received",
        "advisory.correction", "advisory.cancellation",
        "general.notice",
    ]
}

/// Sample parameters kept next to the catalogs (`samples.json`): realistic values (long
/// place names, real phone numbers) each template is rendered with by the checker.
public struct CatalogSamples: Sendable {
    public var timeZone: TimeZone
    /// Each template's parameters; a text parameter may have a value per language.
    public var templates: [String: [String: [Language: MessageArgument]]]

    public init(timeZone: TimeZone, templates: [String: [String: [Language: MessageArgument]]]) {
        self.timeZone = timeZone
        self.templates = templates
    }

    /// The arguments `template` is rendered with for readers of `language`; nil when the
    /// samples have none for it.
    public func arguments(_ template: String, _ language: Language) -> [String: MessageArgument]? {
        templates[template].map { $0.compactMapValues { $0[language] } }
    }

    /// `{"timeZone": "Asia/Tehran", "templates": {"name": {"param": value}}}`; strings that
    /// are RFC 3339 timestamps are dates, numbers are numbers, and an object
    /// `{"kk": …, "ru": …, "en": …}` gives each language its own text.
    public static func load(_ url: URL) throws(CatalogError) -> CatalogSamples {
        guard let data = FileManager.default.contents(atPath: url.path),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { throw CatalogError(file: url.path, detail: "missing or not a JSON object") }
        guard let zoneName = object["timeZone"] as? String, let zone = TimeZone(identifier: zoneName) else {
            throw CatalogError(file: url.path, key: "timeZone", detail: "must be an IANA time zone")
        }
        var templates: [String: [String: [Language: MessageArgument]]] = [:]
        for (name, value) in object["templates"] as? [String: Any] ?? [:] {
            guard let parameters = value as? [String: Any] else {
                throw CatalogError(file: url.path, key: "templates.\(name)", detail: "must be an object of parameters")
            }
            var arguments: [String: [Language: MessageArgument]] = [:]
            let everywhere = { (value: MessageArgument) in Dictionary(uniqueKeysWithValues: Language.allCases.map { ($0, value) }) }
            for (key, raw) in parameters {
                if let number = raw as? NSNumber, !(raw is String) {
                    arguments[key] = everywhere(.number(number.doubleValue))
                } else if let text = raw as? String {
                    if let date = try? Date(text, strategy: .iso8601) { arguments[key] = everywhere(.date(date)) } else { arguments[key] = everywhere(.text(text)) }
                } else if let texts = raw as? [String: String], Set(texts.keys) == Set(Language.allCases.map(\.tag)) {
                    arguments[key] = Dictionary(uniqueKeysWithValues: texts.map { (Language(rawValue: $0.key)!, MessageArgument.text($0.value)) })
                } else {
                    throw CatalogError(
                        file: url.path, key: "templates.\(name).\(key)", detail: "must be a string, a number, or an object with a text for each of kk, ru, en")
                }
            }
            templates[name] = arguments
        }
        return CatalogSamples(timeZone: zone, templates: templates)
    }
}

/// Everything `habar messages check` verifies, each problem with its file, key, line and
/// column: syntax, every language having every key and variant, the same parameters in every
/// language, complete plural forms for each language's CLDR categories, Kazakh written in
/// Kazakh letters, SMS variants within the segment budget for the sample parameters, and
/// HTML variants well-formed with every parameter escaped.
public enum CatalogCheck {
    public static func run(directory: URL, smsSegmentBudget: Int = 3) -> [CatalogError] {
        let (catalog, syntax) = MessageCatalog.read(directory: directory)
        var problems = syntax
        // A key that does not parse is reported once, not again as missing or mismatched.
        let broken = Set(syntax.compactMap(\.key))
        let file = { (language: Language) in catalog.files[language] ?? directory.appendingPathComponent("\(language.tag).json").path }
        func at(_ language: Language, _ key: String, _ offset: Int = 0, _ detail: String) -> CatalogError {
            let location = catalog.entries[language]?[key]?.position?.location(ofCharacter: offset)
            return CatalogError(file: file(language), key: key, line: location?.line, column: location?.column, detail: detail)
        }

        // Every language has every key; templates have every variant.
        let allKeys = Set(catalog.entries.values.flatMap(\.keys))
        let templates = catalog.templateNames.union(MessageCatalog.requiredTemplates)
        var expected = allKeys
        for template in templates { for variant in MessageKind.allVariants { expected.insert("\(template).\(variant)") } }
        for language in Language.allCases {
            guard let byKey = catalog.entries[language] else {
                if !problems.contains(where: { $0.file == file(language) }) {
                    problems.append(CatalogError(file: file(language), detail: "missing catalog"))
                }
                continue
            }
            for key in expected.subtracting(byKey.keys).subtracting(broken).sorted() {
                let others = Language.allCases.filter { catalog.entries[$0]?[key] != nil }.map { "\($0.tag).json" }
                problems.append(CatalogError(
                    file: file(language), key: key,
                    detail: others.isEmpty ? "missing (every template needs all of \(MessageKind.allVariants.joined(separator: ", ")))" : "missing (\(others.joined(separator: ", ")) \(others.count == 1 ? "has" : "have") it)"))
            }
        }

        for key in allKeys.sorted() {
            // The same parameters in every language.
            var names: [Language: Set<String>] = [:]
            for language in Language.allCases { if let entry = catalog.entries[language]?[key] { names[language] = Set(entry.message.arguments) } }
            // The set most languages use is the reference; each language that differs is named.
            let counts = Dictionary(names.values.map { ($0, 1) }, uniquingKeysWith: +)
            let reference = counts.max { ($0.value, $0.key.count) < ($1.value, $1.key.count) }?.key ?? []
            for (language, used) in names.sorted(by: { $0.key < $1.key }) where used != reference {
                let others = Language.allCases.filter { names[$0] == reference }.map(\.tag).joined(separator: ", ")
                var parts: [String] = []
                let lacking = reference.subtracting(used).sorted()
                let extra = used.subtracting(reference).sorted()
                if !lacking.isEmpty { parts.append("lacks {\(lacking.joined(separator: "}, {"))}") }
                if !extra.isEmpty { parts.append("has {\(extra.joined(separator: "}, {"))}") }
                problems.append(at(language, key, 0, "parameters differ from \(others): \(parts.joined(separator: " and "))"))
            }
            for language in Language.allCases {
                guard let entry = catalog.entries[language]?[key] else { continue }
                // Complete plural forms for the language.
                for plural in entry.message.plurals {
                    let needed = Set(PluralRules.categories(language))
                    let missing = needed.subtracting(plural.categories).sorted()
                    let foreign = plural.categories.subtracting(needed).sorted()
                    if !missing.isEmpty {
                        problems.append(at(language, key, plural.offset, "plural '\(plural.name)' lacks \(missing.map(\.rawValue).joined(separator: ", ")) (\(language.tag) needs \(PluralRules.categories(language).map(\.rawValue).joined(separator: ", ")))"))
                    }
                    if !foreign.isEmpty {
                        problems.append(at(language, key, plural.offset, "plural '\(plural.name)' has \(foreign.map(\.rawValue).joined(separator: ", ")), which \(language.tag) never selects"))
                    }
                }
                // Kazakh in Kazakh letters: no Latin look-alikes inside Cyrillic words.
                if language == .kazakh, let offset = mixedScriptOffset(entry.message.source) {
                    problems.append(at(language, key, offset, "a Latin letter inside a Cyrillic word (Kazakh is written in Cyrillic: ә ғ қ ң ө ұ ү һ і)"))
                }
                // HTML variants well-formed.
                if key.hasSuffix(".email.html"), let problem = HTMLCheck.problem(entry.message.skeleton) {
                    problems.append(at(language, key, 0, "HTML: \(problem)"))
                }
            }
        }

        // Rendering with the samples: every parameter present and typed right, SMS within
        // budget, HTML escaping every parameter.
        let samplesURL = directory.appendingPathComponent("samples.json")
        let samples: CatalogSamples
        do { samples = try CatalogSamples.load(samplesURL) } catch {
            problems.append(error)
            return problems
        }
        for template in templates.sorted() {
            guard samples.templates[template] != nil else {
                problems.append(CatalogError(file: samplesURL.path, key: "templates.\(template)", detail: "no sample parameters for this template"))
                continue
            }
            let zones = MessageZones(local: samples.timeZone)
            let limit = SMSLimit.of(template, budget: smsSegmentBudget)
            for language in Language.allCases where catalog.entries[language] != nil {
                let arguments = samples.arguments(template, language) ?? [:]
                for kind in MessageKind.allCases where catalog.has(template: template, kind: kind, language: language) {
                    let rendered: RenderedMessage
                    do { rendered = try catalog.render(template: template, kind: kind, language: language, arguments: arguments, zones: zones) } catch {
                        // Only when the key has no problem already (a mismatched parameter is one problem).
                        if let key = error.key, problems.contains(where: { $0.key == key && $0.file == file(language) }) { continue }
                        problems.append(error.key.map { at(language, $0, 0, error.detail) } ?? error)
                        continue
                    }
                    if kind == .sms {
                        let measured = rendered.sms
                        if let problem = limit.problem(measured) {
                            problems.append(at(language, "\(template).sms", 0, "renders to \(measured.segments) \(measured.encoding == .gsm7 ? "GSM-7" : "UCS-2") segments (\(measured.units) units) with the sample parameters; \(problem)"))
                        }
                    }
                    if kind == .email {
                        let hostile = arguments.mapValues { value -> MessageArgument in
                            if case .text = value { return .text("<b x=\"1\">&'") }
                            return value
                        }
                        if let html = try? catalog.render(template: template, kind: .email, language: language, arguments: hostile, zones: zones).html,
                            html.contains("<b x=\"1\">")
                        {
                            problems.append(at(language, "\(template).email.html", 0, "a parameter reaches the HTML unescaped"))
                        }
                    }
                }
            }
        }
        return problems
    }

    /// The offset of the first Latin letter standing inside a word that also has Cyrillic letters.
    static func mixedScriptOffset(_ text: String) -> Int? {
        var offset = 0
        var word: [(Character, Int)] = []
        func check() -> Int? {
            let cyrillic = word.contains { $0.0.unicodeScalars.first.map { (0x0400...0x04FF).contains($0.value) } ?? false }
            let latin = word.first { $0.0.isASCII && $0.0.isLetter }
            defer { word = [] }
            return cyrillic ? latin?.1 : nil
        }
        for character in text {
            if character.isLetter {
                word.append((character, offset))
            } else if let found = check() {
                return found
            }
            offset += 1
        }
        return check()
    }
}

/// A small well-formedness check for the HTML e-mail variants: tags from a safe list,
/// properly nested and closed.
enum HTMLCheck {
    static let allowed: Set<String> = ["p", "b", "strong", "i", "em", "ul", "ol", "li", "br", "a", "h1", "h2", "h3", "table", "tr", "td", "th", "span", "div"]
    static let void: Set<String> = ["br"]

    static func problem(_ html: String) -> String? {
        var stack: [String] = []
        var rest = Substring(html)
        while let open = rest.firstIndex(of: "<") {
            guard let close = rest[open...].firstIndex(of: ">") else { return "'<' without '>'" }
            let tag = rest[rest.index(after: open)..<close]
            rest = rest[rest.index(after: close)...]
            let closing = tag.hasPrefix("/")
            let name = String((closing ? tag.dropFirst() : tag).prefix { $0.isLetter || $0.isNumber }).lowercased()
            guard allowed.contains(name) else { return "<\(tag)> is not an allowed tag (\(allowed.sorted().joined(separator: ", ")))" }
            if void.contains(name) || tag.hasSuffix("/") { continue }
            if closing {
                guard stack.last == name else { return "</\(name)> closes \(stack.last.map { "<\($0)>" } ?? "nothing")" }
                stack.removeLast()
            } else {
                stack.append(name)
            }
        }
        if rest.contains(">") { return "'>' without '<'" }
        return stack.isEmpty ? nil : "<\(stack.last!)> is never closed"
    }
}

/// How long a template's SMS may be with the sample parameters. Orders (green corridors,
/// meeting points) must fit the budget with room to spare, since real names run longer than
/// samples; confirmations of a reply must stay short.
struct SMSLimit: Sendable, Hashable {
    var segments: Int
    /// Units that must stay free in the last allowed segment.
    var spare: Int

    static func of(_ template: String, budget: Int) -> SMSLimit {
        if template.hasPrefix("green_corridor.") || template.hasPrefix("meeting_point.") { return SMSLimit(segments: budget, spare: 15) }
        if template.hasPrefix("reply.") { return SMSLimit(segments: min(2, budget), spare: 0) }
        return SMSLimit(segments: budget, spare: 0)
    }

    /// Why `measured` breaks this limit, or nil.
    func problem(_ measured: SMSMeasurement) -> String? {
        let capacity = SMSMeasurement.capacity(segments: segments, encoding: measured.encoding)
        if measured.segments > segments { return "at most \(segments) segments are allowed" }
        if measured.units > capacity - spare {
            return "\(segments) segments hold \(capacity) units and \(spare) of them must stay free for longer real names (at most \(capacity - spare))"
        }
        return nil
    }
}
