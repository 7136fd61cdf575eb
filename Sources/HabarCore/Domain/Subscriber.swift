import Foundation
import HabarMessages

/// A webhook endpoint that receives advisories (a partner system or an agency). General
/// subscribers (no agency) get every advisory whose plan has a webhook channel, in their
/// language, and its corrections and cancellation notices; a receiver answering 410 Gone is
/// disabled and gets nothing more until an administrator enables it again.
public struct Subscriber: Sendable, Hashable, Codable, Identifiable {
    public var id: Int64?
    public var name: String
    public var url: String
    /// `whsec_` + base64 secrets used to sign the payloads sent to it, space-separated; two
    /// while a secret rotates (each request then carries both signatures).
    public var secret: String
    public var language: Language
    public var agencyId: String?
    public var active: Bool
    public var createdAt: Date
    public var disabledAt: Date?
    public var disabledReason: String?

    public init(
        id: Int64? = nil, name: String, url: String, secret: String, language: Language = .russian,
        agencyId: String? = nil, active: Bool = true, createdAt: Date = Date(), disabledAt: Date? = nil,
        disabledReason: String? = nil
    ) {
        self.id = id
        self.name = name
        self.url = url
        self.secret = secret
        self.language = language
        self.agencyId = agencyId
        self.active = active
        self.createdAt = createdAt
        self.disabledAt = disabledAt
        self.disabledReason = disabledReason
    }
}
