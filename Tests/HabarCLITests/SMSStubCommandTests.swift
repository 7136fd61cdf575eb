import Foundation
import HabarCore
import HabarStoreSQLite
import HabarTesting
import Testing

@Suite("habar sms-stub reply")
struct SMSStubCommandTests {
    @Test("with the default configuration a newcomer plays a citizen's SMS reply: it is read like a real one, opens the case, and says how it was read")
    func playACitizen() async throws {
        let data = try Fixtures.temporaryDirectory("cli-sms-stub")
        let csv = data.appendingPathComponent("citizens.csv")
        try Data("fullName,phone,country,language\nАйгүл Серікова,+77011234567,IR,kk\n".utf8).write(to: csv)
        let imported = try await HabarProcess.run(["citizens", "import", csv.path, "--data-dir", data.path])
        #expect(imported.status == 0, "\(imported.stderr)")

        let help = try await HabarProcess.run(["sms-stub", "reply", "--from", "8 701 123 45 67", "--text", "аман емеспін", "--data-dir", data.path])
        #expect(help.status == 0, "\(help.stderr)")
        #expect(help.stdout.contains("from +77011234567 on sms: citizen") && help.stdout.contains("read as needs help"), "\(help.stdout)")
        let stranger = try await HabarProcess.run(["sms-stub", "reply", "--from", "+15550001000", "--text", "1", "--data-dir", data.path])
        #expect(stranger.status == 0 && stranger.stdout.contains("no registered citizen"), "\(stranger.stdout)")
        let noChannel = try await HabarProcess.run(["sms-stub", "reply", "--from", "+77011234567", "--text", "1", "--channel", "sms-backup", "--data-dir", data.path])
        #expect(noChannel.status == 64 && noChannel.stderr.contains("not an sms-stub channel"), "\(noChannel.stderr)")
        let badNumber = try await HabarProcess.run(["sms-stub", "reply", "--from", "call me", "--text", "1", "--data-dir", data.path])
        #expect(badNumber.status == 64 && badNumber.stderr.contains("--from"), "\(badNumber.stderr)")

        let store = try SQLiteStore.open(directory: data)
        let cases = try await store.cases(CaseFilter(status: .open), page: PageRequest()).items
        #expect(cases.count == 1 && cases.first?.reason == .needsHelp, "\(cases)")
        let citizen = try #require(try await store.citizenId(phone: "+77011234567"))
        #expect(try await store.citizen(id: citizen)?.welfareStatus == .needsHelp)
        #expect(try await store.inboundSMS(page: PageRequest()).items.allSatisfy { $0.processedAt != nil })
    }

}
