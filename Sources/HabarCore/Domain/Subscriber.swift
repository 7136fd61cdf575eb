import Foundation
import HabarMessages

/// A webhook endpoint that receives advisories (a partner system or an agency). General
/// subscribers (no agency) get every advisory whose plan has a webhook channel, in their
/// language, and its corrections and cancellation notices; a receiver answering 410 Gone is
/// disabled and gets nothing more until an administrator enables it again.
/// (As stored; `NewSubscriber` before it is.)
public typealias Subscriber = SubscriberRecord<Int64>
/// A webhook subscriber on the way into the store.
public typealias NewSubscriber = SubscriberRecord<Unsaved>

public struct SubscriberRecord<ID: RecordID>: Sendable, Hashable, Codable, Identifiable {
    public var id: ID
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
        id: ID, name: String, url: String, secret: String, language: Language = .russian,
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

    /// This record under the id the store gave it.
    public func stored(id: Int64) -> Subscriber {
        Subscriber(id: id, name: name, url: url, secret: secret, language: language, agencyId: agencyId, active: active, createdAt: createdAt, disabledAt: disabledAt, disabledReason: disabledReason)
    }
}
