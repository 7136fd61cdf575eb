import Foundation

/// One stored value as it moves between stores (`habar storage copy`).
public enum StoredValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
}

/// A store whose tables can be read out whole: the source of `habar storage copy`. What it
/// reads is one consistent moment of the installation, even while it keeps serving.
public protocol TableSource: OperatorStore {
    /// The tables that hold the installation's data, in no particular order, with their columns.
    func copyTables() async throws -> [(name: String, columns: [String])]
    /// Calls `batch` with the rows of `table` (values in `columns` order), a batch at a time.
    func readRows(_ table: String, columns: [String], batchSize: Int, _ batch: ([[StoredValue]]) async throws -> Void) async throws
    func countRows(_ table: String) async throws -> Int
}

/// A store that takes tables copied from another: the target of `habar storage copy`.
public protocol TableTarget: OperatorStore {
    /// Its tables with their columns, in the order rows must be written (a table before the
    /// tables that refer to it).
    func copyTables() async throws -> [(name: String, columns: [String])]
    /// The tables that already hold data (a target that has any refuses the copy).
    func tablesWithData() async throws -> [String]
    /// Columns of its own that it fills itself when they are not copied (derived ones).
    func derivedColumns(_ table: String) -> Set<String>
    func writeRows(_ table: String, columns: [String], rows: [[StoredValue]]) async throws
    /// After the last row: identity counters past the copied ids, the audit chain's head.
    func finishCopy() async throws
    func countRows(_ table: String) async throws -> Int
}

/// `habar storage copy`: every table of one store into another, empty one, then checked.
public enum StorageCopy {
    public struct Report: Sendable, Equatable {
        /// Rows per table, as counted in both stores after the copy.
        public var rows: [String: Int]
        public var auditEntries: Int
        public var auditHead: String
    }

    public struct Refused: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// Copies every table of `source` into `target` and verifies the result: the row count of
    /// every table, and the audit chain walked on the target ending where the source's ends.
    /// Refuses, changing nothing, when the target holds data or would lose a column.
    public static func copy(
        from source: any TableSource, to target: any TableTarget, batchSize: Int = 1000, progress: (String, Int) -> Void = { _, _ in }
    ) async throws -> Report {
        let filled = try await target.tablesWithData()
        guard filled.isEmpty else {
            throw Refused("the target database is not empty (\(filled.joined(separator: ", ")) hold rows): storage copy writes only into a new, empty database")
        }
        let sourceTables = Dictionary(uniqueKeysWithValues: try await source.copyTables().map { ($0.name, $0.columns) })
        let targetTables = try await target.copyTables()
        let targetColumns = Dictionary(uniqueKeysWithValues: targetTables.map { ($0.name, Set($0.columns)) })
        // Nothing is left behind: every source table and column has a place in the target.
        var problems: [String] = []
        for (table, columns) in sourceTables.sorted(by: { $0.key < $1.key }) {
            guard let known = targetColumns[table] else {
                problems.append("table \(table) has no counterpart")
                continue
            }
            let missing = columns.filter { !known.contains($0) }
            if !missing.isEmpty { problems.append("\(table): columns \(missing.joined(separator: ", ")) have no counterpart") }
            let unfilled = known.subtracting(columns).subtracting(target.derivedColumns(table))
            if !unfilled.isEmpty { problems.append("\(table): the target's columns \(unfilled.sorted().joined(separator: ", ")) would stay empty") }
        }
        guard problems.isEmpty else { throw Refused("the two schemas do not match, nothing was copied: " + problems.joined(separator: "; ")) }
        let before = try await AuditChainVerifier.verify(source)
        guard case .intact(let entries, let head) = before else {
            throw Refused("the source's audit log does not verify, nothing was copied: \(before)")
        }
        var rows: [String: Int] = [:]
        for (table, _) in targetTables {
            guard let columns = sourceTables[table] else { continue }
            var copied = 0
            try await source.readRows(table, columns: columns, batchSize: batchSize) { batch in
                try await target.writeRows(table, columns: columns, rows: batch)
                copied += batch.count
            }
            rows[table] = copied
            progress(table, copied)
        }
        try await target.finishCopy()
        // Verified: every table's count in both (the source is one moment of the
        // installation, so its counts do not move), and the chain walked on the target
        // ending at the same entry with the same hash.
        for (table, copied) in rows.sorted(by: { $0.key < $1.key }) {
            let here = try await source.countRows(table), there = try await target.countRows(table)
            guard here == copied, there == copied else {
                throw Refused("verification failed: \(table) has \(here) rows in the source and \(there) in the target; \(copied) were copied")
            }
        }
        let after = try await AuditChainVerifier.verify(target)
        guard case .intact(let copiedEntries, let copiedHead) = after, copiedEntries == entries, copiedHead == head else {
            throw Refused("verification failed: the copied audit log gives \(after), the source's \(entries) entries ending at \(head)")
        }
        return Report(rows: rows, auditEntries: copiedEntries, auditHead: copiedHead)
    }
}
