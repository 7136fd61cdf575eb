import Foundation
import HabarMessages

/// A webhook endpoint that receives advisories (a partner system or an agency).
public struct Subscriber: Sendable, Hashable, Codable, Identifiable {
    public var id: Int64?
    public var name: String
    public var url: String
    /// `whsec_` + base64 secret used to sign the payloads sent to it.
    public var secret: String
    public var language: Language
    public var agencyId: String?
    public var active: Bool
    public var createdAt: Date

    public init(
        id: Int64? = nil, name: String, url: String, secret: String, language: Language = .russian,
        agencyId: String? = nil, active: Bool = true, createdAt: Date = Date()
    ) {
        self.id = id
        self.name = name
        self.url = url
        self.secret = secret
        self.language = language
        self.agencyId = agencyId
        self.active = active
        self.createdAt = createdAt
    }
}
