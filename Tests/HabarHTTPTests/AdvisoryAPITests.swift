import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import HummingbirdTesting
import Testing

/// Runs Debian's `xmllint` (libxml2-utils) on `xml`; nil when it is not installed. Under
/// `CI=true` a missing xmllint is a failure, locally a loud skip.
func xmllint(_ arguments: [String], _ xml: String) async throws -> (status: Int32, output: String)? {
    guard ExternalProcess.exists("/usr/bin/xmllint") else {
        if ExternalProcess.underCI {
            Issue.record("xmllint is missing (apt-get install libxml2-utils; Tests/run-all.sh installs it)")
        } else {
            print("⚠️  SKIPPED: xmllint is not installed; CAP schema validation did not run (Tests/run-all.sh installs libxml2-utils)")
        }
        return nil
    }
    let file = try Fixtures.temporaryDirectory("xml").appendingPathComponent("document.xml")
    try Data(xml.utf8).write(to: file)
    let result = try await ExternalProcess.run("/usr/bin/xmllint", arguments + [file.path], timeout: 60)
    return (result.status, result.stdout + result.stderr)
}

/// Validates a CAP document against the OASIS CAP 1.2 schema shipped as a fixture.
func expectValidCAP(_ xml: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let schema = Fixtures.repositoryRoot.appendingPathComponent("Tests/HabarHTTPTests/Fixtures/CAP-v1.2.xsd").path
    guard let result = try await xmllint(["--noout", "--schema", schema], xml) else { return }
    #expect(result.status == 0, "CAP 1.2 schema: \(result.output)\n\(xml)", sourceLocation: sourceLocation)
}

@Suite("Advisories API")
struct AdvisoryAPITests {
    /// `count` citizens in Iran: Kazakh speakers first, then Russian.
    func citizens(_ rig: APIRig, _ count: Int, kazakh: Int = 1, from first: Int = 1) async throws {
        _ = try await rig.gateway.store.upsertCitizens((first..<(first + count)).map {
            Fixtures.citizen($0, language: $0 - first < kazakh ? .kazakh : .russian)
        })
    }

    @Test("a draft nobody approved can be cancelled: it is cancelled, with the canceller recorded as the one who decided on it")
    func cancelDraft() async throws {
        let rig = try await APIRig()
        try await citizens(rig, 2)
        let op = try await rig.person("Айдар", .operator)
        let approver = try await rig.person("Мария", .approver)
        try await rig.run { api in
            let created = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, as: .some(op))
            let cancelled = try await api.call(.post, "/v1/advisories/\(id(created))/cancel", as: .some(approver))
            #expect(cancelled.status == 200, "\(cancelled.text)")
            let read = try await api.call(.get, "/v1/advisories/\(id(created))", as: .some(op))
            #expect(read.json["state"] as? String == "cancelled" && read.json["approver"] as? String == "Мария")
            #expect(try await rig.gateway.store.deliveryCounts(advisoryId: id(created)).isEmpty)
        }
    }

    @Test("two-person rule: above the threshold the author may not approve (not even with another token of the same name); the audit log names both and the threshold")
    func twoPersonRule() async throws {
        let rig = try await APIRig(threshold: 2)
        try await citizens(rig, 3)
        let aidar = try await rig.person("Айдар Нұрланов", .operator)
        let aidarApprover = try await rig.person("Айдар Нұрланов", .approver)
        let maria = try await rig.person("Мария Ким", .approver)
        try await rig.run { api in
            let created = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, as: .some(aidar))
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json["author"] as? String == "Айдар Нұрланов" && created.json["state"] as? String == "draft" && created.json["status"] as? String == "actual")
            let advisory = id(created)
            let refused = try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(aidarApprover))
            #expect(refused.status == 403)
            #expect(refused.json["type"] as? String == "urn:habar:problem:two-person-rule" && refused.text.contains("3"))
            #expect(try await rig.gateway.store.deliveryCounts(advisoryId: advisory).isEmpty)
            let approved = try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(maria))
            #expect(approved.status == 200, "\(approved.text)")
            #expect(approved.json["outcome"] as? String == "published" && approved.json["queued"] as? Int == 3)
            #expect((approved.json["advisory"] as? [String: Any])?["approver"] as? String == "Мария Ким")
            #expect(try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(maria)).status == 409)

            let audit = try await api.call(.get, "/v1/audit", as: .some(rig.tokens[.admin]))
            let approvals = (audit.json["items"] as? [[String: Any]] ?? []).filter { $0["action"] as? String == "POST /v1/advisories/{id}/approve" }
            #expect(approvals.count == 3)
            let first = approvals[0]["details"] as? [String: String] ?? [:]
            #expect(first["threshold"] == "2" && first["author"] == "Айдар Нұрланов" && first["approver"] == "Айдар Нұрланов" && first["refused"] == "two-person rule")
            #expect((approvals[0]["status"] as? NSNumber)?.intValue == 403)
            let second = approvals[1]["details"] as? [String: String] ?? [:]
            #expect(second["author"] == "Айдар Нұрланов" && second["approver"] == "Мария Ким" && second["recipients"] == "3")
        }
    }

    @Test("at or below the threshold the author may approve their own advisory")
    func belowThreshold() async throws {
        let rig = try await APIRig(threshold: 3)
        try await citizens(rig, 3)
        try await rig.run { api in
            let created = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, as: .some(rig.tokens[.admin]))
            let approved = try await api.call(.post, "/v1/advisories/\(id(created))/approve", as: .some(rig.tokens[.admin]))
            #expect(approved.status == 200 && approved.json["recipients"] as? Int == 3)
        }
    }

    @Test("preview: every language × channel rendering with SMS encoding and segments, the audience by language and channel, fallback named")
    func preview() async throws {
        let rig = try await APIRig { configuration in
            configuration.channels = [ChannelConfiguration(name: "sms", type: "sms-stub"), ChannelConfiguration(name: "sms-backup", type: "sms-stub")]
        }
        try await citizens(rig, 5, kazakh: 2)
        _ = try await rig.gateway.store.upsertCitizens([NewCitizen(id: .unsaved, fullName: "Mail only", language: .english, email: "a@example.kz", country: "IR")])
        try await rig.run { api in
            let body = APIRig.advisoryJSON.replacingOccurrences(of: #""channels": ["sms"]"#, with: #""channels": ["sms", "sms-backup"]"#)
            let created = try await api.call(.post, "/v1/advisories", json: body, as: .some(rig.tokens[.operator]))
            let preview = try await api.call(.get, "/v1/advisories/\(id(created))/preview", as: .some(rig.tokens[.viewer]))
            #expect(preview.status == 200)
            let renderings = preview.json["renderings"] as? [[String: Any]] ?? []
            #expect(renderings.count == 6)
            for rendering in renderings {
                let text = rendering["text"] as? String ?? ""
                let measured = SMSMeasurement(text)
                #expect(rendering["encoding"] as? String == measured.encoding.rawValue && rendering["segments"] as? Int == measured.segments)
                #expect(rendering["renderedLanguage"] as? String == rendering["language"] as? String)
            }
            #expect(renderings.first { $0["language"] as? String == "kk" }?["text"] as? String ?? "" != renderings.first { $0["language"] as? String == "ru" }?["text"] as? String ?? "")
            let audience = preview.json["audience"] as? [String: Any] ?? [:]
            #expect(audience["total"] as? Int == 6 && audience["unreachable"] as? Int == 1)
            #expect(audience["byLanguage"] as? [String: Int] == ["kk": 2, "ru": 3, "en": 1])
            #expect(audience["byChannel"] as? [String: Int] == ["sms": 5], "a fallback plan counts the first channel that reaches each person")
        }
    }

    @Test("a correction goes to exactly those reached or queued, replaces their pending messages, and says what it replaces; CAP is an Update referencing the Alert")
    func correction() async throws {
        let rig = try await APIRig(threshold: 100)
        try await citizens(rig, 3)
        try await rig.run { api in
            let op = rig.tokens[.operator]!
            let created = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, as: .some(op))
            let advisory = id(created)
            #expect(try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(rig.tokens[.approver])).status == 200)
            // One of three is sent; then a fourth citizen arrives in Iran; they were never told, so get no correction.
            try await rig.gateway.store.rawReachFirst(advisory: advisory, count: 1)
            _ = try await rig.gateway.store.upsertCitizens([Fixtures.citizen(50)])
            let correction = #"{"params": {"route": "Тегеран — Джульфа", "borderCrossing": "Джульфа", "opensAt": "2026-03-12T04:30:00Z", "closesAt": "2026-03-12T13:00:00Z", "meetingPoint": "Консульство РК в Тебризе", "contactPhone": "+982100000000", "timeZone": "Asia/Tehran"}}"#
            let updated = try await api.call(.post, "/v1/advisories/\(advisory)/update", json: correction, as: .some(op))
            #expect(updated.status == 200, "\(updated.text)")
            #expect(updated.json["queued"] as? Int == 3 && updated.json["recipients"] as? Int == 3)
            #expect((updated.json["advisory"] as? [String: Any])?["version"] as? Int == 2)
            let deliveries = try await rig.gateway.store.deliveries(DeliveryFilter(advisoryId: advisory), page: PageRequest()).items
            #expect(deliveries.filter { $0.advisoryVersion == 1 }.map(\.state).sorted { $0.rawValue < $1.rawValue } == [.cancelled, .cancelled, .sent])
            #expect(Set(deliveries.filter { $0.advisoryVersion == 2 }.compactMap(\.citizenId)) == Set(deliveries.filter { $0.advisoryVersion == 1 }.compactMap(\.citizenId)))
            try await rig.gateway.dispatcher.dispatchOnce(channel: "sms")
            let sms = try String(contentsOf: URL(fileURLWithPath: rig.gateway.configuration.dataDir).appendingPathComponent("sms-stub.jsonl"), encoding: .utf8)
            #expect(sms.contains("Исправление сообщения от") && sms.contains("Джульфа"))
            #expect(sms.range(of: #"\d\d:\d\d-(дағы|дегі|тағы|тегі) хабарламаға түзету"#, options: .regularExpression) != nil)
            let cap = try await api.call(.get, "/v1/advisories/\(advisory)/cap", as: .some(rig.tokens[.viewer]))
            #expect(cap.status == 200 && cap.contentType.hasPrefix("application/cap+xml"))
            #expect(cap.text.contains("<msgType>Update</msgType>") && cap.text.contains("<references>habar@localhost,habar-"))
            #expect(cap.text.contains("-advisory-\(advisory)-v1,"))
            try await expectValidCAP(cap.text)
        }
    }

    @Test("above the threshold a correction waits for a second person, who publishes it by approving")
    func correctionNeedsSecondPerson() async throws {
        let rig = try await APIRig(threshold: 2)
        try await citizens(rig, 3)
        let aidar = try await rig.person("Айдар", .operator)
        try await rig.run { api in
            let created = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, as: .some(aidar))
            let advisory = id(created)
            #expect(try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(rig.tokens[.approver])).status == 200)
            let waiting = try await api.call(.post, "/v1/advisories/\(advisory)/update", json: #"{"severity": "extreme"}"#, as: .some(aidar))
            #expect(waiting.status == 202 && waiting.json["outcome"] as? String == "awaiting_approval")
            let pending = (waiting.json["advisory"] as? [String: Any])?["pendingCorrection"] as? [String: Any]
            #expect(pending?["author"] as? String == "Айдар" && pending?["severity"] as? String == "extreme")
            let aidarApprover = try await rig.person("айдар", .approver)
            #expect(try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(aidarApprover)).status == 403)
            let approved = try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(rig.tokens[.approver]))
            #expect(approved.json["outcome"] as? String == "correction_published" && approved.json["queued"] as? Int == 3)
            #expect((approved.json["advisory"] as? [String: Any])?["severity"] as? String == "extreme")
        }
    }

    @Test("interrupt holds a published advisory's sending (the dispatcher sends nothing of it) until resume; approvers only; a draft is a 409")
    func interrupt() async throws {
        let rig = try await APIRig()
        try await citizens(rig, 3)
        try await rig.run { api in
            let created = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, as: .some(rig.tokens[.operator]))
            let advisory = id(created)
            #expect(try await api.call(.post, "/v1/advisories/\(advisory)/interrupt", as: .some(rig.tokens[.approver])).status == 409, "a draft is not sending")
            _ = try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(rig.tokens[.approver]))
            #expect(try await api.call(.post, "/v1/advisories/\(advisory)/interrupt", as: .some(rig.tokens[.operator])).status == 403)
            let held = try await api.call(.post, "/v1/advisories/\(advisory)/interrupt", as: .some(rig.tokens[.approver]))
            #expect(held.status == 200 && held.json["outcome"] as? String == "interrupted", "\(held.text)")
            let body = held.json["advisory"] as? [String: Any]
            #expect(body?["interruptedAt"] is String && body?["interruptedBy"] as? String != nil)
            try await rig.gateway.dispatcher.dispatchOnce(channel: "sms")
            let stub = URL(fileURLWithPath: rig.gateway.configuration.dataDir).appendingPathComponent("sms-stub.jsonl")
            #expect(((try? String(contentsOf: stub, encoding: .utf8)) ?? "").isEmpty, "nothing sent while held")
            let resumed = try await api.call(.post, "/v1/advisories/\(advisory)/resume", as: .some(rig.tokens[.approver]))
            #expect(resumed.status == 200 && resumed.json["outcome"] as? String == "resumed")
            #expect((resumed.json["advisory"] as? [String: Any])?["interruptedAt"] == nil)
            try await rig.gateway.dispatcher.dispatchOnce(channel: "sms")
            #expect(try String(contentsOf: stub, encoding: .utf8).split(separator: "\n").count == 3)
        }
    }

    @Test("cancel stops what is not sent and, asked to, tells those already reached; CAP is a Cancel")
    func cancel() async throws {
        let rig = try await APIRig()
        try await citizens(rig, 4)
        try await rig.run { api in
            let created = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, as: .some(rig.tokens[.operator]))
            let advisory = id(created)
            _ = try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(rig.tokens[.approver]))
            try await rig.gateway.store.rawReachFirst(advisory: advisory, count: 1)
            let cancelled = try await api.call(.post, "/v1/advisories/\(advisory)/cancel", json: #"{"notice": true}"#, as: .some(rig.tokens[.approver]))
            #expect(cancelled.status == 200, "\(cancelled.text)")
            #expect(cancelled.json["cancelled"] as? Int == 3 && cancelled.json["queued"] as? Int == 1)
            #expect((cancelled.json["advisory"] as? [String: Any])?["state"] as? String == "cancelled")
            try await rig.gateway.dispatcher.dispatchOnce(channel: "sms")
            let sms = try String(contentsOf: URL(fileURLWithPath: rig.gateway.configuration.dataDir).appendingPathComponent("sms-stub.jsonl"), encoding: .utf8)
            #expect(sms.contains("ЖОЙЫЛДЫ") && sms.contains("«Тегеран — Астара жасыл дәлізі ашылды»"))
            #expect(sms.split(separator: "\n").count == 1)
            #expect(try await api.call(.post, "/v1/advisories/\(advisory)/cancel", as: .some(rig.tokens[.approver])).status == 409)
            #expect(try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(rig.tokens[.approver])).status == 409)
            let cap = try await api.call(.get, "/v1/advisories/\(advisory)/cap", as: .some(rig.tokens[.viewer]))
            #expect(cap.text.contains("<msgType>Cancel</msgType>"))
            try await expectValidCAP(cap.text)
        }
    }

    @Test("stats: counts by state × channel × language, check-in tallies, time to first send and to 95% sent")
    func stats() async throws {
        let rig = try await APIRig()
        try await citizens(rig, 4, kazakh: 2)
        try await rig.run { api in
            let created = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, as: .some(rig.tokens[.operator]))
            let advisory = id(created)
            _ = try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(rig.tokens[.approver]))
            let before = try await api.call(.get, "/v1/advisories/\(advisory)/stats", as: .some(rig.tokens[.viewer]))
            #expect(before.json["timeToFirstSendSeconds"] == nil && before.json["deliveries"] as? Int == 4)
            try await rig.gateway.dispatcher.dispatchOnce(channel: "sms")
            let after = try await api.call(.get, "/v1/advisories/\(advisory)/stats", as: .some(rig.tokens[.viewer]))
            let counts = after.json["counts"] as? [[String: Any]] ?? []
            #expect(counts.map { "\($0["state"]!)/\($0["channel"]!)/\($0["language"]!)=\($0["count"]!)" } == ["sent/sms/kk=2", "sent/sms/ru=2"])
            #expect(after.json["checkins"] as? [String: Int] == ["unknown": 4, "safe": 0, "needs_help": 0, "unreached": 0])
            #expect((after.json["timeToFirstSendSeconds"] as? Double ?? -1) >= 0)
            #expect((after.json["timeTo95PercentSentSeconds"] as? Double ?? -1) >= (after.json["timeToFirstSendSeconds"] as? Double ?? 0))
        }
    }

    @Test("publishAt: approval schedules it; it goes out when its time comes, not before")
    func scheduled() async throws {
        let rig = try await APIRig()
        try await citizens(rig, 2)
        try await rig.run { api in
            let at = Date().addingTimeInterval(3600)
            let body = APIRig.advisoryJSON.replacingOccurrences(of: #""scope": "public""#, with: #""scope": "public", "publishAt": "\#(at.formatted(.iso8601))""#)
            let created = try await api.call(.post, "/v1/advisories", json: body, as: .some(rig.tokens[.operator]))
            let advisory = id(created)
            let approved = try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(rig.tokens[.approver]))
            #expect(approved.json["outcome"] as? String == "scheduled")
            #expect((approved.json["advisory"] as? [String: Any])?["state"] as? String == "scheduled")
            #expect(try await rig.gateway.publisher.publishDue(now: Date()).published == 0)
            #expect(try await rig.gateway.store.deliveryCounts(advisoryId: advisory).isEmpty)
            #expect(try await rig.gateway.publisher.publishDue(now: at.addingTimeInterval(1)).published == 1)
            let read = try await api.call(.get, "/v1/advisories/\(advisory)", as: .some(rig.tokens[.viewer]))
            #expect(read.json["state"] as? String == "published" && read.json["approver"] as? String == "approver")
            #expect(try await rig.gateway.store.deliveryCounts(advisoryId: advisory).reduce(0) { $0 + $1.count } == 2)

            // One whose expiry passes while it waits (the gateway was down) is never sent.
            let late = body.replacingOccurrences(of: "2099-01-01T00:00:00Z", with: at.addingTimeInterval(600).formatted(.iso8601))
            let stale = id(try await api.call(.post, "/v1/advisories", json: late, as: .some(rig.tokens[.operator])))
            _ = try await api.call(.post, "/v1/advisories/\(stale)/approve", as: .some(rig.tokens[.approver]))
            let due = try await rig.gateway.publisher.publishDue(now: at.addingTimeInterval(3600))
            #expect(due.published == 0 && due.failures.map(\.id) == [stale])
            #expect(try await rig.gateway.store.advisory(id: stale)?.status == .cancelled)
            #expect(try await rig.gateway.store.deliveryCounts(advisoryId: stale).isEmpty)
        }
    }

    @Test("CAP 1.2 validates against the OASIS schema with a circle and a polygon; the Atom feed lists public advisories only")
    func capAndFeed() async throws {
        let rig = try await APIRig()
        _ = try await rig.gateway.store.upsertCitizens([
            NewCitizen(id: .unsaved, fullName: "Near", phone: PhoneNumber("+77010000001"), country: "IR", position: GeoPoint(lat: 38.08, lon: 46.29)),
            NewCitizen(id: .unsaved, fullName: "Far", phone: PhoneNumber("+77010000002"), country: "IR", position: GeoPoint(lat: 29.6, lon: 52.5)),
        ])
        try await rig.run { api in
            let circle = APIRig.advisoryJSON.replacingOccurrences(of: #""countries": ["IR"]"#, with: #""countries": ["IR"], "circle": {"center": {"lat": 38.07, "lon": 46.3}, "radiusKm": 50}"#)
            let polygon = APIRig.advisoryJSON
                .replacingOccurrences(of: #""countries": ["IR"]"#, with: #""polygon": [{"lat": 37, "lon": 45}, {"lat": 39, "lon": 45}, {"lat": 39, "lon": 48}, {"lat": 37, "lon": 48}]"#)
                .replacingOccurrences(of: #""scope": "public""#, with: #""scope": "restricted""#)
            var ids: [Int64] = []
            for body in [circle, polygon] {
                let created = try await api.call(.post, "/v1/advisories", json: body, as: .some(rig.tokens[.operator]))
                #expect(created.status == 201, "\(created.text)")
                let approved = try await api.call(.post, "/v1/advisories/\(id(created))/approve", as: .some(rig.tokens[.approver]))
                #expect(approved.json["recipients"] as? Int == 1, "only the citizen near Tabriz is inside")
                ids.append(id(created))
            }
            for advisory in ids {
                let cap = try await api.call(.get, "/v1/advisories/\(advisory)/cap", as: .some(rig.tokens[.viewer]))
                try await expectValidCAP(cap.text)
                #expect(cap.text.components(separatedBy: "<info>").count == 4, "one info per language")
                #expect(cap.text.contains("<language>kk</language>") && cap.text.contains("<event>Жасыл дәліз</event>"))
            }
            let caps = try await [api.call(.get, "/v1/advisories/\(ids[0])/cap", as: .some(rig.tokens[.viewer])).text, api.call(.get, "/v1/advisories/\(ids[1])/cap", as: .some(rig.tokens[.viewer])).text]
            #expect(caps[0].contains("<circle>38.07000,46.30000 50.00000</circle>") && caps[0].contains("<scope>Public</scope>"))
            #expect(caps[1].contains("<polygon>37.00000,45.00000 39.00000,45.00000 39.00000,48.00000 37.00000,48.00000 37.00000,45.00000</polygon>"))
            #expect(caps[1].contains("<scope>Restricted</scope><") == false && caps[1].contains("<restriction>"))
            let feed = try await api.call(.get, "/v1/feed/cap", as: .some(nil))
            #expect(feed.status == 200 && feed.contentType.hasPrefix("application/atom+xml"))
            #expect(feed.text.components(separatedBy: "<entry>").count == 2, "only the public advisory")
            #expect(feed.text.contains("-advisory-\(ids[0])-v1") && !feed.text.contains("-advisory-\(ids[1])-v1"))
            if let parsed = try await xmllint(["--noout"], feed.text) { #expect(parsed.status == 0, "\(parsed.output)") }
            // A draft has no CAP yet.
            let draft = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, as: .some(rig.tokens[.operator]))
            #expect(try await api.call(.get, "/v1/advisories/\(id(draft))/cap", as: .some(rig.tokens[.viewer])).status == 409)
        }
        let closed = try await APIRig { $0.cap.feedRequiresToken = true }
        try await closed.run { api in
            let anonymous = try await api.call(.get, "/v1/feed/cap", as: .some(nil))
            let viewer = try await api.call(.get, "/v1/feed/cap", as: .some(closed.tokens[.viewer]))
            #expect(anonymous.status == 401 && viewer.status == 200)
        }
    }

    @Test("an SMS over the channel's segment budget is flagged in the preview and refused at approval")
    func segmentBudget() async throws {
        let rig = try await APIRig { $0.channels = [ChannelConfiguration(name: "sms", type: "sms-stub", segmentBudget: 2)] }
        try await citizens(rig, 2)
        try await rig.run { api in
            let created = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, as: .some(rig.tokens[.operator]))
            let advisory = id(created)
            let preview = try await api.call(.get, "/v1/advisories/\(advisory)/preview", as: .some(rig.tokens[.viewer]))
            let renderings = preview.json["renderings"] as? [[String: Any]] ?? []
            #expect(renderings.allSatisfy { $0["segmentBudget"] as? Int == 2 })
            #expect(renderings.contains { $0["overBudget"] as? Bool == true }, "\(preview.text)")
            let refused = try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(rig.tokens[.approver]))
            #expect(refused.status == 422 && refused.errorPointers.first == "/template", "\(refused.text)")
            #expect(refused.text.contains("budget is 2"))
            #expect(try await rig.gateway.store.deliveryCounts(advisoryId: advisory).isEmpty)
        }
    }

    @Test("bad advisory drafts name every problem by pointer and store nothing")
    func badDrafts() async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let bad = APIRig.advisoryJSON
                .replacingOccurrences(of: #""channels": ["sms"]"#, with: #""channels": ["sms", "pigeon"]"#)
                .replacingOccurrences(of: #""countries": ["IR"]"#, with: #""countries": ["ZZ"]"#)
                .replacingOccurrences(of: #""timeZone": "Asia/Tehran""#, with: #""timeZone": "Mars/Olympus""#)
                .replacingOccurrences(of: #""meetingPoint": "Посольство РК", "#, with: "")
            let answer = try await api.call(.post, "/v1/advisories", json: bad, as: .some(rig.tokens[.operator]))
            #expect(answer.status == 422)
            #expect(Set(answer.errorPointers) == ["/audience/countries/0", "/channelPlan/channels/1", "/params/timeZone", "/params/meetingPoint"], "\(answer.text)")
            let noAudience = APIRig.advisoryJSON.replacingOccurrences(of: #""countries": ["IR"]"#, with: "")
            #expect(try await api.call(.post, "/v1/advisories", json: noAudience, as: .some(rig.tokens[.operator])).errorPointers == ["/audience"])
        }
        #expect(try await rig.gateway.store.advisories(AdvisoryFilter(), page: PageRequest()).items.isEmpty)
    }
}

extension HabarStore {
    /// Marks the first `count` deliveries of an advisory sent, as if a dispatcher had.
    func rawReachFirst(advisory: Int64, count: Int) async throws {
        let deliveries = try await self.deliveries(DeliveryFilter(advisoryId: advisory), page: PageRequest(limit: count)).items
        let claimed = try await claimDeliveries(
            channel: "sms", kind: .sms, address: .phone, limit: count, owner: "test", leaseUntil: Date().addingTimeInterval(60), now: Date())
        #expect(claimed.map(\.deliveryId) == deliveries.map(\.id))
        try await recordOutcomes(
            claimed.map { DeliveryOutcome(deliveryId: $0.deliveryId, step: 0, channel: "sms", result: .sent(providerMessageId: "p")) },
            owner: "test", now: Date())
    }
}
