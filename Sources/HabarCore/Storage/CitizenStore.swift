import Foundation
import HabarMessages

/// A citizen to create or update from an import, matched on phone, then passport number.
public struct CitizenImportResult: Sendable, Hashable, Codable {
    public var created: Int
    public var updated: Int
    public init(created: Int, updated: Int) {
        self.created = created
        self.updated = updated
    }
}

/// How many citizens in one country are in one welfare state.
public struct WelfareTotal: Sendable, Hashable {
    public var country: String
    public var status: WelfareStatus
    public var count: Int
    public init(country: String, status: WelfareStatus, count: Int) {
        self.country = country
        self.status = status
        self.count = count
    }
}

/// Citizens, their import, erasure and the merging of one person registered twice.
/// Every requirement is one transaction: it happens whole or not at all, and a caller that
/// gets an error may assume nothing changed. `OperationError.notFound` / `.conflict` are the
/// answers a caller handles; any other error is the store failing.
public protocol CitizenStore: Sendable {
    /// Stores a new citizen; returns it with its id.
    func insertCitizen(_ citizen: NewCitizen) async throws -> Citizen
    func citizen(id: Int64) async throws -> Citizen?
    /// The citizens with these ids that exist.
    func citizens(ids: [Int64]) async throws -> [Int64: Citizen]
    /// Creates or updates every citizen in one transaction (matching on phone, then
    /// passport number). An update keeps the stored value of every field the new record
    /// leaves empty, and never touches welfare status.
    func upsertCitizens(_ citizens: [NewCitizen]) async throws -> CitizenImportResult
    func countCitizens() async throws -> Int
    /// Citizens by country and welfare state (the dashboard's totals); only non-zero cells.
    func welfareTotals() async throws -> [WelfareTotal]
    /// Citizens filtered, in id order, paged by id.
    func citizens(_ filter: CitizenFilter, page: PageRequest) async throws -> Page<Citizen>
    /// The id of the citizen with this phone number (E.164), if any.
    func citizenId(phone: String) async throws -> Int64?
    /// Replaces every field of stored citizen `citizen.id` except its welfare status and
    /// creation time; nil when there is no such citizen.
    func updateCitizen(_ citizen: Citizen) async throws -> Citizen?
    /// Erases a citizen's personal data: the citizen row and the addresses copied onto their
    /// deliveries; pending deliveries are cancelled. Delivery counts stay, anonymous. False
    /// when there is no such citizen.
    func eraseCitizen(id: Int64, at: Date) async throws -> Bool

    /// What the search for duplicates reads of every citizen, and the pairs operators dismissed.
    func mergeCandidates() async throws -> (candidates: [MergeCandidate], dismissed: Set<[Int64]>)
    /// Records that the two citizens are two people; false when either does not exist.
    func dismissMergeSuggestion(_ first: Int64, _ second: Int64, actor: String, at: Date) async throws -> Bool
    /// Merges `duplicate` into `keep` in one transaction (`.notFound` naming the one missing):
    /// every history of `duplicate` moves to `keep` — deliveries with their events, welfare
    /// history, check-in answers (the later answer per request stays current), hotline cases
    /// (two open cases become one, the other resolved with a note), incoming SMS, agency
    /// links, group advisory lists. `keep`'s fields stay and its empty ones are filled from
    /// `duplicate`; the later contact decides the welfare status. `duplicate`'s record is kept
    /// as it was (with its phone, so SMS from it still reach `keep`), then removed. Returns
    /// the merged citizen.
    func mergeCitizens(keep: Int64, duplicate: Int64, actor: String, at: Date) async throws -> Citizen
    /// The records merged into a citizen, oldest first.
    func citizenMerges(citizenId: Int64) async throws -> [CitizenMerge]
    /// The citizen a merged record's id now belongs to.
    func mergedInto(citizenId: Int64) async throws -> Int64?
}
