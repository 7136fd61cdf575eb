import Foundation
import GRDB
import HabarCore

// MARK: habar storage copy: the source side

extension SQLiteStore: TableSource {
    /// A copy of the database as it is now, in a directory of its own (`VACUUM INTO`: one
    /// read transaction, so a gateway serving meanwhile is neither stopped nor seen half-way),
    /// opened as a store: what `habar storage copy` reads.
    public func snapshot(into directory: URL) async throws -> SQLiteStore {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(Self.fileName)
        try await writer.unsafeRead { db in try db.execute(sql: "VACUUM INTO ?", arguments: [file.path]) }
        return try SQLiteStore.open(directory: directory)
    }

    /// Every table but SQLite's and GRDB's own bookkeeping.
    public func copyTables() async throws -> [(name: String, columns: [String])] {
        try await writer.read { db in
            let names = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations' ORDER BY rowid")
            return try names.map { name in (name, try db.columns(in: name).map(\.name)) }
        }
    }

    public func readRows(_ table: String, columns: [String], batchSize: Int, _ batch: ([[StoredValue]]) async throws -> Void) async throws {
        let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
        let hasRowID = try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = ?", arguments: [table])?.contains("WITHOUT ROWID") == false
        }
        var after: Int64 = .min
        var offset = 0
        while true {
            // By rowid where there is one (a cursor that stays fast on a million deliveries);
            // by primary key and offset in the few tables without.
            let cursor = after, skip = offset
            let (rows, last): ([[StoredValue]], Int64?) = try await writer.read { db in
                let fetched: [Row]
                if hasRowID {
                    fetched = try Row.fetchAll(db, sql: "SELECT rowid AS habar_rowid, \(list) FROM \"\(table)\" WHERE rowid > ? ORDER BY rowid LIMIT ?", arguments: [cursor, batchSize])
                } else {
                    let key = try db.primaryKey(table).columns.map { "\"\($0)\"" }.joined(separator: ", ")
                    fetched = try Row.fetchAll(db, sql: "SELECT \(list) FROM \"\(table)\" ORDER BY \(key) LIMIT ? OFFSET ?", arguments: [batchSize, skip])
                }
                let first = hasRowID ? 1 : 0
                let values = fetched.map { row in (first..<row.count).map { Self.stored(row[$0] as DatabaseValue) } }
                return (values, hasRowID ? fetched.last.map { $0["habar_rowid"] } : nil)
            }
            if rows.isEmpty { return }
            try await batch(rows)
            offset += rows.count
            if let last { after = last }
            if rows.count < batchSize { return }
        }
    }

    public func countRows(_ table: String) async throws -> Int {
        try await writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \"\(table)\"") ?? 0 }
    }

    static func stored(_ value: DatabaseValue) -> StoredValue {
        switch value.storage {
        case .null: .null
        case .int64(let integer): .integer(integer)
        case .double(let real): .real(real)
        case .string(let text): .text(text)
        case .blob(let data): .blob(data)
        }
    }
}
