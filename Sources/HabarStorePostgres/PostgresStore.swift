import Foundation
import HabarCore
import HabarMessages
import Logging
import NIOPosix
import PostgresNIO
import Synchronization

/// Habar's storage on PostgreSQL: one `PostgresClient` (a pool of up to `poolSize`
/// connections) per instance, any number of instances on one database. Each requirement is
/// one transaction at READ COMMITTED; what must not interleave across instances takes a row
/// lock (`FOR UPDATE`, `SKIP LOCKED` for claims) or a transaction advisory lock, named where
/// it is taken. A transaction that meets a deadlock or a serialization failure is run again
/// (it changed nothing).
public final class PostgresStore: HabarStore {
    let client: PostgresClient
    let logger: Logger
    private let running: Task<Void, Never>
    /// Set once by the first migration and never changed; read on every claim.
    private let installation = Mutex<String?>(nil)
    /// The delivery counts of advisories whose deliveries are all final (`deliveryCounts`).
    let finalCounts = FinalDeliveryCounts()
    /// Column types by table, read once per `habar storage copy` (`copyShape`).
    let copyShapes = Mutex<[String: [String: String]]?>(nil)
    /// Channels (by owner) whose last claim here filled its limit: their next claim skips the
    /// idle check (`anyDue`), which would only say there is more. During a broadcast that
    /// check walked the queue index's entries of rows just claimed, about a millisecond of
    /// the server's time per claim.
    let claimedFull = Mutex<Set<String>>([])

    private init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        running = Task { await client.run() }
    }

    deinit { running.cancel() }

    /// Connects, migrates (under the migration lock) and returns the store; the pool runs
    /// until `close()` (or the store is released).
    public static func open(_ settings: PostgresSettings, logger: Logger) async throws -> PostgresStore {
        // One connection first, alone: what cannot work (a certificate the CA did not sign, a
        // wrong password, no such database, nobody listening) fails the start with the
        // server's reason, where the pool would try again and again, waiting forever.
        do {
            let connection = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: try settings.connectionConfiguration(), id: 0, logger: logger
            ).get()
            try await connection.close()
        } catch {
            throw PostgresStoreError.describing(error, settings: settings)
        }
        let store = PostgresStore(client: PostgresClient(configuration: settings.clientConfiguration, backgroundLogger: logger), logger: logger)
        // The pool's run loop starts on its own task; a first lease before it is running only
        // waits, but logs a warning, so give it a moment.
        try? await Task.sleep(for: .milliseconds(20))
        do {
            try await PostgresMigrations.migrate(store.client, logger: logger)
        } catch {
            store.close()
            throw PostgresStoreError.describing(error, settings: settings)
        }
        return store
    }

    /// Ends the pool: running queries finish, new ones fail.
    public func close() { running.cancel() }

    /// Ends the pool and returns when its connections are closed.
    public func shutDown() async {
        running.cancel()
        await running.value
    }

    // MARK: Transactions

    /// `body` in one transaction, committed when it returns; run again (up to 5 times) after a
    /// deadlock or serialization failure, which rolled it back.
    func write<T: Sendable>(_ body: @Sendable (PG) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await client.withTransaction(logger: logger) { connection in try await body(PG(connection: connection, logger: logger)) }
            } catch let error as PostgresTransactionError {
                if let closure = error.closureError, attempt < 5, Self.isRetryable(closure) {
                    attempt += 1
                    continue
                }
                throw Self.readable(Self.unwrap(error))
            } catch {
                if attempt < 5, Self.isRetryable(error) {
                    attempt += 1
                    continue
                }
                throw Self.readable(error)
            }
        }
    }

    // MARK: Citizens and the deliveries that name them

    /// Citizens are not deleted until this transaction ends (migration v7's lock, shared; many
    /// transactions hold it at once). Taken first, before the statement that writes deliveries
    /// for many citizens, so that statement's snapshot already shows any erasure that held the
    /// lock before it, and an erasure after it waits for this transaction and then sees its deliveries.
    static func keepCitizens(_ pg: PG) async throws {
        try await pg.run("SELECT pg_advisory_xact_lock_shared(?)", PostgresMigrations.citizensLockKey)
    }

    /// Deleting citizens (erasure, merge): waits for the transactions that keep citizens (a
    /// fan-out in flight), and holds new ones back until this one ends. Taken first, before the
    /// statements that look for the citizen's deliveries. The trigger on citizens takes it too.
    static func deletingCitizens(_ pg: PG) async throws {
        try await pg.run("SELECT pg_advisory_xact_lock(?)", PostgresMigrations.citizensLockKey)
    }

    /// `body` on one connection without a transaction, for one statement that writes and
    /// commits on its own (one round trip instead of BEGIN, the statement, COMMIT); run again
    /// (up to 5 times) after a deadlock or serialization failure, which changed nothing.
    func autocommit<T: Sendable>(_ body: @Sendable (PG) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await read(body)
            } catch {
                guard attempt < 5, Self.isRetryable(error) else { throw error }
                attempt += 1
            }
        }
    }

    /// The driver's errors made readable (`PostgresStoreError`); the store's own (an
    /// `OperationError`, a validation failure) unchanged.
    static func readable(_ error: any Error) -> any Error {
        switch error {
        case is PSQLError, is PostgresDecodingError, is PostgresTransactionError: PostgresStoreError.describing(error)
        default: error
        }
    }

    /// `body` on one connection without a transaction of its own (each statement sees the
    /// database as it is when it runs; use `write` when two reads must agree).
    func read<T: Sendable>(_ body: @Sendable (PG) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in try await body(PG(connection: connection, logger: logger)) }
        } catch {
            throw Self.readable(error)
        }
    }

    /// The error the closure threw (an `OperationError` stays one), else the transaction's.
    static func unwrap(_ error: PostgresTransactionError) -> any Error {
        if let closure = error.closureError { return closure }
        if let begin = error.beginError { return begin }
        if let commit = error.commitError { return commit }
        return error
    }

    static func isRetryable(_ error: any Error) -> Bool {
        guard let state = PostgresStoreError.describing(error).sqlState else { return false }
        return state == "40001" || state == "40P01"
    }

    /// Whether `error` is a unique violation (of `constraint`, when given).
    static func isUniqueViolation(_ error: any Error, constraint: String? = nil) -> Bool {
        var error = error
        if let transaction = error as? PostgresTransactionError { error = unwrap(transaction) }
        guard let known = error as? PostgresStoreError, known.sqlState == "23505" else { return false }
        guard let constraint else { return true }
        return known.constraint == constraint
    }

    // MARK: Installation

    public func installationId() async throws -> String {
        if let known = installation.withLock({ $0 }) { return known }
        let id = try await read { pg in
            try await pg.value("SELECT value FROM meta WHERE key = 'installation_id'", as: String.self) ?? "habar"
        }
        installation.withLock { $0 = id }
        return id
    }

    /// Forgets the installation id read before (`habar storage copy` replaced it).
    func installationReset() { installation.withLock { $0 = nil } }

    public func installationSecret(named name: String) async throws -> Data {
        var fresh = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in fresh.indices { fresh[index] = UInt8.random(in: .min ... .max, using: &generator) }
        let candidate = Data(fresh)
        // Of two first uses at once, the insert that loses the race inserts nothing and both
        // read the winner's.
        return try await write { pg in
            try await pg.run("INSERT INTO installation_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, candidate)
            guard let stored = try await pg.value("SELECT value FROM installation_secrets WHERE name = ?", name, as: Data.self) else {
                throw PostgresStoreError("installation secret '\(name)' vanished")
            }
            return stored
        }
    }

    /// The number of migrations recorded (tests: instances started together migrate once).
    public func appliedMigrations() async throws -> Int {
        try await PostgresMigrations.appliedCount(client, logger: logger)
    }

    /// Runs raw SQL; for tests that check what the schema itself refuses.
    public func rawExecute(_ sql: String) async throws {
        try await write { pg in _ = try await pg.connection.simpleQuery(sql).get() }
    }
}

/// A value bound to a `?` of a statement (nil: NULL).
typealias Bind = (any PostgresThrowingDynamicTypeEncodable)?

/// One connection inside a store call, with the few shapes of query the store uses. Statements
/// are written with `?` placeholders, numbered `$1…` in order here (a `?` inside a quoted
/// literal is left alone).
struct PG: @unchecked Sendable {
    let connection: PostgresConnection
    let logger: Logger

    static func query(_ sql: String, _ values: [Bind]) throws -> PostgresQuery {
        let (text, number) = numbered(sql)
        return PostgresQuery(unsafeSQL: text, binds: try bindings(values, placeholders: number, sql))
    }

    static func bindings(_ values: [Bind], placeholders: Int, _ sql: String) throws -> PostgresBindings {
        guard placeholders == values.count else {
            throw PostgresStoreError("a statement has \(placeholders) placeholders and \(values.count) values: \(sql.prefix(80))")
        }
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            if let value { try binds.append(value) } else { binds.appendNull() }
        }
        return binds
    }

    /// Every row of one of the store's prepared statements (`HotStatement`).
    func rows<Statement: HotStatement>(_ statement: Statement) async throws -> [PostgresRandomAccessRow] {
        try await describingErrors(Statement.sql) {
            var rows: [PostgresRandomAccessRow] = []
            for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
            return rows
        }
    }

    /// `body`'s result; a driver error becomes a `PostgresStoreError` naming the statement
    /// (without its values), a cancellation stays one.
    private func describingErrors<T>(_ sql: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw PostgresStoreError.describing(error, statement: sql)
        }
    }

    /// `sql` with its `?` placeholders numbered `$1…` (outside quoted literals), and how many
    /// there are. Byte by byte: `?` and `'` are ASCII, and UTF-8 never uses an ASCII byte inside
    /// another character, so the text outside them is copied unchanged. (Walking the statement
    /// as Swift characters cost about 5% of the dispatcher's CPU.)
    static func numbered(_ sql: String) -> (String, Int) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(sql.utf8.count + 32)
        var number = 0
        var quoted = false
        for byte in sql.utf8 {
            if byte == UInt8(ascii: "'") { quoted.toggle() }
            if byte == UInt8(ascii: "?"), !quoted {
                number += 1
                bytes.append(UInt8(ascii: "$"))
                bytes.append(contentsOf: String(number).utf8)
            } else {
                bytes.append(byte)
            }
        }
        return (String(decoding: bytes, as: UTF8.self), number)
    }

    func rows(_ sql: String, _ values: Bind...) async throws -> [PostgresRandomAccessRow] {
        try await all(Self.query(sql, values))
    }

    func rows(_ sql: String, values: [Bind]) async throws -> [PostgresRandomAccessRow] {
        try await all(Self.query(sql, values))
    }

    func row(_ sql: String, _ values: Bind...) async throws -> PostgresRandomAccessRow? {
        try await all(Self.query(sql, values)).first
    }

    func value<T: PostgresDecodable>(_ sql: String, _ values: Bind..., as type: T.Type) async throws -> T? {
        try await scalar(Self.query(sql, values), as: type)
    }

    func value<T: PostgresDecodable>(_ sql: String, values: [Bind], as type: T.Type) async throws -> T? {
        try await scalar(Self.query(sql, values), as: type)
    }

    @discardableResult
    func run(_ sql: String, _ values: Bind...) async throws -> Int {
        try await execute(Self.query(sql, values))
    }

    @discardableResult
    func run(_ sql: String, values: [Bind]) async throws -> Int {
        try await execute(Self.query(sql, values))
    }

    /// Every row, read at once.
    private func all(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await describingErrors(query.sql) {
            var rows: [PostgresRandomAccessRow] = []
            for try await row in try await connection.query(query, logger: logger) { rows.append(row.makeRandomAccess()) }
            return rows
        }
    }

    private func first(_ query: PostgresQuery) async throws -> PostgresRandomAccessRow? {
        try await all(query).first
    }

    /// The first column of the first row (nil when there is no row or it is NULL).
    private func scalar<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type) async throws -> T? {
        guard let row = try await first(query), row[0].bytes != nil else { return nil }
        return try row[0].decode(T.self)
    }

    /// Runs a statement; returns how many rows it returned (`RETURNING 1` counts changes).
    @discardableResult
    private func execute(_ query: PostgresQuery) async throws -> Int {
        try await describingErrors(query.sql) {
            var count = 0
            for try await _ in try await connection.query(query, logger: logger) { count += 1 }
            return count
        }
    }
}

/// A statement the dispatcher runs for every few deliveries (a batch of sends recorded, of
/// reports applied): a named prepared statement, which the server parses and plans once per
/// connection (PostgresNIO prepares it on a connection's first use) instead of on every run —
/// planning alone was a third of the send record's time on the server. Its text is fixed
/// (`?` placeholders, numbered once); the values are bound per run. A connection pooler in
/// front of the server must keep prepared statements (PgBouncer: `max_prepared_statements`).
protocol HotStatement: PostgresPreparedStatement where Row == PostgresRandomAccessRow {
    /// The statement with its `?` placeholders numbered, and how many.
    static var numbered: (sql: String, placeholders: Int) { get }
    var binds: PostgresBindings { get }
    init(binds: PostgresBindings)
}

extension HotStatement {
    static var name: String { "habar_" + String(describing: Self.self) }
    static var sql: String { numbered.sql }
    func makeBindings() throws -> PostgresBindings { binds }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRandomAccessRow { row.makeRandomAccess() }
}

extension PostgresRandomAccessRow {
    /// The column `name` as `T` (an Optional for a nullable column).
    func get<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try self[name].decode(T.self)
    }

    /// A millisecond column as a date.
    func date(_ name: String) throws -> Date { Date(ms: try get(name, as: Int64.self)) }
    func optionalDate(_ name: String) throws -> Date? { try get(name, as: Int64?.self).map(Date.init(ms:)) }
}

// MARK: Time as integer milliseconds

extension Date {
    /// Milliseconds since 1970, as stored.
    var ms: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    init(ms: Int64) { self.init(timeIntervalSince1970: Double(ms) / 1000) }
}

/// The store failing: what happened, without the URL's password or the query's values.
public struct PostgresStoreError: Error, CustomStringConvertible {
    public var description: String
    /// The server's SQLSTATE and the constraint it names, when the server refused a statement.
    public var sqlState: String?
    public var constraint: String?

    public init(_ description: String, sqlState: String? = nil, constraint: String? = nil) {
        self.description = description
        self.sqlState = sqlState
        self.constraint = constraint
    }

    /// A readable account of a PostgresNIO error: the server's message, SQLSTATE and the start
    /// of the statement (never its values), or the connection's failure. PostgresNIO's own
    /// description is a fixed text, to keep secrets out of logs; this keeps them out too.
    static func describing(_ error: any Error, statement: String? = nil) -> PostgresStoreError {
        if let known = error as? PostgresStoreError { return known }
        if let transaction = error as? PostgresTransactionError { return describing(PostgresStore.unwrap(transaction), statement: statement) }
        let context = statement.map { " in: " + $0.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ").prefix(160) } ?? ""
        if let psql = error as? PSQLError {
            if let message = psql.serverInfo?[.message] {
                let detail = psql.serverInfo?[.detail].map { " (\($0))" } ?? ""
                return PostgresStoreError(
                    "PostgreSQL: \(message)\(detail), SQLSTATE \(psql.serverInfo?[.sqlState] ?? "?")\(context)",
                    sqlState: psql.serverInfo?[.sqlState], constraint: psql.serverInfo?[.constraintName])
            }
            let underlying = psql.underlying.map { ": \($0)" } ?? ""
            return PostgresStoreError("PostgreSQL: \(psql.code)\(underlying)\(context)")
        }
        if let decoding = error as? PostgresDecodingError {
            return PostgresStoreError(
                "PostgreSQL: column '\(decoding.columnName)' (\(decoding.postgresType)) could not be read as \(decoding.targetType): \(decoding.code)\(context)")
        }
        return PostgresStoreError("PostgreSQL: \(error)\(context)")
    }

    /// The same, for opening the store: naming the server by its redacted URL.
    static func describing(_ error: any Error, settings: PostgresSettings) -> any Error {
        let known = describing(error)
        return PostgresStoreError("\(known.description.replacingOccurrences(of: "PostgreSQL:", with: "PostgreSQL at \(settings.redactedURL):"))", sqlState: known.sqlState, constraint: known.constraint)
    }
}
