import ArgumentParser
import Foundation
import HabarCore
import HabarHTTP

/// `habar audit verify`: walks the audit log's hash chain and reports the first entry that
/// was changed, removed, inserted or reordered.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Check the audit log.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the audit log's hash chain; exit 65 naming the first broken entry.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            let store = try await makeStore(try common.load())
            switch try await AuditChainVerifier.verify(store) {
            case .broken(let problem):
                FileHandle.standardError.write("habar: audit log tampered: \(problem)\n")
                throw Exit.dataError
            case .intact(let entries, let lastHash):
                print("audit log intact: \(entries) entries, last hash \(lastHash)")
            }
        }
    }
}
