import Foundation
import HabarCore
import HabarMessages
import HabarStoreSQLite
import HabarTesting
import Testing

@Suite("Check-in link tokens")
struct CheckinLinkStoreTests {
    @Test("a token is 22 URL-safe characters, verifies to its citizen and advisory, fails when any character changes, and differs per installation")
    func tokens() async throws {
        let (_, store) = try #require(try Fixtures.stores().first)
        let links = CheckinLinks(store: store)
        let token = try await links.token(citizenId: 4_000_123, advisoryId: 77)
        #expect(token.count == CheckinLinks.tokenLength && token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(try await links.verify(token).map { [$0.citizenId, $0.advisoryId] } == [4_000_123, 77])
        for index in token.indices {
            var altered = token
            let replacement: Character = token[index] == "A" ? "B" : "A"
            altered.replaceSubrange(index...index, with: [replacement])
            #expect(try await links.verify(altered) == nil, "\(altered)")
        }
        // The last character's low bits are padding: flipping one still decodes to the same
        // bytes, and must still be refused (one spelling per token).
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let lastIndex = try #require(alphabet.firstIndex(of: token.last!))
        let sameBytes = String(token.dropLast()) + String(alphabet[lastIndex ^ 1])
        #expect(try await links.verify(sameBytes) == nil, "\(sameBytes)")
        let (_, other) = try #require(try Fixtures.stores().first)
        #expect(try await CheckinLinks(store: other).verify(token) == nil)
        // The secret stays with the installation: a second instance over the same store agrees.
        #expect(try await CheckinLinks(store: store).verify(token) != nil)
    }

    @Test("personalising puts each citizen's token in the placeholder's place; a subscriber's text points at the site, not at a dead link")
    func personalise() async throws {
        let (_, store) = try #require(try Fixtures.stores().first)
        let links = CheckinLinks(store: store)
        let text = "Жауап беріңіз: https://habar.example.kz/c/\(CheckinLinks.placeholder) немесе 1/2"
        let message = OutboundMessage(
            deliveryId: 1, step: 0, idempotencyKey: "k-1-0", address: .phone(PhoneNumber("+77010000001")!),
            message: RenderedMessage(language: .kazakh, kind: .sms, text: text), advisoryId: 5, advisoryVersion: 1, severity: .severe,
            expiresAt: Date().addingTimeInterval(60), citizenId: 9)
        let personal = try await links.personalize(message)
        let token = try await links.token(citizenId: 9, advisoryId: 5)
        #expect(personal.message.text == "Жауап беріңіз: https://habar.example.kz/c/\(token) немесе 1/2")
        #expect(personal.message.sms.segments == message.message.sms.segments)
        var subscriber = message
        subscriber.citizenId = nil
        #expect(try await links.personalize(subscriber).message.text == "Жауап беріңіз: https://habar.example.kz немесе 1/2")
    }
}
