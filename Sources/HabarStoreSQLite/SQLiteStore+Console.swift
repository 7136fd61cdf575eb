import Foundation
import GRDB
import HabarCore
import HabarMessages

// MARK: The operator console's accounts and sessions

extension SQLiteStore {
    static func operatorAccount(_ row: Row) -> OperatorAccount {
        OperatorAccount(
            id: row["id"], name: row["name"], role: Role(rawValue: row["role"]) ?? .viewer, passwordHash: row["password_hash"],
            totpSecret: row["totp_secret"], language: Language(rawValue: row["language"]) ?? .russian,
            createdAt: Date(ms: row["created_at"]), disabledAt: (row["disabled_at"] as Int64?).map(Date.init(ms:)))
    }

    public func insertOperator(name: String, role: Role, passwordHash: String, language: Language, at: Date) async throws -> OperatorAccount {
        try await writer.write { db in
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM operators WHERE name = ?)", arguments: [name]) == true {
                throw OperationError.conflict("an account named '\(name)' exists")
            }
            try db.execute(
                sql: "INSERT INTO operators (name, role, password_hash, language, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [name, role.rawValue, passwordHash, language.rawValue, at.ms])
            return OperatorAccount(
                id: db.lastInsertedRowID, name: name, role: role, passwordHash: passwordHash, language: language, createdAt: Date(ms: at.ms))
        }
    }

    public func operatorAccount(name: String) async throws -> OperatorAccount? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM operators WHERE name = ?", arguments: [name]).map(Self.operatorAccount)
        }
    }

    public func operatorAccounts() async throws -> [OperatorAccount] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM operators ORDER BY name").map(Self.operatorAccount)
        }
    }

    public func setOperatorLanguage(id: Int64, language: Language) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "UPDATE operators SET language = ? WHERE id = ?", arguments: [language.rawValue, id])
            return db.changesCount == 1
        }
    }

    public func setOperatorTOTP(id: Int64, secret: String?) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "UPDATE operators SET totp_secret = ? WHERE id = ?", arguments: [secret, id])
            guard db.changesCount == 1 else { return false }
            try db.execute(sql: "DELETE FROM console_sessions WHERE operator_id = ?", arguments: [id])
            return true
        }
    }

    public func insertSession(_ session: ConsoleSession) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO console_sessions (token_hash, operator_id, csrf_token, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [session.tokenHash, session.operatorId, session.csrfToken, session.createdAt.ms, session.lastSeenAt.ms])
        }
    }

    public func session(tokenHash: String, idleSince: Date, now: Date) async throws -> (session: ConsoleSession, account: OperatorAccount)? {
        try await writer.write { db in
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT s.token_hash, s.csrf_token, s.created_at AS session_created_at, s.last_seen_at, o.*
                    FROM console_sessions s JOIN operators o ON o.id = s.operator_id WHERE s.token_hash = ?
                    """),
                arguments: [tokenHash])
            else { return nil }
            let lastSeen: Int64 = row["last_seen_at"]
            guard lastSeen > idleSince.ms, row["disabled_at"] as Int64? == nil else {
                try db.execute(sql: "DELETE FROM console_sessions WHERE token_hash = ?", arguments: [tokenHash])
                return nil
            }
            try db.cachedStatement(sql: "UPDATE console_sessions SET last_seen_at = ? WHERE token_hash = ?").execute(arguments: [now.ms, tokenHash])
            let account = Self.operatorAccount(row)
            return (ConsoleSession(
                tokenHash: tokenHash, operatorId: account.id, csrfToken: row["csrf_token"], createdAt: Date(ms: row["session_created_at"]),
                lastSeenAt: Date(ms: now.ms)), account)
        }
    }

    public func deleteSession(tokenHash: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM console_sessions WHERE token_hash = ?", arguments: [tokenHash])
        }
    }
}
