import Foundation
import HabarCore
import PostgresNIO
import Synchronization

// MARK: habar storage copy: the target side

extension PostgresStore: TableTarget {
    /// The tables the migrations made, in the order they were made (a table before those that
    /// refer to it), without the migrations' own record, the audit chain's head row
    /// (`finishCopy` sets it from the copied log), the delivery queue (its triggers fill it
    /// as the deliveries are written) and the leases (`finishCopy` writes one per owner of the
    /// deliveries copied while being sent, so the take-over finds them).
    public func copyTables() async throws -> [(name: String, columns: [String])] {
        try await copyColumns().map { ($0.table, $0.columns.map(\.name)) }
    }

    struct CopyTable {
        var table: String
        var columns: [(name: String, type: String, identity: Bool)]
    }

    func copyColumns() async throws -> [CopyTable] {
        let rows = try await read { pg in
            try await pg.rows(
                """
                SELECT c.table_name, c.column_name, c.data_type, c.is_identity = 'YES' AS identity
                FROM information_schema.columns c JOIN pg_class k ON k.relname = c.table_name AND k.relkind = 'r'
                JOIN pg_namespace n ON n.oid = k.relnamespace AND n.nspname = current_schema()
                WHERE c.table_schema = current_schema() AND c.table_name NOT IN ('habar_migrations', 'audit_head', 'delivery_queue', 'delivery_leases')
                ORDER BY k.oid, c.ordinal_position
                """)
        }
        var tables: [CopyTable] = []
        for row in rows {
            let table: String = try row.get("table_name")
            let column = (name: try row.get("column_name", as: String.self), type: try row.get("data_type", as: String.self), identity: try row.get("identity", as: Bool.self))
            if tables.last?.table == table { tables[tables.count - 1].columns.append(column) } else { tables.append(CopyTable(table: table, columns: [column])) }
        }
        return tables
    }

    /// `meta` is not counted: the migration wrote this database's own installation id there,
    /// which the copy replaces with the source's (idempotency keys are derived from it).
    public func tablesWithData() async throws -> [String] {
        var filled: [String] = []
        for table in try await copyColumns().map(\.table) where table != "meta" {
            if try await read({ pg in try await pg.value("SELECT EXISTS (SELECT 1 FROM \(table))", as: Bool.self) }) == true { filled.append(table) }
        }
        return filled
    }

    /// `citizens.search_words` is the name's search form, made from the copied name.
    public func derivedColumns(_ table: String) -> Set<String> { table == "citizens" ? ["search_words"] : [] }

    public func writeRows(_ table: String, columns: [String], rows: [[StoredValue]]) async throws {
        guard !rows.isEmpty else { return }
        guard let shape = try await copyShape(table) else { throw PostgresStoreError("no table \(table) to copy into") }
        var names = columns
        let derivesWords = table == "citizens" && !columns.contains("search_words")
        if derivesWords { names.append("search_words") }
        let nameIndex = columns.firstIndex(of: "full_name")
        var types: [String] = []
        for name in names {
            guard let type = shape[name] else { throw PostgresStoreError("\(table) has no column \(name)") }
            types.append(type)
        }
        let list = names.map { "\"\($0)\"" }.joined(separator: ", ")
        // The migration's own installation id gives way to the source's.
        let conflict = table == "meta" ? " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value" : ""
        let tuple = "(" + types.map { "?::\($0)" }.joined(separator: ", ") + ")"
        let sql = "INSERT INTO \(table) (\(list)) VALUES " + Array(repeating: tuple, count: rows.count).joined(separator: ", ") + conflict
        let typeList = types
        try await write { pg in
            var values: [Bind] = []
            values.reserveCapacity(rows.count * typeList.count)
            for row in rows {
                var cells = row
                if derivesWords {
                    let name: String = if let nameIndex, case .text(let text) = row[nameIndex] { text } else { "" }
                    cells.append(.text(CitizenSearch.indexedWords(fullName: name)))
                }
                for (cell, type) in zip(cells, typeList) { values.append(try Self.bind(cell, as: type, table: table)) }
            }
            try await pg.run(sql, values: values)
        }
    }

    /// A copied value as the column's type reads it: text for PostgreSQL to cast, bytes as bytea.
    static func bind(_ value: StoredValue, as type: String, table: String) throws -> Bind {
        switch (value, type) {
        case (.null, _): return nil
        case (.blob(let data), "bytea"): return data
        case (.text(let text), "bytea"): return Data(text.utf8)
        case (.integer(let integer), "boolean"): return integer != 0 ? "true" : "false"
        case (.integer(let integer), _): return String(integer)
        case (.real(let real), _): return "\(real)"
        case (.text(let text), _): return text
        case (.blob(let data), _):
            guard let text = String(data: data, encoding: .utf8) else {
                throw PostgresStoreError("\(table): bytes that are not UTF-8 for a \(type) column")
            }
            return text
        }
    }

    /// The column types of `table`, from the catalog read once (not once per batch).
    private func copyShape(_ table: String) async throws -> [String: String]? {
        if let known = copyShapes.withLock({ $0 }) { return known[table] }
        var shapes: [String: [String: String]] = [:]
        for found in try await copyColumns() {
            shapes[found.table] = Dictionary(uniqueKeysWithValues: found.columns.map { ($0.name, $0.type) })
        }
        copyShapes.withLock { $0 = shapes }
        return shapes[table]
    }

    public func finishCopy() async throws {
        let identities = try await copyColumns().flatMap { table in table.columns.filter(\.identity).map { (table.table, $0.name) } }
        try await write { pg in
            for (table, column) in identities {
                // The next id after the copied ones (identity columns are BY DEFAULT: copied ids kept).
                try await pg.run(
                    "SELECT setval(pg_get_serial_sequence(?, ?), coalesce((SELECT max(\(column)) FROM \(table)), 0) + 1, false)", table, column)
            }
            // Deliveries the source was sending when it was copied: their owner's lease runs out
            // (or has) and the take-over sends them again from here.
            try await pg.run(
                """
                INSERT INTO delivery_leases (owner, expires_at, delivery_ids)
                SELECT coalesce(lease_owner, ''), coalesce(max(lease_expires_at), 0), array_agg(id ORDER BY id)
                FROM deliveries WHERE state = \(DeliveryState.sending.sql) GROUP BY lease_owner
                """)
            try await pg.run(
                """
                UPDATE audit_head SET last_id = coalesce((SELECT max(id) FROM audit_log), 0),
                    last_hash = coalesce((SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), '')
                """)
        }
        installationReset()
    }

    public func countRows(_ table: String) async throws -> Int {
        try await read { pg in try await pg.value("SELECT count(*) FROM \(table)", as: Int.self) ?? 0 }
    }
}
