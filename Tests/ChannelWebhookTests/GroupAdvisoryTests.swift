import HabarApp
import ChannelWebhook
import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("group advisories to travel agencies through the gateway", .serialized)
struct GroupAdvisoryTests {
    /// A gateway with the SMS stub only: the agencies' webhook channel (`agencies`) is added
    /// by default. Its dispatcher runs.
    func gateway() async throws -> (Gateway, Task<Void, any Error>) {
        var configuration = HabarConfiguration()
        configuration.dataDir = try Fixtures.temporaryDirectory("group-advisories").path
        configuration.messagesDir = Fixtures.messagesDirectory.path
        configuration.dispatcher.pollMilliseconds = 10
        let gateway = try await Gateway.make(configuration: configuration, logger: Logger(label: "group-advisories"), catalog: try Fixtures.catalog())
        return (gateway, Task { try await gateway.dispatcher.run() })
    }

    /// Registers an agency whose webhook is `receiver`'s /ok, signing with the receiver's secret.
    func agency(_ id: String, _ language: Language, _ receiver: Receiver, _ gateway: Gateway) async throws {
        let (_, hash) = AccessToken.generate()
        _ = try await gateway.store.insertAgency(
            Agency(id: id, name: id, webhookURL: receiver.url("/ok"), language: language, createdAt: Date()), secret: receiver.secret.text,
            token: NewAccessToken(id: .unsaved, name: "agency \(id)", role: .agency, agencyId: id, tokenHash: hash))
    }

    func manifest(_ gateway: Gateway, agency: String, group: String, country: String, tourists: [(String, String, String)], id: String) async throws {
        let manifest = Manifest(
            group: Manifest.Group(id: group, name: "Тур \(group)", destination: Manifest.Destination(country: country, city: nil), hotel: nil, returnFlight: nil),
            tourists: tourists.map { Manifest.Tourist(id: $0.0, fullName: $0.1, phone: $0.2, email: nil, language: .kazakh, passportNumber: nil, birthDate: nil) })
        try manifest.validate()
        let result = try await gateway.store.applyAgencyEvent(
            AgencyEvent(agencyId: agency, webhookId: id, type: "manifest.upsert", body: Data("{}".utf8), command: .manifest(manifest), at: Date()))
        #expect(result != .duplicate)
    }

    /// Waits until `count` group advisories of `advisory` are final and returns them.
    func settled(_ gateway: Gateway, _ advisory: Int64, count: Int) async throws -> [Delivery] {
        var items: [Delivery] = []
        for _ in 0..<400 {
            items = try await gateway.store.deliveries(DeliveryFilter(advisoryId: advisory, channel: "agencies"), page: PageRequest()).items
            if items.count == count, items.allSatisfy({ ![.queued, .sending, .retrying].contains($0.state) }) { return items }
            try await Task.sleep(for: .milliseconds(25))
        }
        return items
    }

    /// What a receiver verified, as (group id, tourist ids, status, language, title).
    func received(_ receiver: Receiver) -> [(group: String, tourists: [String], status: String, language: String, title: String, type: String)] {
        receiver.received().compactMap { record in
            guard record["verified"] as? Bool == true, let body = record["body"] as? [String: Any], let data = body["data"] as? [String: Any] else { return nil }
            return (((data["group"] as? [String: Any])?["id"] as? String) ?? "",
                    ((data["tourists"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String },
                    data["status"] as? String ?? "", data["language"] as? String ?? "", data["title"] as? String ?? "", body["type"] as? String ?? "")
        }.sorted { $0.group < $1.group }
    }

    @Test("each agency gets one signed group.advisory per group with recipients, listing those tourists, in its language; corrections and cancellations follow to the same groups")
    func groupAdvisories() async throws {
        guard let silkway = try await Receiver.start() else { return }
        defer { silkway.stop() }
        guard let caravan = try await Receiver.start() else { return }
        defer { caravan.stop() }
        let (gateway, dispatcher) = try await gateway()
        defer { dispatcher.cancel() }
        try await agency("silkway", .kazakh, silkway, gateway)
        try await agency("caravan", .russian, caravan, gateway)

        // Given groups in Türkiye (the audience) and one in Georgia (not), one tourist detached.
        try await manifest(gateway, agency: "silkway", group: "G-17", country: "TR",
                           tourists: [("T-1", "Айгүл Серікова", "+77015550001"), ("T-2", "Дәурен Әлиев", "+77015550002"), ("T-9", "Ерлан Жұмабаев", "+77015550009")], id: "m1")
        try await manifest(gateway, agency: "silkway", group: "G-17", country: "TR",
                           tourists: [("T-1", "Айгүл Серікова", "+77015550001"), ("T-2", "Дәурен Әлиев", "+77015550002")], id: "m2")
        try await manifest(gateway, agency: "silkway", group: "G-18", country: "TR", tourists: [("T-3", "Мария Ким", "+77015550003")], id: "m3")
        try await manifest(gateway, agency: "silkway", group: "G-19", country: "GE", tourists: [("T-4", "Нұрлан Сейітов", "+77015550004")], id: "m4")
        try await manifest(gateway, agency: "caravan", group: "C-1", country: "TR", tourists: [("K-1", "Иван Петров", "+77015550005")], id: "m5")
        // T-9 was detached from G-17 but still is a citizen in Türkiye: the SMS reaches them, G-17's list does not name them.

        // When an advisory for everyone in Türkiye goes out by SMS only,
        let advisory = try await gateway.publisher.draft(Fixtures.advisory(country: "TR", channels: ["sms"]), now: Date())
        // its preview tells HQ beforehand which agencies hear of it, about how many groups and tourists,
        let preview = try await gateway.publisher.preview(advisory, now: Date()).groupAdvisories
        #expect(preview.channel == "agencies" && preview.groups == 3 && preview.tourists == 4)
        #expect(preview.byAgency == [
            GroupAdvisoryCell(agencyId: "caravan", language: .russian, groups: 1, tourists: 1),
            GroupAdvisoryCell(agencyId: "silkway", language: .kazakh, groups: 2, tourists: 3),
        ], "\(preview.byAgency)")
        let published = try await gateway.publisher.publish(id: advisory.id, approver: "approver-1", now: Date())
        #expect(published.queued == 5 + 3)  // five citizens, three groups

        // then each agency gets one group advisory per group, verified with the reference library.
        let first = try await settled(gateway, advisory.id, count: 3)
        #expect(first.allSatisfy { $0.state == .sent && $0.groupId != nil && $0.citizenId == nil }, "\(first)")
        let toSilkway = received(silkway)
        #expect(toSilkway.map(\.group) == ["G-17", "G-18"] && toSilkway.map(\.tourists) == [["T-1", "T-2"], ["T-3"]], "\(silkway.received())")
        #expect(toSilkway.allSatisfy { $0.type == "group.advisory" && $0.status == "published" && $0.language == "kk" })
        #expect(toSilkway.first?.title.contains("дәлізі") == true, "\(toSilkway)")
        let toCaravan = received(caravan)
        #expect(toCaravan.map(\.group) == ["C-1"] && toCaravan.first?.tourists == ["K-1"] && toCaravan.first?.language == "ru")
        #expect(toCaravan.first?.title.contains("коридор") == true, "\(toCaravan)")
        let bodies = silkway.received().compactMap { $0["body"] as? [String: Any] }
        let data = try #require(bodies.compactMap { $0["data"] as? [String: Any] }.first { ($0["group"] as? [String: Any])?["id"] as? String == "G-17" })
        #expect((data["group"] as? [String: Any])?["name"] as? String == "Тур G-17")
        #expect(((data["tourists"] as? [[String: Any]])?.first?["fullName"] as? String) == "Айгүл Серікова")
        #expect(data["advisoryId"] as? Int == Int(advisory.id) && data["kind"] as? String == "green_corridor" && data["params"] is [String: Any])

        // A correction goes to the same groups, about the same tourists.
        var changed = advisory.params
        changed.meetingPoint = "Сарпи, кеден бекеті"
        _ = try await gateway.publisher.correct(id: advisory.id, AdvisoryCorrection(params: changed), by: Actor(name: "operator-1"), threshold: 100, now: Date())
        _ = try await settled(gateway, advisory.id, count: 6)
        let updates = received(silkway).filter { $0.status == "updated" }
        #expect(updates.map(\.group) == ["G-17", "G-18"] && updates.map(\.tourists) == [["T-1", "T-2"], ["T-3"]], "\(silkway.received())")
        #expect(received(caravan).filter { $0.status == "updated" }.count == 1)

        // Silk Way's secret is rotated with an hour's overlap: its next webhooks carry both signatures.
        #expect(try await gateway.store.rotateAgencySecret(id: "silkway", secret: WebhookSecret.generate().text, overlap: 3600, now: Date()))
        // A cancellation with notice tells them it no longer holds.
        _ = try await gateway.publisher.cancel(id: advisory.id, notice: true, by: Actor(name: "approver-1"), now: Date())
        let all = try await settled(gateway, advisory.id, count: 9)
        #expect(all.allSatisfy { $0.state == .sent }, "\(all)")
        #expect(received(silkway).filter { $0.status == "cancelled" }.map(\.group) == ["G-17", "G-18"])
        let signatures = silkway.received().filter { (($0["body"] as? [String: Any])?["data"] as? [String: Any])?["status"] as? String == "cancelled" }
            .compactMap { $0["signatures"] as? Int }
        #expect(signatures == [2, 2], "\(signatures)")
        // Every webhook-id (the delivery's idempotency key) arrived once.
        let ids = (silkway.received() + caravan.received()).compactMap { $0["id"] as? String }
        #expect(ids.count == 9 && Set(ids).count == 9)
        // The deliveries are tracked like any other, per group.
        let g17 = try #require(first.first { $0.language == .kazakh }?.groupId)
        #expect(try await gateway.store.deliveries(DeliveryFilter(groupId: g17), page: PageRequest()).items.count == 3)
        // Once the overlap is over (no overlap here), only the new secret signs.
        #expect(try await gateway.store.rotateAgencySecret(id: "caravan", secret: WebhookSecret.generate().text, overlap: 0, now: Date()))
        let second = try await gateway.publisher.draft(Fixtures.advisory(country: "TR", channels: ["sms"]), now: Date())
        _ = try await gateway.publisher.publish(id: second.id, approver: "approver-1", now: Date())
        _ = try await settled(gateway, second.id, count: 3)
        let refused = caravan.received().last
        #expect(refused?["verified"] as? Bool == false, "the old secret no longer verifies what Habar signs: \(refused ?? [:])")
    }

    @Test("an agency whose webhook answered 410 is shown disabled; an admin's PATCH with a new webhookUrl sends its group advisories again, there, in the new language; null stops them")
    func changingTheWebhook() async throws {
        guard let receiver = try await Receiver.start() else { return }
        defer { receiver.stop() }
        let (gateway, dispatcher) = try await gateway()
        defer { dispatcher.cancel() }
        let (_, hash) = AccessToken.generate()
        _ = try await gateway.store.insertAgency(
            Agency(id: "silkway", name: "Silk Way", webhookURL: receiver.url("/gone"), language: .kazakh, createdAt: Date()), secret: receiver.secret.text,
            token: NewAccessToken(id: .unsaved, name: "agency silkway", role: .agency, agencyId: "silkway", tokenHash: hash))
        let (admin, adminHash) = AccessToken.generate()
        _ = try await gateway.store.insertToken(NewAccessToken(id: .unsaved, name: "admin", role: .admin, tokenHash: adminHash))
        try await manifest(gateway, agency: "silkway", group: "G-17", country: "TR", tourists: [("T-1", "Айгүл Серікова", "+77015550001")], id: "m1")
        /// An advisory to Türkiye's citizens; its group advisories once sent (they are queued with it).
        func advise() async throws -> [Delivery] {
            let advisory = try await gateway.publisher.draft(Fixtures.advisory(country: "TR", channels: ["sms"]), now: Date())
            _ = try await gateway.publisher.publish(id: advisory.id, approver: "approver-1", now: Date())
            let queued = try await gateway.store.deliveries(DeliveryFilter(advisoryId: advisory.id, channel: "agencies"), page: PageRequest()).items
            return queued.isEmpty ? [] : try await settled(gateway, advisory.id, count: queued.count)
        }
        @Sendable func call(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ body: String? = nil) async throws -> (Int, [String: Any]) {
            var headers: HTTPFields = [.authorization: "Bearer \(admin)"]
            if body != nil { headers[.contentType] = "application/json" }
            let response = try await client.execute(
                uri: "/v1/agencies/silkway", method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
            let json = (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any] ?? [:]
            return (Int(response.status.code), json)
        }

        // The agency's address answers 410: its webhook is disabled, and GET says so.
        #expect(try await advise().map(\.state) == [.failed])
        let application = Application(router: buildRouter(gateway: gateway))
        try await application.test(.router) { client in
            let (status, gone) = try await call(client, .get)
            #expect(status == 200 && gone["webhookStatus"] as? String == "disabled" && (gone["webhookDisabledReason"] as? String)?.contains("410") == true, "\(gone)")
            // An admin gives its new address and language,
            let (patched, changed) = try await call(client, .patch, #"{"webhookUrl": "\#(receiver.url("/ok"))", "language": "ru"}"#)
            #expect(patched == 200 && changed["webhookStatus"] as? String == "active" && changed["webhookUrl"] as? String == receiver.url("/ok"), "\(changed)")
            #expect(changed["webhookDisabledReason"] == nil && changed["language"] as? String == "ru" && changed["name"] as? String == "Silk Way")
        }
        // so the next advisory reaches it there, signed with its secret, in Russian.
        #expect(try await advise().map(\.state) == [.sent])
        #expect(received(receiver).map(\.group) == ["G-17"] && received(receiver).first?.language == "ru", "\(receiver.received())")
        // Without a URL it gets none.
        try await application.test(.router) { client in
            let (patched, changed) = try await call(client, .patch, #"{"webhookUrl": null}"#)
            #expect(patched == 200 && changed["webhookUrl"] == nil && changed["webhookStatus"] == nil, "\(changed)")
        }
        #expect(try await advise().isEmpty)
        #expect(receiver.received().count == 1)
    }

    @Test("an advisory whose audience touches no agency group sends no group advisory; an agency without a webhook URL gets none")
    func noGroupAdvisories() async throws {
        let (gateway, dispatcher) = try await gateway()
        defer { dispatcher.cancel() }
        let (_, hash) = AccessToken.generate()
        _ = try await gateway.store.insertAgency(
            Agency(id: "quiet", name: "Quiet", webhookURL: nil, language: .russian, createdAt: Date()), secret: WebhookSecret.generate().text,
            token: NewAccessToken(id: .unsaved, name: "agency quiet", role: .agency, agencyId: "quiet", tokenHash: hash))
        try await manifest(gateway, agency: "quiet", group: "Q-1", country: "TR", tourists: [("Q", "Асель Нурова", "+77015550011")], id: "q1")
        _ = try await gateway.store.upsertCitizens([Fixtures.citizen(1)])
        let iran = try await gateway.publisher.draft(Fixtures.advisory(country: "IR"), now: Date())
        #expect(try await gateway.publisher.publish(id: iran.id, approver: "a", now: Date()).queued == 1)
        let turkey = try await gateway.publisher.draft(Fixtures.advisory(country: "TR"), now: Date())
        let preview = try await gateway.publisher.preview(turkey, now: Date()).groupAdvisories
        #expect(preview.groups == 0 && preview.tourists == 0 && preview.byAgency.isEmpty)
        #expect(try await gateway.publisher.publish(id: turkey.id, approver: "a", now: Date()).queued == 1)
        #expect(try await gateway.store.deliveries(DeliveryFilter(channel: "agencies"), page: PageRequest()).items.isEmpty)
    }
}
