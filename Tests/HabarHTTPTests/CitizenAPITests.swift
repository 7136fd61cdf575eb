import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Citizens API and CSV import")
struct CitizenAPITests {
    @Test("create normalises the phone; read; merge-patch clears with null; duplicate phone is 409; delete erases the person but keeps counts")
    func lifecycle() async throws {
        let rig = try await APIRig()
        let store = rig.gateway.store
        try await rig.run { api in
            let op = API(client: api.client, token: rig.tokens[.operator])
            let created = try await op.call(.post, "/v1/citizens", json: #"{"fullName": "Серік Әлиев", "language": "kk", "phone": "8 (701) 123-45-67", "country": "IR", "city": "Tehran", "tags": ["pilgrim"], "lat": 35.7, "lon": 51.4}"#)
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json["phone"] as? String == "+77011234567")
            #expect(created.headers[.location] == "/v1/citizens/\(id(created))")
            #expect(try await op.call(.post, "/v1/citizens", json: #"{"fullName": "Someone", "phone": "+7 701 123 45 67", "country": "AE"}"#).status == 409)
            let patched = try await op.call(.patch, "/v1/citizens/\(id(created))", json: #"{"city": null, "email": "serik@example.kz", "phone": "+90 532 123 45 67"}"#)
            #expect(patched.status == 200, "\(patched.text)")
            #expect(patched.json["city"] == nil && patched.json["email"] as? String == "serik@example.kz")
            #expect(patched.json["phone"] as? String == "+905321234567")
            #expect(patched.json["fullName"] as? String == "Серік Әлиев")
            let refused = try await op.call(.patch, "/v1/citizens/\(id(created))", json: #"{"phone": null, "email": null}"#)
            #expect(refused.status == 422 && refused.errorPointers == ["/phone"])
            #expect(try await op.call(.patch, "/v1/citizens/\(id(created))", json: #"{"shoeSize": 42}"#).status == 400)
            let read = try await op.call(.get, "/v1/citizens/\(id(created))")
            #expect(read.json["checkinStatus"] as? String == "unknown" && read.json["email"] as? String == "serik@example.kz")

            // A delivery to them, then erasure: the person and their address go, the count stays.
            let draft = try await rig.gateway.publisher.draft(Fixtures.advisory(), now: Date())
            _ = try await rig.gateway.publisher.publish(id: draft.id, approver: "a", now: Date())
            #expect(try await op.call(.delete, "/v1/citizens/\(id(created))").status == 204)
            #expect(try await op.call(.get, "/v1/citizens/\(id(created))").status == 404)
            #expect(try await op.call(.delete, "/v1/citizens/\(id(created))").status == 404)
            let counts = try await store.deliveryCounts(advisoryId: draft.id)
            #expect(counts.map(\.state) == [.cancelled] && counts.map(\.count) == [1])
            let delivery = try #require(try await store.deliveries(DeliveryFilter(advisoryId: draft.id), page: PageRequest()).items.first)
            #expect(delivery.citizenId == nil)
        }
        #expect(try await store.countCitizens() == 0)
    }

    @Test("list filters: country, city, tag, groupId, agencyId, checkinStatus")
    func filters() async throws {
        let rig = try await APIRig()
        var a = Fixtures.citizen(1, country: "IR"); a.city = "Tehran"; a.tags = ["pilgrim"]; a.groupId = "g-1"; a.agencyId = "agency-1"
        var b = Fixtures.citizen(2, country: "IR"); b.city = "Tabriz"
        var c = Fixtures.citizen(3, country: "AE"); c.tags = ["pilgrim", "student"]; c.welfareStatus = .safe
        _ = try await rig.gateway.store.upsertCitizens([a, b, c])
        try await rig.run { api in
            let viewer = API(client: api.client, token: rig.tokens[.viewer])
            let r1 = try await names(viewer, "country=IR")
            #expect(r1 == ["Citizen 1", "Citizen 2"])
            let r2 = try await names(viewer, "country=IR&city=Tabriz")
            #expect(r2 == ["Citizen 2"])
            let r3 = try await names(viewer, "tag=pilgrim")
            #expect(r3 == ["Citizen 1", "Citizen 3"])
            let r4 = try await names(viewer, "tag=pilgri")
            #expect(r4 == [])
            let r5 = try await names(viewer, "groupId=g-1")
            #expect(r5 == ["Citizen 1"])
            let r6 = try await names(viewer, "agencyId=agency-1")
            #expect(r6 == ["Citizen 1"])
            let r7 = try await names(viewer, "checkinStatus=safe")
            #expect(r7 == ["Citizen 3"])
        }
    }

    func names(_ viewer: API, _ query: String) async throws -> [String] {
        let answer = try await viewer.call(.get, "/v1/citizens?\(query)")
        return (answer.json["items"] as? [[String: Any]] ?? []).compactMap { $0["fullName"] as? String }
    }

    static let header = "fullName;phone;email;country;city;language;tags;passportNumber;birthDate;lat;lon\r\n"

    func importCSV(_ api: API, _ text: String, query: String = "", bom: Bool = false) async throws -> Answer {
        var data = bom ? Data([0xEF, 0xBB, 0xBF]) : Data()
        data += Data(text.utf8)
        return try await api.call(.post, "/v1/citizens/import\(query)", body: data, contentType: "text/csv; charset=utf-8")
    }

    func rejects(_ answer: Answer) -> [String] {
        (answer.json["rejected"] as? [[String: Any]] ?? answer.json["errors"] as? [[String: Any]] ?? []).map {
            "\(($0["line"] as? NSNumber)?.intValue ?? 0):\($0["field"] as? String ?? "-")"
        }
    }

    @Test("import: BOM, ; separators, CRLF, quoting; bad lines reported by line and field, good ones kept; a re-import updates")
    func importReport() async throws {
        let rig = try await APIRig()
        let csv = Self.header + """
            "Әлиева, Айгүл";8 701 000 00 01;;IR;Tehran;kk;pilgrim|student;N123;1990-05-01;35.7;51.4\r
            Иванов Иван;+7 (701) 000-00-02;ivan@example.kz;IR;;ru;;;;;\r
            Bad Phone;12345;;IR;;ru;;;;;\r
            Bad Country;+77010000004;;Iran;;ru;;;;;\r
            Too;Few;Fields\r
            Broken "quote";+77010000006;;IR;;ru;;;;;\r
            Dup;8 701 000 00 01;;AE;;ru;;;;;\r
            Foreign;+90 532 000 00 08;;TR;;en;;;1990-02-30;;\r
            Passport Only;;mail@example.kz;IR;;ru;;N999;;;\r

            """
        try await rig.run { api in
            let op = API(client: api.client, token: rig.tokens[.operator])
            let answer = try await importCSV(op, csv, bom: true)
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.json["created"] as? Int == 3 && answer.json["updated"] as? Int == 0, "\(answer.text)")
            #expect(rejects(answer) == ["4:phone", "5:country", "6:-", "7:-", "8:phone", "9:birthDate"], "\(answer.text)")
            let citizens = try await rig.gateway.store.citizens(CitizenFilter(), page: PageRequest()).items
            #expect(citizens.map(\.fullName) == ["Әлиева, Айгүл", "Иванов Иван", "Passport Only"])
            #expect(citizens[0].phone?.e164 == "+77010000001" && citizens[0].tags == ["pilgrim", "student"] && citizens[0].language == .kazakh)
            #expect(citizens[1].phone?.e164 == "+77010000002")

            // The same file again: the same people, updated, nobody twice. A changed row updates the person.
            let again = try await importCSV(op, csv.replacingOccurrences(of: "Иванов Иван;", with: "Иванов Иван Петрович;"))
            #expect(again.json["created"] as? Int == 0 && again.json["updated"] as? Int == 3, "\(again.text)")
            #expect(try await rig.gateway.store.countCitizens() == 3)
            #expect(try await rig.gateway.store.citizen(id: citizens[1].id)?.fullName == "Иванов Иван Петрович")
            // Matched on passport number when there is no phone.
            let byPassport = try await importCSV(op, "fullName,email,country,passportNumber\nPassport Only,new@example.kz,AE,N999\n")
            #expect(byPassport.json["updated"] as? Int == 1)
            #expect(try await rig.gateway.store.citizen(id: citizens[2].id)?.country == "AE")
        }
    }

    @Test("import all-or-nothing: one bad line refuses the file with 422 and imports nothing")
    func allOrNothing() async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let op = API(client: api.client, token: rig.tokens[.operator])
            let answer = try await importCSV(op, "fullName,phone,country\nGood,+77010000001,IR\nBad,+77010000002,XX\n", query: "?mode=all-or-nothing")
            #expect(answer.status == 422)
            #expect(rejects(answer) == ["3:country"])
            #expect(try await importCSV(op, "fullName,phone,country\nGood,+77010000001,IR\n", query: "?mode=sometimes").status == 400)
        }
        #expect(try await rig.gateway.store.countCitizens() == 0)
    }

    @Test("import refuses the whole file for unknown columns, a missing header, an unclosed quote in the header, or JSON")
    func refusedFiles() async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let op = API(client: api.client, token: rig.tokens[.operator])
            let unknown = try await importCSV(op, "fullName,phone,country,shoeSize,eyeColour\nA,+77010000001,IR,42,brown\n")
            #expect(unknown.status == 422 && unknown.text.contains("shoeSize") && unknown.text.contains("eyeColour"))
            #expect(try await importCSV(op, "").status == 422)
            #expect(try await importCSV(op, "fullName,phone\nA,+77010000001\n").status == 422)
            let unclosed = try await importCSV(op, "fullName,phone,country\nA,\"+77010000001,IR\nB,+77010000002,IR\n")
            #expect(unclosed.status == 200 && rejects(unclosed) == ["2:-"], "\(unclosed.text)")
            let json = try await op.call(.post, "/v1/citizens/import", json: #"{"fullName": "A"}"#)
            #expect(json.status == 415)
            var latin1 = Data("fullName,phone,country\n".utf8)
            latin1 += [0x4D, 0xFC, 0x6C, 0x6C, 0x65, 0x72] + Data(",+77010000001,DE\n".utf8)
            #expect(try await op.call(.post, "/v1/citizens/import", body: latin1, contentType: "text/csv").status == 422)
        }
        #expect(try await rig.gateway.store.countCitizens() == 0)
    }

    @Test("an import over its own limit is 413; other bodies keep the smaller limit")
    func importLimit() async throws {
        let rig = try await APIRig { $0.http.maxImportBytes = 8192; $0.http.maxBodyBytes = 2048 }
        try await rig.run { api in
            let op = API(client: api.client, token: rig.tokens[.operator])
            let rows = (1...300).map { "Citizen \($0),+7701\(String(format: "%07d", $0)),IR" }
            // 100 rows are over the 2 KiB body limit but within the 8 KiB import limit.
            let small = try await importCSV(op, "fullName,phone,country\n" + rows.prefix(100).joined(separator: "\n"))
            #expect(small.status == 200)
            #expect(try await importCSV(op, "fullName,phone,country\n" + rows.joined(separator: "\n")).status == 413)
        }
        #expect(try await rig.gateway.store.countCitizens() == 100)
    }
}
