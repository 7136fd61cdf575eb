import Foundation
import HabarMessages

/// A text parameter as HQ writes it: one string for every language (a name that is the same
/// everywhere, a phone number), or one per language (`{"kk": "…", "ru": "…", "en": "…"}`).
/// In JSON it is exactly that: a string, or an object keyed by language tag.
public enum LocalizedText: Sendable, Hashable, Codable, ExpressibleByStringLiteral {
    case everywhere(String)
    case perLanguage([Language: String])

    public init(stringLiteral value: String) { self = .everywhere(value) }

    /// The text `language` reads: its own value, else (for exports and previews of languages
    /// without one) the first of `fallback` that has one.
    public func value(for language: Language, fallback: [Language] = []) -> String? {
        switch self {
        case .everywhere(let text): text
        case .perLanguage(let texts): texts[language] ?? fallback.lazy.compactMap { texts[$0] }.first
        }
    }

    /// The languages with values of their own; nil when one text serves all.
    public var languages: Set<Language>? {
        if case .perLanguage(let texts) = self { Set(texts.keys) } else { nil }
    }

    /// Every value it holds.
    public var allValues: [String] {
        switch self {
        case .everywhere(let text): [text]
        case .perLanguage(let texts): texts.sorted { $0.key < $1.key }.map(\.value)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = .everywhere(text)
            return
        }
        guard let object = try? container.decode([String: String].self) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "must be a string, or an object of strings keyed by language (kk, ru, en)")
        }
        var texts: [Language: String] = [:]
        for (tag, text) in object {
            guard let language = Language(rawValue: tag) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "'\(tag)' is not a language Habar writes in (kk, ru, en)")
            }
            texts[language] = text
        }
        guard !texts.isEmpty else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "has no language: give at least one of kk, ru, en")
        }
        self = .perLanguage(texts)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .everywhere(let text): try container.encode(text)
        case .perLanguage(let texts): try container.encode(Dictionary(uniqueKeysWithValues: texts.map { ($0.key.tag, $0.value) }))
        }
    }
}
