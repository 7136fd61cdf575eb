import Crypto
import Foundation

/// One state-changing call, as the audit log keeps it. Entries form a hash chain: each
/// `hash` covers the entry's fields and the previous entry's hash, so changing, removing or
/// reordering any entry breaks every hash after it.
/// (As stored; `NewAuditEntry` before it is.)
public typealias AuditEntry = AuditEntryRecord<Int64>
/// An audit entry on the way into the store.
public typealias NewAuditEntry = AuditEntryRecord<Unsaved>

let auditGenesisHash = String(repeating: "0", count: 64)

public struct AuditEntryRecord<ID: RecordID>: Sendable, Hashable, Codable, Identifiable {
    public var id: ID
    public var at: Date
    /// The token's name (a person or a system), or `cli` / `system`.
    public var actor: String
    public var actorTokenId: Int64?
    public var role: Role?
    /// `METHOD /route/{id}`, e.g. `POST /v1/advisories/{id}/approve`.
    public var action: String
    /// What was acted on, e.g. `advisory/12`.
    public var target: String?
    /// The HTTP status the call was answered with.
    public var status: Int
    public var requestId: String
    /// What else an auditor needs (approval threshold, author and approver names, counts).
    /// Never personal data: citizens appear by id only.
    public var details: [String: String]
    public var previousHash: String
    public var hash: String

    public init(
        id: ID, at: Date, actor: String, actorTokenId: Int64?, role: Role?, action: String, target: String?,
        status: Int, requestId: String, details: [String: String] = [:], previousHash: String = "", hash: String = ""
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.actorTokenId = actorTokenId
        self.role = role
        self.action = action
        self.target = target
        self.status = status
        self.requestId = requestId
        self.details = details
        self.previousHash = previousHash
        self.hash = hash
    }

    /// The hash the first entry chains to.
    public static var genesisHash: String { auditGenesisHash }

    /// The fields the hash covers, in a fixed order with a fixed encoding; `at` in integer
    /// milliseconds as stored.
    public var canonicalText: String {
        let milliseconds = Int64((at.timeIntervalSince1970 * 1000).rounded())
        let detailText = details.keys.sorted().map { "\(JSONText.quote($0)):\(JSONText.quote(details[$0]))" }.joined(separator: ",")
        return [
            String(milliseconds), JSONText.quote(actor), actorTokenId.map(String.init) ?? "null", JSONText.quote(role?.rawValue),
            JSONText.quote(action), JSONText.quote(target), String(status), JSONText.quote(requestId), "{\(detailText)}",
        ].joined(separator: "|")
    }

    /// SHA-256 (hex) over the previous hash and this entry's canonical text.
    public static func chainHash(previous: String, entry: Self) -> String {
        SHA256.hash(data: Data((previous + "\n" + entry.canonicalText).utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// This entry linked after `previous`.
    public func chained(after previous: String) -> Self {
        var linked = self
        linked.previousHash = previous
        linked.hash = Self.chainHash(previous: previous, entry: linked)
        return linked
    }

    /// This record under the id the store gave it.
    public func stored(id: Int64) -> AuditEntry {
        AuditEntry(id: id, at: at, actor: actor, actorTokenId: actorTokenId, role: role, action: action, target: target, status: status, requestId: requestId, details: details, previousHash: previousHash, hash: hash)
    }
}

/// What walking the whole audit log found.
public enum AuditVerdict: Sendable, Equatable {
    case intact(entries: Int, lastHash: String)
    /// The first entry that breaks the chain, said plainly.
    case broken(String)
}

/// Walks an audit log in order and reports the first entry whose link or hash is wrong.
public struct AuditChainVerifier: Sendable {
    /// Walks every entry of `store`'s log in order (`habar audit verify`, the console's
    /// audit page); `visit` sees each entry checked.
    public static func verify(_ store: any OperatorStore, visit: (AuditEntry) -> Void = { _ in }) async throws -> AuditVerdict {
        var verifier = AuditChainVerifier()
        var page = PageRequest(limit: PageRequest.maxLimit)
        repeat {
            let entries = try await store.auditEntries(page: page)
            for entry in entries.items {
                if let problem = verifier.check(entry) { return .broken(problem) }
                visit(entry)
            }
            page.after = entries.nextAfter
        } while page.after != nil
        return .intact(entries: verifier.checked, lastHash: verifier.lastHash)
    }

    public private(set) var lastHash = AuditEntry.genesisHash
    public private(set) var checked = 0

    public init() {}

    /// What is wrong with `entry`, or nil when it follows the chain.
    public mutating func check(_ entry: AuditEntry) -> String? {
        let id = entry.id
        if entry.previousHash != lastHash {
            return "entry \(id): its previous hash \(entry.previousHash.prefix(12))… is not the hash of the entry before it (\(lastHash.prefix(12))…): an entry was removed, inserted or reordered"
        }
        let expected = AuditEntry.chainHash(previous: entry.previousHash, entry: entry)
        if entry.hash != expected {
            return "entry \(id): its content does not match its hash: the entry was changed after it was written"
        }
        lastHash = entry.hash
        checked += 1
        return nil
    }
}
