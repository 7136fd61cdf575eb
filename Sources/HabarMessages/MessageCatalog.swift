import Foundation

/// A problem in a catalog or in rendering from it, with where it is.
public struct CatalogError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String?
    public var key: String?
    public var detail: String

    public init(file: String? = nil, key: String? = nil, detail: String) {
        self.file = file
        self.key = key
        self.detail = detail
    }

    public var description: String {
        [file, key.map { "key '\($0)'" }, detail].compactMap { $0 }.joined(separator: ": ")
    }
}

/// The message catalogs: one flat JSON object per language (`messages/kk.json`, ...), keys
/// `template.variant` (e.g. `green_corridor.opened.sms`), values with `{name}` placeholders.
///
/// This is the minimal format the gateway core needs; ICU plural/select arrive with the
/// messages work and extend `MessageTemplate`, not this type's interface.
public struct MessageCatalog: Sendable {
    /// Templates by language, then by full key.
    public private(set) var templates: [Language: [String: MessageTemplate]]

    public init(templates: [Language: [String: MessageTemplate]]) {
        self.templates = templates
    }

    /// Loads every `<language>.json` in `directory`; a file that does not parse is an error
    /// naming the file and the key.
    public static func load(directory: URL) throws(CatalogError) -> MessageCatalog {
        var templates: [Language: [String: MessageTemplate]] = [:]
        for language in Language.allCases {
            let url = directory.appendingPathComponent("\(language.tag).json")
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let data: Data
            do { data = try Data(contentsOf: url) } catch {
                throw CatalogError(file: url.path, detail: "cannot read: \(error.localizedDescription)")
            }
            let object: [String: String]
            do { object = try JSONDecoder().decode([String: String].self, from: data) } catch {
                throw CatalogError(file: url.path, detail: "not a flat JSON object of strings: \(error)")
            }
            var parsed: [String: MessageTemplate] = [:]
            for (key, source) in object {
                do { parsed[key] = try MessageTemplate(source) } catch {
                    throw CatalogError(file: url.path, key: key, detail: error.detail)
                }
            }
            templates[language] = parsed
        }
        if templates.isEmpty {
            throw CatalogError(file: directory.path, detail: "no catalog (kk.json, ru.json or en.json) found")
        }
        return MessageCatalog(templates: templates)
    }

    /// The languages that have a catalog.
    public var languages: [Language] { templates.keys.sorted() }

    /// Whether `template` exists for every variant of `kind` in `language`.
    public func has(template: String, kind: MessageKind, language: Language) -> Bool {
        kind.variants.allSatisfy { templates[language]?["\(template).\($0)"] != nil }
    }

    /// The placeholders `template` uses in any language and variant.
    public func placeholders(of template: String) -> Set<String> {
        var names: Set<String> = []
        for (_, byKey) in templates {
            for (key, value) in byKey where key.hasPrefix(template + ".") {
                names.formUnion(value.placeholders)
            }
        }
        return names
    }

    /// Renders `template` for `language` and `kind` with `arguments`; missing arguments or a
    /// missing variant are errors naming them.
    public func render(
        template: String,
        kind: MessageKind,
        language: Language,
        arguments: [String: String]
    ) throws(CatalogError) -> RenderedMessage {
        func variant(_ suffix: String, escapeHTML: Bool = false) throws(CatalogError) -> String {
            let key = "\(template).\(suffix)"
            guard let compiled = templates[language]?[key] else {
                throw CatalogError(file: "\(language.tag).json", key: key, detail: "missing")
            }
            do { return try compiled.render(arguments, escapeHTML: escapeHTML) } catch {
                throw CatalogError(file: "\(language.tag).json", key: key, detail: error.detail)
            }
        }
        switch kind {
        case .sms:
            return RenderedMessage(language: language, kind: kind, text: try variant("sms"))
        case .email:
            return RenderedMessage(
                language: language, kind: kind,
                subject: try variant("email.subject"),
                text: try variant("email.text"),
                html: try variant("email.html", escapeHTML: true)
            )
        case .webhook:
            return RenderedMessage(
                language: language, kind: kind,
                subject: try variant("webhook.title"),
                text: try variant("webhook.text")
            )
        }
    }
}

/// One catalog string compiled into literal text and `{name}` placeholders.
public struct MessageTemplate: Sendable, Hashable {
    enum Part: Sendable, Hashable {
        case literal(String)
        case placeholder(String)
    }

    /// Where and why a catalog string does not compile.
    public struct SyntaxError: Error, CustomStringConvertible {
        public var detail: String
        public var description: String { detail }
    }

    let parts: [Part]

    /// The placeholder names, in order of first use.
    public var placeholders: [String] {
        var seen: [String] = []
        for case .placeholder(let name) in parts where !seen.contains(name) { seen.append(name) }
        return seen
    }

    /// Compiles `source`; `{` must open a placeholder made of letters, digits and `_`, and
    /// ICU quoting (`'{'`, `''`) writes literal braces and apostrophes.
    public init(_ source: String) throws(SyntaxError) {
        var parts: [Part] = []
        var literal = ""
        var index = source.startIndex
        var column = 1
        while index < source.endIndex {
            let character = source[index]
            if character == "'" {
                let next = source.index(after: index)
                if next < source.endIndex, source[next] == "'" {
                    literal.append("'")
                    index = source.index(after: next)
                    column += 2
                    continue
                }
                if next < source.endIndex, source[next] == "{" || source[next] == "}" {
                    guard let close = source[next...].firstIndex(of: "'") else {
                        throw SyntaxError(detail: "column \(column): unterminated quote")
                    }
                    literal += source[next..<close]
                    column += source.distance(from: index, to: close) + 1
                    index = source.index(after: close)
                    continue
                }
                literal.append(character)
            } else if character == "{" {
                guard let close = source[index...].firstIndex(of: "}") else {
                    throw SyntaxError(detail: "column \(column): '{' without a closing '}'")
                }
                let name = String(source[source.index(after: index)..<close])
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw SyntaxError(detail: "column \(column): '{\(name)}' is not a placeholder name")
                }
                if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                parts.append(.placeholder(name))
                column += source.distance(from: index, to: close) + 1
                index = source.index(after: close)
                continue
            } else if character == "}" {
                throw SyntaxError(detail: "column \(column): '}' without an opening '{'")
            } else {
                literal.append(character)
            }
            column += 1
            index = source.index(after: index)
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    func render(_ arguments: [String: String], escapeHTML: Bool) throws(SyntaxError) -> String {
        let missing = placeholders.filter { arguments[$0] == nil }
        guard missing.isEmpty else {
            throw SyntaxError(detail: "missing parameter(s): \(missing.joined(separator: ", "))")
        }
        var result = ""
        for part in parts {
            switch part {
            case .literal(let text): result += text
            case .placeholder(let name):
                let value = arguments[name]!
                result += escapeHTML ? HTML.escape(value) : value
            }
        }
        return result
    }
}

/// HTML text escaping for parameters placed into HTML variants.
public enum HTML {
    public static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}

extension MessageCatalog {
    /// Cross-language consistency: every language has every key, and each key uses the same
    /// placeholders in every language.
    public func check() -> [CatalogError] {
        var problems: [CatalogError] = []
        let allKeys = Set(templates.values.flatMap(\.keys))
        for language in Language.allCases {
            guard let byKey = templates[language] else {
                problems.append(CatalogError(file: "\(language.tag).json", detail: "missing catalog"))
                continue
            }
            for key in allKeys.subtracting(byKey.keys).sorted() {
                problems.append(CatalogError(file: "\(language.tag).json", key: key, detail: "missing (other languages have it)"))
            }
        }
        for key in allKeys.sorted() {
            var placeholders: [Language: Set<String>] = [:]
            for language in Language.allCases { if let template = templates[language]?[key] { placeholders[language] = Set(template.placeholders) } }
            let union = placeholders.values.reduce(Set<String>()) { $0.union($1) }
            for (language, names) in placeholders.sorted(by: { $0.key < $1.key }) where names != union {
                problems.append(CatalogError(
                    file: "\(language.tag).json", key: key,
                    detail: "placeholders differ from other languages: missing \(union.subtracting(names).sorted().joined(separator: ", "))"))
            }
        }
        return problems
    }
}
