import Foundation
import HabarCore
import HabarMessages
import Hummingbird

/// `/v1/citizens`: create, read, list, partial update, erase, and CSV import.
struct CitizensController {
    let gateway: Gateway

    func addRoutes(to group: RouterGroup<HabarRequestContext>) {
        group.post { request, context in try await create(request, context) }
        group.get { request, context in try await list(request, context) }
        group.post("import") { request, context in try await importCSV(request, context) }
        group.get("merge-suggestions") { request, context in try await mergeSuggestions(request, context) }
        group.post("merge-suggestions/dismiss") { request, context in try await dismissSuggestion(request, context) }
        group.post("{id}/merge") { request, context in try await merge(request, context) }
        group.get("{id}") { _, context in try await show(context) }
        group.patch("{id}") { request, context in try await update(request, context) }
        group.delete("{id}") { _, context in try await erase(context) }
    }

    /// A citizen as the API writes and reads it; the field names are the CSV columns'.
    struct Input: Codable {
        var fullName: String
        var language: Language?
        var phone: String?
        var email: String?
        var country: String
        var city: String?
        var groupId: String?
        var agencyId: String?
        var tags: [String]?
        var passportNumber: String?
        var birthDate: String?
        var lat: Double?
        var lon: Double?

        init(_ citizen: Citizen) {
            fullName = citizen.fullName
            language = citizen.language
            phone = citizen.phone?.e164
            email = citizen.email
            country = citizen.country
            city = citizen.city
            groupId = citizen.groupId
            agencyId = citizen.agencyId
            tags = citizen.tags
            passportNumber = citizen.passportNumber
            birthDate = citizen.birthDate
            lat = citizen.position?.lat
            lon = citizen.position?.lon
        }

        /// The citizen it describes, checked completely.
        func citizen<ID>(id: ID, createdAt: Date, now: Date) throws -> CitizenRecord<ID> {
            var v = Validator()
            var phoneNumber: PhoneNumber? = nil
            if let phone {
                phoneNumber = PhoneNumber(phone)
                v.check(phoneNumber != nil, "/phone", "'\(phone)' is not a phone number (E.164, e.g. +77011234567, or 8 701 123 45 67)")
            }
            var position: GeoPoint? = nil
            switch (lat, lon) {
            case (nil, nil): break
            case (let lat?, let lon?): position = GeoPoint(lat: lat, lon: lon)
            case (nil, _): v.add("/lat", "lat and lon go together")
            case (_, nil): v.add("/lon", "lat and lon go together")
            }
            let citizen = CitizenRecord(
                id: id, fullName: fullName.trimmingCharacters(in: .whitespaces), language: language ?? .russian, phone: phoneNumber,
                email: email, country: country, city: city, position: position, groupId: groupId, agencyId: agencyId,
                tags: tags ?? [], passportNumber: passportNumber, birthDate: birthDate, createdAt: createdAt, updatedAt: now)
            do { try citizen.validate() } catch {
                for e in error.errors where !(e.pointer == "/phone" && phone != nil && phoneNumber == nil) {
                    v.add(e.pointer ?? "", e.detail)
                }
            }
            try v.throwIfAny()
            return citizen
        }
    }

    /// A citizen as the API shows it: the fields it is written with, plus what Habar keeps.
    struct Body: Encodable {
        enum Extra: String, CodingKey { case id, checkinStatus, lastContactAt, lastContactSource, welfareHistory, mergedFrom, createdAt, updatedAt }
        var citizen: Citizen
        /// Only in the read of one citizen: the newest entries of their welfare history.
        var history: [WelfareEvent]?
        /// Only in the read of one citizen: the records merged into it.
        var merges: [CitizenMerge]?

        init(_ profile: CitizenRecords.Profile) {
            self.init(profile.citizen, history: profile.history, merges: profile.merges)
        }

        init(_ citizen: Citizen, history: [WelfareEvent]? = nil, merges: [CitizenMerge]? = nil) {
            self.citizen = citizen
            self.history = history
            self.merges = merges
        }

        struct MergeBody: Encodable {
            var citizenId: Int64
            var mergedBy: String
            var at: Date
        }

        func encode(to encoder: any Encoder) throws {
            try Input(citizen).encode(to: encoder)
            var container = encoder.container(keyedBy: Extra.self)
            try container.encode(citizen.id, forKey: .id)
            try container.encode(citizen.welfareStatus, forKey: .checkinStatus)
            try container.encodeIfPresent(citizen.lastContactAt, forKey: .lastContactAt)
            try container.encodeIfPresent(citizen.lastContactSource, forKey: .lastContactSource)
            try container.encodeIfPresent(history, forKey: .welfareHistory)
            try container.encodeIfPresent(merges?.map { MergeBody(citizenId: $0.mergedId, mergedBy: $0.actor, at: $0.at) }, forKey: .mergedFrom)
            try container.encode(citizen.createdAt, forKey: .createdAt)
            try container.encode(citizen.updatedAt, forKey: .updatedAt)
        }
    }

    var limit: Int { gateway.configuration.http.maxBodyBytes }

    func create(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.operator)
        let input = try await RequestJSON.decode(Input.self, from: request, limit: limit)
        let now = gateway.now()
        let citizen = try input.citizen(id: Unsaved.unsaved, createdAt: now, now: now)
        let stored = try await gateway.citizenRecords.create(citizen)
        context.audit.target("citizen/\(stored.id)")
        var response = try JSONBody.response(Body(stored), status: .created)
        response.headers[.location] = "/v1/citizens/\(stored.id)"
        return response
    }

    func list(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let identity = try context.require(.viewer, .agency)
        let filter = CitizenFilter(
            country: try Listing.string(request, "country"), city: try Listing.string(request, "city"),
            groupId: try Listing.string(request, "groupId"), agencyId: try Listing.string(request, "agencyId"),
            tag: try Listing.string(request, "tag"), checkinStatus: try Listing.value(request, "checkinStatus", as: WelfareStatus.self))
        let page = try await gateway.citizens.citizens(filter, page: try Listing.page(request), as: .init(identity))
        return try Listing.response(page) { Body($0) }
    }

    /// The citizen, if this caller may see it (`CitizenVisibility`).
    func visible(_ context: HabarRequestContext, _ identity: AccessToken) async throws -> Citizen {
        let id = try context.id("citizen")
        do { return try await gateway.citizens.citizen(id: id, as: .init(identity)) } catch OperationError.notFound {
            throw Problem(.notFound, detail: "no citizen \(id)")
        }
    }

    func show(_ context: HabarRequestContext) async throws -> Response {
        let identity = try context.require(.viewer, .agency)
        let citizen = try await visible(context, identity)
        return try JSONBody.response(try await fullBody(citizen))
    }

    /// A citizen with their recent welfare history and the records merged into them.
    func fullBody(_ citizen: Citizen) async throws -> Body {
        Body(try await gateway.citizenRecords.profile(citizen))
    }

    // MARK: Duplicates

    /// A pair that may be one person, with both records.
    struct SuggestionBody: Encodable {
        var citizenIds: [Int64]
        var reasons: [MergeSuggestion.Reason]
        var citizens: [Body]
    }

    /// `GET /v1/citizens/merge-suggestions`: the weaker matches identity resolution does not
    /// link by itself (the same name across scripts with the same birth date or destination),
    /// in pair order, paged.
    func mergeSuggestions(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        let page = try Listing.page(request)
        let found = try await gateway.citizenRecords.suggestions(after: page.after, limit: page.limit)
        let items = found.items.map { suggestion, a, b in
            SuggestionBody(citizenIds: [suggestion.citizenIds.0, suggestion.citizenIds.1], reasons: suggestion.reasons, citizens: [Body(a), Body(b)])
        }
        return try JSONBody.response(Listing.Body(items: items, nextCursor: found.next.map(Listing.encodeCursor)))
    }

    struct DismissInput: Codable {
        var citizenIds: [Int64]
    }

    /// `POST /v1/citizens/merge-suggestions/dismiss` `{"citizenIds": [a, b]}`: they are two people.
    func dismissSuggestion(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let identity = try context.require(.operator)
        let input = try await RequestJSON.decode(DismissInput.self, from: request, limit: limit)
        guard input.citizenIds.count == 2, input.citizenIds[0] != input.citizenIds[1] else {
            throw Problem.validation(ValidationFailure(pointer: "/citizenIds", "two different citizen ids"))
        }
        context.audit.target("citizen/\(input.citizenIds[0])")
        context.audit.detail("dismissedWith", String(input.citizenIds[1]))
        do {
            try await gateway.citizenRecords.dismissSuggestion(input.citizenIds[0], input.citizenIds[1], by: identity.name, at: gateway.now())
        } catch OperationError.notFound {
            throw Problem(.notFound, detail: "citizens \(input.citizenIds[0]) and \(input.citizenIds[1]) do not both exist")
        }
        return Response(status: .noContent)
    }

    struct MergeInput: Codable {
        /// The record merged into this one, then removed.
        var duplicateId: Int64
    }

    /// `POST /v1/citizens/{id}/merge` `{"duplicateId": n}`: citizen n's histories move to this
    /// citizen, its record is kept in the merge log and removed.
    func merge(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let identity = try context.require(.operator)
        let id = try context.id("citizen")
        let input = try await RequestJSON.decode(MergeInput.self, from: request, limit: limit)
        context.audit.target("citizen/\(id)")
        context.audit.detail("duplicateId", String(input.duplicateId))
        guard input.duplicateId != id else {
            throw Problem.validation(ValidationFailure(pointer: "/duplicateId", "a citizen cannot be merged into itself"))
        }
        let merged = try await gateway.citizenRecords.merge(keep: id, duplicate: input.duplicateId, by: identity.name, at: gateway.now())
        return try JSONBody.response(Body(merged))
    }

    /// JSON Merge Patch (RFC 7396): the fields sent replace the stored ones, `null` clears one.
    func update(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let identity = try context.require(.operator)
        var patch = try RequestJSON.object(try await RequestJSON.body(request, limit: limit))
        let existing = try await visible(context, identity)
        context.audit.target("citizen/\(existing.id)")
        // An operator who spoke to the citizen records their welfare: `checkinStatus` (safe or
        // needs_help) with an optional `checkinNote`; it answers their open check-in request.
        let welfare = try operatorWelfare(&patch)
        let input = try RequestJSON.merging(patch, into: Input(existing))
        let citizen = try input.citizen(id: existing.id, createdAt: existing.createdAt, now: gateway.now())
        context.audit.detail("fields", (patch.keys.sorted() + (welfare == nil ? [] : ["checkinStatus"])).joined(separator: ","))
        let stored = try await gateway.citizenRecords.update(citizen, existing: existing, welfare: welfare, by: identity.name, at: gateway.now())
        return try JSONBody.response(Body(stored))
    }

    /// Takes `checkinStatus` and `checkinNote` out of a patch (they are not citizen fields).
    func operatorWelfare(_ patch: inout [String: Any]) throws -> CitizenRecords.OperatorWelfare? {
        let status = patch.removeValue(forKey: "checkinStatus")
        let note = patch.removeValue(forKey: "checkinNote")
        guard let status else {
            if note != nil { throw Problem.validation(ValidationFailure([FieldError(pointer: "/checkinNote", detail: "goes with checkinStatus")])) }
            return nil
        }
        let meaning: ReplyMeaning
        switch status as? String {
        case "safe": meaning = .safe
        case "needs_help": meaning = .needsHelp
        default: throw Problem.validation(ValidationFailure([FieldError(pointer: "/checkinStatus", detail: "an operator records safe or needs_help")]))
        }
        guard note == nil || note is String, ((note as? String)?.count ?? 0) <= 1000 else {
            throw Problem.validation(ValidationFailure([FieldError(pointer: "/checkinNote", detail: "a text of at most 1000 characters")]))
        }
        return CitizenRecords.OperatorWelfare(meaning: meaning, note: note as? String)
    }

    func erase(_ context: HabarRequestContext) async throws -> Response {
        try context.require(.operator)
        let id = try context.id("citizen")
        context.audit.target("citizen/\(id)")
        do { try await gateway.citizenRecords.erase(id: id, at: gateway.now()) } catch OperationError.notFound {
            throw Problem(.notFound, detail: "no citizen \(id)")
        }
        return Response(status: .noContent)
    }

    /// The import report, as the contract has it.
    struct ImportBody: Encodable {
        struct Reject: Encodable {
            var line: Int
            var field: String?
            var detail: String
        }
        var created: Int
        var updated: Int
        var rejected: [Reject]
    }

    func importCSV(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.operator)
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("text/csv") else {
            throw Problem(.unsupportedMediaType, detail: "the import body must be text/csv (a header row naming the columns)")
        }
        let allOrNothing: Bool
        switch try Listing.string(request, "mode") {
        case nil: allOrNothing = false
        case "all-or-nothing": allOrNothing = true
        case let other?: throw Problem(.badRequest, detail: "mode must be all-or-nothing (or absent), not '\(other)'")
        }
        let body = try await RequestJSON.body(request, limit: gateway.configuration.http.maxImportBytes)
        let report = try await gateway.citizenRecords.importCSV(Data(body.readableBytesView), allOrNothing: allOrNothing, now: gateway.now())
        context.audit.target("citizens")
        context.audit.detail("created", String(report.created))
        context.audit.detail("updated", String(report.updated))
        context.audit.detail("rejected", String(report.rejected.count))
        if report.refused {
            throw Problem(
                .unprocessableContent, type: "urn:habar:problem:validation", title: "Invalid request",
                detail: "the file was refused: \(report.rejected.map(\.detail).joined(separator: "; "))", errors: report.rejected)
        }
        if allOrNothing, !report.rejected.isEmpty {
            throw Problem(
                .unprocessableContent, type: "urn:habar:problem:validation", title: "Invalid request",
                detail: "\(report.rejected.count) problem(s) in the file; nothing was imported (mode=all-or-nothing)",
                errors: report.rejected)
        }
        return try JSONBody.response(ImportBody(
            created: report.created, updated: report.updated,
            rejected: report.rejected.map { ImportBody.Reject(line: $0.line ?? 0, field: $0.field, detail: $0.detail) }))
    }
}
