import Foundation
import HabarCore
import HabarStoreSQLite
import HabarTesting
import Testing

@Suite("habar subscriber")
struct SubscriberCommandTests {
    @Test("add prints a whsec_ secret once; list never shows it; rotate-secret signs with two until --finish; disable and enable are audited")
    func lifecycle() async throws {
        let data = try Fixtures.temporaryDirectory("cli-subscribers").path
        let added = try await HabarProcess.run(["subscriber", "add", "--name", "mfa-partner", "--url", "https://partner.example/hooks", "--language", "kk", "--data-dir", data])
        #expect(added.status == 0, "\(added.stderr)")
        let secret = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(WebhookSecret(secret) != nil, "\(secret)")
        let duplicate = try await HabarProcess.run(["subscriber", "add", "--name", "mfa-partner", "--url", "https://x.example/", "--data-dir", data])
        #expect(duplicate.status != 0 && duplicate.stderr.contains("mfa-partner"))
        let bad = try await HabarProcess.run(["subscriber", "add", "--name", "x", "--url", "ftp://x", "--data-dir", data])
        #expect(bad.status != 0 && bad.stderr.contains("--url"))

        let rotated = try await HabarProcess.run(["subscriber", "rotate-secret", "mfa-partner", "--data-dir", data])
        let fresh = rotated.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let listed = try await HabarProcess.run(["subscriber", "list", "--data-dir", data])
        #expect(listed.stdout.contains("mfa-partner\thttps://partner.example/hooks\tkk\t2 secret(s)\tactive"), "\(listed.stdout)")
        #expect(!listed.stdout.contains(secret) && !listed.stdout.contains(fresh))
        _ = try await HabarProcess.run(["subscriber", "rotate-secret", "mfa-partner", "--finish", "--data-dir", data])
        _ = try await HabarProcess.run(["subscriber", "disable", "mfa-partner", "--data-dir", data])

        let store = try SQLiteStore.open(directory: URL(fileURLWithPath: data))
        let stored = try #require(try await store.subscribers().first)
        #expect(stored.secret == fresh && !stored.active && stored.disabledReason == "disabled by an operator")
        let actions = try await store.auditEntries(page: PageRequest(limit: 50)).items.map(\.action)
        #expect(actions == ["subscriber add", "subscriber rotate-secret", "subscriber rotate-secret --finish", "subscriber disable"])
    }
}
