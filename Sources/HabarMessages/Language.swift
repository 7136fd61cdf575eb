/// A language Habar writes to citizens in (BCP 47 tag).
public enum Language: String, Sendable, Codable, CaseIterable, Hashable, Comparable {
    case kazakh = "kk"
    case russian = "ru"
    case english = "en"

    /// The tag as it appears in the API, catalogs and CAP (`kk`, `ru`, `en`).
    public var tag: String { rawValue }

    public static func < (lhs: Language, rhs: Language) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
