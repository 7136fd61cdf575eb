import ArgumentParser
import Foundation
import HabarCore
import HabarHTTP

/// `habar citizens import FILE.csv`.
struct CitizensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "citizens", abstract: "Manage citizens.", subcommands: [Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import citizens from CSV; prints {created, updated, rejected[line, field, detail]}.",
            discussion: "Good rows are kept unless --all-or-nothing. Exits 65 when any row was rejected.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "CSV file (header row; , or ; separated; UTF-8).") var file: String
        @Flag(help: "Import nothing if any row is bad.") var allOrNothing = false

        struct Report: Encodable {
            var created: Int
            var updated: Int
            var rejected: [FieldError]
        }

        func run() async throws {
            let configuration = try common.load()
            guard let data = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write("habar: cannot read \(file)\n")
                throw Exit.dataError
            }
            let store = try await makeStore(configuration)
            let report = try await CitizenImport(store: store).run(data, allOrNothing: allOrNothing, now: Date())
            if report.refused {
                FileHandle.standardError.write("habar: \(file) refused: \(report.rejected.map(\.description).joined(separator: "; "))\n")
                throw Exit.dataError
            }
            try await audit(store, "citizens import", target: "citizens", details: [
                "created": String(report.created), "updated": String(report.updated), "rejected": String(report.rejected.count)])
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(Report(created: report.created, updated: report.updated, rejected: report.rejected)), as: UTF8.self))
            if !report.rejected.isEmpty { throw Exit.dataError }
        }
    }
}
