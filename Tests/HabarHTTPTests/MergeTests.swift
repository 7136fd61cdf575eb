import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

@Suite("Duplicate citizens: merge suggestions and merges", .serialized)
struct MergeTests {
    /// HQ registered Айгүл in Cyrillic with her Kazakh number; her agency sent her in Latin
    /// letters with a Turkish SIM: two records, suggested as one person.
    @Test("a tourist HQ knows under another script is suggested with the reasons; a dismissed pair is not suggested again; not-the-same people are not suggested")
    func suggestions() async throws {
        let a = try await AgencyRig()
        let store = a.rig.gateway.store
        let hq = try await store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Айгүл Серікова", phone: PhoneNumber("+77015550001"), country: "KZ", birthDate: "1990-05-01"))
        _ = try await store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Иван Петров", phone: PhoneNumber("+77015550002"), country: "TR", birthDate: "1980-01-01"))
        _ = try await store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Дәурен Әлиев", phone: PhoneNumber("+77015550003"), country: "AE"))
        try await a.rig.run { api in
            let manifest = #"""
                {"type": "manifest.upsert", "data": {"group": {"id": "G-1", "name": "Istanbul", "destination": {"country": "TR"}}, "tourists": [
                 {"id": "T-1", "fullName": "Aigul Serikova", "phone": "+905321112233", "birthDate": "1990-05-01"},
                 {"id": "T-2", "fullName": "Ivan Petrov", "phone": "+905321112244", "birthDate": "1981-01-01"},
                 {"id": "T-3", "fullName": "Dauren Aliyev", "phone": "+905321112255"}]}}
                """#
            guard try await a.post(api, manifest, id: "m1")?.status == 200 else { return }
            let aigul = try #require(try await store.citizenId(phone: "+905321112233"))
            let viewer = a.rig.tokens[.viewer]
            let found = try await api.call(.get, "/v1/citizens/merge-suggestions", as: .some(viewer))
            #expect(found.status == 200, "\(found.text)")
            let items = found.json["items"] as? [[String: Any]] ?? []
            // Айгүл: same name in another script, same birth date. Иван: birth dates differ. Дәурен: other country, no dates.
            #expect(items.count == 1 && (items.first?["citizenIds"] as? [Int]) == [Int(hq.id), Int(aigul)], "\(found.text)")
            #expect((items.first?["reasons"] as? [String]) == ["name_in_another_script", "same_birth_date"])
            #expect(((items.first?["citizens"] as? [[String: Any]])?.map { $0["fullName"] as? String }) == ["Айгүл Серікова", "Aigul Serikova"])
            #expect(found.json["nextCursor"] is NSNull)
            #expect(try await api.call(.get, "/v1/citizens/merge-suggestions", as: .some(a.token)).status == 403)

            let dismissed = try await api.call(.post, "/v1/citizens/merge-suggestions/dismiss", json: #"{"citizenIds": [\#(aigul), \#(hq.id)]}"#, as: .some(a.rig.tokens[.operator]))
            #expect(dismissed.status == 204, "\(dismissed.text)")
            #expect((try await api.call(.get, "/v1/citizens/merge-suggestions", as: .some(viewer)).json["items"] as? [Any])?.isEmpty == true)
            #expect(try await api.call(.post, "/v1/citizens/merge-suggestions/dismiss", json: #"{"citizenIds": [1, 1]}"#, as: .some(a.rig.tokens[.operator])).status == 422)
            #expect(try await api.call(.post, "/v1/citizens/merge-suggestions/dismiss", json: #"{"citizenIds": [1, 99999]}"#, as: .some(a.rig.tokens[.operator])).status == 404)
            #expect(try await api.call(.post, "/v1/citizens/merge-suggestions/dismiss", json: #"{"citizenIds": [1, 2]}"#, as: .some(viewer)).status == 403)
        }
    }

    @Test("a merge keeps every history: deliveries (both of one version), welfare, answers, cases, replies, the agency's link; the merged record's link and number lead to the kept one")
    func merge() async throws {
        let a = try await AgencyRig()
        let gateway = a.rig.gateway
        let store = gateway.store
        let hq = try await store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Айгүл Серікова", phone: PhoneNumber("+77015550001"), country: "TR", birthDate: "1990-05-01"))
        try await a.rig.run { api in
            let manifest = #"""
                {"type": "manifest.upsert", "data": {"group": {"id": "G-1", "name": "Istanbul", "destination": {"country": "TR"}}, "tourists": [
                 {"id": "T-1", "fullName": "Aigul Serikova", "phone": "+905321112233", "email": "aigul@mail.kz", "birthDate": "1990-05-01", "passportNumber": "N1234567"}]}}
                """#
            guard try await a.post(api, manifest, id: "m1")?.status == 200 else { return }
        }
        let duplicate = try #require(try await store.citizenId(phone: "+905321112233"))
        // Both records get the same check-in request (two deliveries of one version), the
        // duplicate's SMS reply asks for help (a case), HQ's record answered safe earlier by link.
        var request = Fixtures.checkinRequest()
        request.audience = Audience(countries: ["TR"])
        let advisory = try await gateway.publisher.draft(request, now: Date())
        _ = try await gateway.publisher.publish(id: advisory.id, approver: "approver-1", now: Date())
        try await store.recordCheckins([CheckinAnswer(citizenId: hq.id, advisoryId: advisory.id, meaning: .safe, source: .link, text: nil, at: Date().addingTimeInterval(-60))])
        let reply = try await store.recordInboundSMS(NewInboundSMS(id: .unsaved, channel: "sms", sender: "+905321112233", receiver: "1444", text: "Көмек керек", sentAt: nil, receivedAt: Date(), providerMessageId: "r1"))
        #expect(reply.citizenId == duplicate)
        try await store.recordCheckins([CheckinAnswer(citizenId: duplicate, advisoryId: advisory.id, meaning: .needsHelp, source: .sms, text: "Көмек керек", inboundId: reply.id, at: Date())])
        let link = try await gateway.links.token(citizenId: duplicate, advisoryId: advisory.id)
        // HQ's record also has an open case (a question by SMS): two open cases become one.
        try await store.recordCheckins([CheckinAnswer(citizenId: hq.id, advisoryId: nil, meaning: .unclear, source: .sms, text: "Где автобус?", at: Date().addingTimeInterval(-30))])

        try await a.rig.run { api in
            let op = a.rig.tokens[.operator]
            #expect(try await api.call(.post, "/v1/citizens/\(hq.id)/merge", json: #"{"duplicateId": \#(hq.id)}"#, as: .some(op)).status == 422)
            #expect(try await api.call(.post, "/v1/citizens/\(hq.id)/merge", json: #"{"duplicateId": 99999}"#, as: .some(op)).status == 404)
            #expect(try await api.call(.post, "/v1/citizens/\(hq.id)/merge", json: #"{"duplicateId": \#(duplicate)}"#, as: .some(a.rig.tokens[.viewer])).status == 403)
            #expect(try await api.call(.post, "/v1/citizens/\(hq.id)/merge", json: #"{"duplicateId": \#(duplicate)}"#, as: .some(a.token)).status == 403)
            #expect(try await api.call(.post, "/v1/citizens/\(hq.id)/merge", json: #"{"duplicateId": \#(duplicate), "keep": "both"}"#, as: .some(op)).status == 400)

            let merged = try await api.call(.post, "/v1/citizens/\(hq.id)/merge", json: #"{"duplicateId": \#(duplicate)}"#, as: .some(op))
            #expect(merged.status == 200, "\(merged.text)")
            // HQ's name and number stay; the gaps are filled from the merged record; the later contact (help) decides.
            #expect(merged.json["fullName"] as? String == "Айгүл Серікова" && merged.json["phone"] as? String == "+77015550001")
            #expect(merged.json["email"] as? String == "aigul@mail.kz" && merged.json["passportNumber"] as? String == "N1234567")
            #expect(merged.json["agencyId"] as? String == "silkway" && merged.json["groupId"] as? String == "G-1")
            #expect(merged.json["checkinStatus"] as? String == "needs_help")
            #expect((merged.json["mergedFrom"] as? [[String: Any]])?.first?["citizenId"] as? Int == Int(duplicate))
            let sources = (merged.json["welfareHistory"] as? [[String: Any]])?.compactMap { $0["source"] as? String }
            #expect(sources == ["sms", "sms", "link"], "\(merged.text)")
            #expect(try await api.call(.get, "/v1/citizens/\(duplicate)", as: .some(op)).status == 404)

            // The merged record's check-in link still opens, and answers for the kept citizen.
            a.clock.advance(120)
            #expect(try await api.call(.get, "/c/\(link)", as: .some(nil)).status == 200)
            let answered = try await api.call(.post, "/c/\(link)", body: Data("status=safe".utf8), contentType: "application/x-www-form-urlencoded", as: .some(nil))
            #expect(answered.status == 200)
            // The agency's tourist is the kept citizen now.
            let groups = try await api.call(.get, "/v1/agencies/silkway/groups", as: .some(a.token))
            let groupId = (groups.json["items"] as? [[String: Any]])?.first?["id"] as? Int ?? 0
            let group = try await api.call(.get, "/v1/groups/\(groupId)", as: .some(a.token))
            #expect((group.json["tourists"] as? [[String: Any]])?.map { $0["citizenId"] as? Int } == [Int(hq.id)])
            // The audit log names the merge.
            let audit = try await api.call(.get, "/v1/audit?limit=500", as: .some(a.rig.tokens[.admin]))
            let entry = (audit.json["items"] as? [[String: Any]])?.last { ($0["action"] as? String)?.contains("/merge") == true && $0["status"] as? Int == 200 }
            #expect(entry?["target"] as? String == "citizen/\(hq.id)", "\(audit.text.suffix(800))")
        }
        let deliveries = try await store.deliveries(DeliveryFilter(advisoryId: advisory.id, citizenId: hq.id), page: PageRequest()).items
        #expect(deliveries.count == 2 && Set(deliveries.map(\.id)).count == 2)
        let checkins = try await store.checkins(CheckinFilter(advisoryId: advisory.id), page: PageRequest()).items
        #expect(checkins.count == 1 && checkins.first?.citizenId == hq.id && checkins.first?.status == .safe, "\(checkins)")
        let cases = try await store.cases(CaseFilter(citizenId: hq.id), page: PageRequest()).items
        let open = try #require(cases.first { $0.status != .resolved })
        #expect(cases.count == 2 && cases.filter { $0.status == .resolved }.count == 1, "\(cases)")
        // The open case has both replies and the note of the merge; needs help comes first in the queue.
        let replies = open.entries.filter { $0.kind == .reply }.map(\.text)
        #expect(open.reason == .needsHelp && Set(replies.prefix(2)) == ["Где автобус?", "Көмек керек"] && replies.count == 3, "\(open)")
        #expect(open.entries.contains { $0.kind == .status && $0.text.contains("merged") })
        #expect(try await store.inboundSMS(page: PageRequest()).items.allSatisfy { $0.citizenId == hq.id })
        #expect(try await store.welfareHistory(citizenId: hq.id, limit: 10).count == 4)
        // A reply from the merged record's number reaches the kept citizen.
        let later = try await store.recordInboundSMS(NewInboundSMS(id: .unsaved, channel: "sms", sender: "+905321112233", receiver: "1444", text: "Аманмын", sentAt: nil, receivedAt: Date(), providerMessageId: "r2"))
        #expect(later.citizenId == hq.id)
        #expect(try await store.countCitizens() == 1)
    }
}
