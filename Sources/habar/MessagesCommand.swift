import ArgumentParser
import Foundation
import HabarMessages

/// `habar messages check [DIR]`.
struct MessagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "messages", abstract: "Work with the message catalogs.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate the message catalogs; exits 65 listing every problem.")
        @Argument(help: "Catalog directory (default ./messages).") var directory: String = "./messages"
        @Option(help: "SMS segments a template may render to with the sample parameters.") var smsSegmentBudget: Int = 3

        func run() async throws {
            let problems = CatalogCheck.run(directory: URL(fileURLWithPath: directory), smsSegmentBudget: smsSegmentBudget)
            for problem in problems { FileHandle.standardError.write(Data("habar: \(problem)\n".utf8)) }
            if !problems.isEmpty {
                FileHandle.standardError.write(Data("habar: \(problems.count) problem\(problems.count == 1 ? "" : "s") in \(directory)\n".utf8))
                throw ExitCode(65)
            }
            print("messages: \(directory) is consistent: every template in every language and variant, plurals complete, SMS within \(smsSegmentBudget) segments, HTML well-formed")
        }
    }
}
