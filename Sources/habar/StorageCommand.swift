import ArgumentParser
import Foundation
import HabarApp
import HabarCore
import Logging

/// `habar storage copy`: moving an installation from SQLite to PostgreSQL.
struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "storage", abstract: "Move an installation's database.", subcommands: [Copy.self])

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy an installation's SQLite database into an empty PostgreSQL one, verified.",
            discussion: """
                Reads one moment of the SQLite database under --from (a gateway may keep serving from it meanwhile), \
                migrates the PostgreSQL database at --to, copies every table with its ids, then checks every table's row count \
                and walks the audit chain on the copy. A target that already holds data is refused (exit 65) and left as it is. \
                Prints the rows copied per table as JSON; progress goes to standard error.
                """)

        @Option(help: "The data directory of the SQLite installation (the one holding habar.sqlite).")
        var from: String

        @Option(help: "The PostgreSQL database, postgres://user:password@host:port/name[?sslmode=...] (default: HABAR_DATABASE_URL).")
        var to: String?

        @Option(help: "Connections to PostgreSQL while copying.")
        var poolSize: Int = 4

        func run() async throws {
            bootstrapLogging("warning")
            guard let url = to ?? ProcessInfo.processInfo.environment["HABAR_DATABASE_URL"] else {
                FileHandle.standardError.write("habar: storage copy needs --to URL (or HABAR_DATABASE_URL)\n")
                throw ExitCode(64)
            }
            do {
                let started = Date()
                let report = try await copyStorage(
                    fromDataDirectory: URL(fileURLWithPath: from), to: url, poolSize: poolSize, logger: Logger(label: "habar")
                ) { table, rows in FileHandle.standardError.write("copied \(table): \(rows) rows\n") }
                let summary: [String: Any] = [
                    "rows": report.rows, "auditEntries": report.auditEntries, "auditHead": report.auditHead,
                    "seconds": (Date().timeIntervalSince(started) * 10).rounded() / 10,
                ]
                let json = try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: json, as: UTF8.self))
            } catch let refused as StorageCopy.Refused {
                FileHandle.standardError.write("habar: storage copy refused: \(refused)\n")
                throw Exit.dataError
            } catch {
                FileHandle.standardError.write("habar: storage copy failed: \(error)\n")
                throw Exit.unavailable
            }
        }
    }
}
