import Foundation
import HabarCore
import HabarMessages
import Mustache

/// The console's templates (Templates/*.mustache in this target's resources) and texts (the
/// catalogs' `console.*` keys). A template reads a text as `{{t.console.login.title}}`; every
/// `{{value}}` is HTML-escaped by Mustache, and no template uses the unescaped form.
struct ConsolePages: Sendable {
    let catalog: MessageCatalog
    /// The `console.*` texts of each language that take no argument, by key.
    let texts: [Language: [String: String]]

    init(catalog: MessageCatalog) {
        self.catalog = catalog
        var texts: [Language: [String: String]] = [:]
        for language in Language.allCases {
            for key in (catalog.entries[language] ?? [:]).keys where key.hasPrefix("console.") {
                texts[language, default: [:]][key] = catalog.string(key, language: language)
            }
        }
        self.texts = texts
    }

    /// The texts as the templates read them: nested by the key's parts (`console` → `login` → `title`).
    func tree(_ language: Language) -> [String: Any] {
        var tree: [String: Any] = [:]
        for (key, text) in texts[language] ?? [:] { Self.insert(text, at: key.split(separator: ".").map(String.init), into: &tree) }
        return tree
    }

    static func insert(_ text: String, at path: [String], into tree: inout [String: Any]) {
        guard let head = path.first else { return }
        if path.count == 1 { tree[head] = text; return }
        var child = tree[head] as? [String: Any] ?? [:]
        insert(text, at: Array(path.dropFirst()), into: &child)
        tree[head] = child
    }

    /// One text, formatted with `arguments` (Russian when `language` lacks it).
    func text(_ key: String, _ language: Language, _ arguments: [String: MessageArgument] = [:]) -> String {
        catalog.string(key, language: language, arguments: arguments) ?? catalog.string(key, language: .russian, arguments: arguments) ?? key
    }

    /// The page `template` in `language` around `values`.
    func render(_ template: String, language: Language, _ values: [String: Any]) -> String {
        var context = values
        context["t"] = tree(language)
        context["lang"] = language.tag
        return Self.library.render(context, withTemplate: template) ?? ""
    }

    /// The language switcher's entries.
    func languageChoices(_ current: Language, path: String) -> [[String: Any]] {
        [Language.kazakh, .russian, .english].map { language in
            ["code": language.rawValue, "name": Self.languageNames[language] ?? language.rawValue, "current": language == current, "path": path]
        }
    }

    /// Each language by its own name.
    static let languageNames: [Language: String] = [.kazakh: "Қазақша", .russian: "Русский", .english: "English"]

    static let templateNames = ["layout", "login", "dashboard", "message", "advisory", "cases", "text_cell", "compose", "compose_preview", "citizens", "citizen", "citizen_import", "places", "place", "agencies", "agency", "audit", "admin"]

    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for name in templateNames {
            guard let url = Bundle.module.url(forResource: name, withExtension: "mustache", subdirectory: "Templates"),
                let text = try? String(contentsOf: url, encoding: .utf8)
            else { preconditionFailure("the console template \(name).mustache is missing from the resources") }
            do { try library.register(text, named: name) } catch { preconditionFailure("the console template \(name).mustache does not parse: \(error)") }
        }
        return library
    }()

    let script: String = {
        guard let url = Bundle.module.url(forResource: "console", withExtension: "js", subdirectory: "Templates"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "" }
        return text
    }()

    let css: String = {
        guard let url = Bundle.module.url(forResource: "console", withExtension: "css", subdirectory: "Templates"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "" }
        return text
    }()
}
