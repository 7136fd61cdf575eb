import ArgumentParser
import Foundation
import HabarMessages

/// `habar messages check [DIR]`.
struct MessagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "messages", abstract: "Work with the message catalogs.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate the message catalogs; exits 65 listing every problem.")
        @Argument(help: "Catalog directory (default ./messages).") var directory: String = "./messages"

        func run() async throws {
            let problems: [CatalogError]
            do {
                let catalog = try MessageCatalog.load(directory: URL(fileURLWithPath: directory))
                problems = catalog.check()
            } catch {
                problems = [error]
            }
            for problem in problems { FileHandle.standardError.write(Data("habar: \(problem)\n".utf8)) }
            if !problems.isEmpty { throw ExitCode(65) }
            print("messages: \(directory) is consistent")
        }
    }
}
