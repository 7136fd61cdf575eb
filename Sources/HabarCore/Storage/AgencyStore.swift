import Foundation
import HabarMessages

/// Travel agencies: registration, secrets, their signed webhooks and what HQ reads of their groups.
/// Every requirement is one transaction: it happens whole or not at all, and a caller that
/// gets an error may assume nothing changed. `OperationError.notFound` / `.conflict` are the
/// answers a caller handles; any other error is the store failing.
public protocol AgencyStore: Sendable {
    /// Registers an agency with its first secret, its outbound subscriber (when it has a
    /// webhook URL) and its token, in one transaction; an id in use is a `.conflict`.
    func insertAgency(_ agency: Agency, secret: String, token: NewAccessToken) async throws -> Agency
    func agencies() async throws -> [Agency]
    func agency(id: String) async throws -> Agency?
    /// Stores an agency's name, webhook URL and language (nil if there is no such agency). A
    /// URL gets the agency's group advisories from now on (also those queued), in its language;
    /// `enableWebhook` turns a disabled webhook on again; no URL stops them.
    func updateAgency(_ agency: Agency, enableWebhook: Bool, at: Date) async throws -> Agency?
    /// For each of the citizens on one of the agency's manifests (now or before): the
    /// agency's group they are in (nil: detached).
    func agencyMemberships(citizenIds: [Int64], agencyId: String) async throws -> [Int64: String?]
    /// The secrets that verify the agency's webhooks at `now` (newest first), with the
    /// earliest time one of them stops verifying (nil: none expires) — how long a cache of
    /// them may be kept.
    func agencySecretsWithExpiry(id: String, now: Date) async throws -> (secrets: [WebhookSecret], earliestExpiry: Date?)
    /// Adds `secret` as the newest; the others stop verifying `overlap` seconds from `now`.
    /// False when there is no such agency.
    func rotateAgencySecret(id: String, secret: String, overlap: TimeInterval, now: Date) async throws -> Bool
    /// Applies verified agency webhooks and stores them, in one transaction, each in its own
    /// savepoint: one that does not validate against the stored data is refused alone (its
    /// `ValidationFailure` in its place). A webhook-id applied before is not applied again
    /// (its result says `replayed`).
    func applyAgencyEvents(_ events: [AgencyEvent]) async throws -> [Result<AgencyEventResult, ValidationFailure>]
    /// The type of the webhook the agency sent under this id, if it was applied.
    func agencyEventType(agencyId: String, webhookId: String) async throws -> String?
    /// An agency's groups with their tallies, in id order; nil when there is no such agency.
    func agencyGroups(agencyId: String, page: PageRequest) async throws -> Page<AgencyGroup>?
    /// One group: its manifest with each tourist's welfare, who was detached, every status reported.
    func groupReconciliation(id: Int64) async throws -> GroupReconciliation?
}

extension AgencyStore {
    public func applyAgencyEvent(_ event: AgencyEvent) async throws -> AgencyEventResult {
        try await applyAgencyEvents([event])[0].get()
    }
}
