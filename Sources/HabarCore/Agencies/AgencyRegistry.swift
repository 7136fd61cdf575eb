import Foundation
import HabarMessages

/// Registering agencies and changing their secrets, with what every front end must do
/// alike: a fresh secret and token per agency, shown once; the webhook-verifying secrets'
/// cache dropped the moment they change.
public struct AgencyRegistry: Sendable {
    let store: any AgencyStore
    let secrets: AgencySecretCache

    public init(store: any AgencyStore, secrets: AgencySecretCache) {
        self.store = store
        self.secrets = secrets
    }

    /// A registered agency with what it is told once: its signing secret and, on creation,
    /// its API token.
    public struct Credentials: Sendable {
        public var agency: Agency
        public var secret: String
        public var token: String?
    }

    /// Registers an agency (an id in use is a `.conflict`), with a new 32-byte secret and an
    /// agency token.
    public func create(id: String?, name: String, webhookURL: String?, language: Language, at now: Date) async throws -> Credentials {
        let id = id ?? "agency-" + String(UUID().uuidString.lowercased().prefix(8))
        let secret = WebhookSecret.generate(bytes: 32)
        let (token, hash) = AccessToken.generate()
        defer { secrets.invalidate(agencyId: id) }
        let agency = try await store.insertAgency(
            Agency(id: id, name: name, webhookURL: webhookURL, language: language, createdAt: now),
            secret: secret.text, token: NewAccessToken(id: .unsaved, name: "agency \(id)", role: .agency, agencyId: id, tokenHash: hash, createdAt: now))
        return Credentials(agency: agency, secret: secret.text, token: token)
    }

    /// Stores the agency's name, webhook URL and language (`AgencyStore.updateAgency`).
    public func update(_ agency: Agency, enableWebhook: Bool, at now: Date) async throws -> Agency {
        guard let updated = try await store.updateAgency(agency, enableWebhook: enableWebhook, at: now) else {
            throw OperationError.notFound("agency '\(agency.id)'")
        }
        return updated
    }

    /// A new secret; the ones in use keep verifying and signing for `overlap` seconds.
    public func rotateSecret(id: String, overlap: TimeInterval, at now: Date) async throws -> Credentials {
        let secret = WebhookSecret.generate(bytes: 32)
        defer { secrets.invalidate(agencyId: id) }
        guard try await store.rotateAgencySecret(id: id, secret: secret.text, overlap: overlap, now: now),
            let agency = try await store.agency(id: id)
        else { throw OperationError.notFound("agency '\(id)'") }
        return Credentials(agency: agency, secret: secret.text, token: nil)
    }
}
