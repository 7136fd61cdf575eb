import Foundation
import HabarCore
import HabarMessages
import HTTPTypes
import Hummingbird

/// `/v1/agencies`: register travel agencies (admin), read them, rotate their secrets.
struct AgenciesController {
    let gateway: Gateway

    func addRoutes(to group: RouterGroup<HabarRequestContext>) {
        group.post { request, context in try await create(request, context) }
        group.get { _, context in try await list(context) }
        group.get("{id}") { _, context in try await show(context) }
        group.post("{id}/rotate-secret") { request, context in try await rotate(request, context) }
        group.get("{id}/groups") { request, context in try await GroupsController(gateway: gateway).list(request, context) }
    }

    struct Input: Codable {
        var id: String?
        var name: String
        var webhookUrl: String?
        var language: Language?
    }

    struct Body: Encodable {
        var id: String
        var name: String
        var webhookUrl: String?
        var language: Language
        var createdAt: Date
        /// Only in the answer that creates it or rotates it.
        var webhookSecret: String?
        var token: String?

        init(_ agency: Agency, secret: String? = nil, token: String? = nil) {
            id = agency.id
            name = agency.name
            webhookUrl = agency.webhookURL
            language = agency.language
            createdAt = agency.createdAt
            webhookSecret = secret
            self.token = token
        }
    }

    func create(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.admin)
        let input = try await RequestJSON.decode(Input.self, from: request, limit: gateway.configuration.http.maxBodyBytes)
        var v = Validator()
        let name = input.name.trimmingCharacters(in: .whitespaces)
        v.check(!name.isEmpty && name.count <= 200, "/name", "must be 1 to 200 characters")
        if let id = input.id { v.check(Agency.isValidId(id), "/id", "1 to 64 of a-z, 0-9, '-' and '_'") }
        if let url = input.webhookUrl {
            let parsed = URL(string: url)
            v.check(["http", "https"].contains(parsed?.scheme?.lowercased() ?? "") && parsed?.host != nil, "/webhookUrl", "must be an http(s) URL")
        }
        try v.throwIfAny()
        let id = input.id ?? "agency-" + String(UUID().uuidString.lowercased().prefix(8))
        let secret = WebhookSecret.generate(bytes: 32)
        let (token, hash) = AccessToken.generate()
        let now = gateway.now()
        let agency = try await gateway.store.insertAgency(
            Agency(id: id, name: name, webhookURL: input.webhookUrl, language: input.language ?? .russian, createdAt: now),
            secret: secret.text, token: AccessToken(name: "agency \(id)", role: .agency, agencyId: id, tokenHash: hash, createdAt: now))
        context.audit.target("agency/\(id)")
        context.audit.detail("name", name)
        var response = try JSONBody.response(Body(agency, secret: secret.text, token: token), status: .created)
        response.headers[.location] = "/v1/agencies/\(id)"
        response.headers[.cacheControl] = "no-store"
        return response
    }

    func list(_ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        return try JSONBody.response(["items": try await gateway.store.agencies().map { Body($0) }])
    }

    func show(_ context: HabarRequestContext) async throws -> Response {
        let identity = try context.require(.viewer, .agency)
        let id = context.parameters.get("id") ?? ""
        if identity.role == .agency, identity.agencyId != id { throw Problem(.forbidden, detail: "an agency token reads only its own agency") }
        guard let agency = try await gateway.store.agency(id: id) else { throw Problem(.notFound, detail: "no agency '\(id)'") }
        return try JSONBody.response(Body(agency))
    }

    struct RotateInput: Codable {
        /// How long the secrets in use keep verifying and signing (default 24 h, at most 30 days).
        var overlapMinutes: Int?
    }

    func rotate(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.admin)
        let id = context.parameters.get("id") ?? ""
        context.audit.target("agency/\(id)")
        let input = try await RequestJSON.decode(RotateInput.self, from: request, limit: gateway.configuration.http.maxBodyBytes, emptyIsObject: true)
        let overlap = input.overlapMinutes ?? 1440
        guard (0...43_200).contains(overlap) else {
            throw Problem.validation(ValidationFailure([FieldError(pointer: "/overlapMinutes", detail: "0 to 43200 minutes")]))
        }
        let secret = WebhookSecret.generate(bytes: 32)
        let now = gateway.now()
        guard try await gateway.store.rotateAgencySecret(id: id, secret: secret.text, overlap: TimeInterval(overlap * 60), now: now),
            let agency = try await gateway.store.agency(id: id)
        else { throw Problem(.notFound, detail: "no agency '\(id)'") }
        context.audit.detail("overlapMinutes", String(overlap))
        var response = try JSONBody.response(Body(agency, secret: secret.text))
        response.headers[.cacheControl] = "no-store"
        return response
    }
}

/// `POST /inbound/agencies/{agencyId}`: an agency's signed webhook (Standard Webhooks),
/// verified against each of its valid secrets in constant time, within ±5 minutes, applied
/// and stored in one transaction before the 200; a webhook-id seen before is acknowledged
/// with no second effect.
struct AgencyInboundController {
    let gateway: Gateway

    func addRoutes(to router: Router<HabarRequestContext>) {
        router.post("inbound/agencies/{agencyId}") { request, context in try await receive(request, context) }
    }

    struct Envelope: Codable {
        var type: String
        var data: JSONValue
    }

    struct Answer: Encodable {
        var status: String
        var type: String
        var summary: [String: Int]?
    }

    func receive(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let agencyId = context.parameters.get("agencyId") ?? ""
        let buffer = try await RequestJSON.body(request, limit: gateway.configuration.http.maxImportBytes)
        let body = Data(buffer.readableBytesView)
        let now = gateway.now()
        let secrets = try await gateway.store.agencySecrets(id: agencyId, now: now)
        let id = request.headers[HTTPField.Name("webhook-id")!]
        do {
            guard !secrets.isEmpty else { throw StandardWebhooks.Failure.noMatchingSignature }
            try StandardWebhooks.verify(
                id: id, timestamp: request.headers[HTTPField.Name("webhook-timestamp")!],
                signature: request.headers[HTTPField.Name("webhook-signature")!], body: body, secrets: secrets, now: now)
        } catch let failure as StandardWebhooks.Failure {
            // The same answer for an unknown agency and a wrong signature.
            throw Problem(.unauthorized, type: "urn:habar:problem:webhook-signature", title: "Webhook not verified", detail: "\(failure)")
        }
        let object = try RequestJSON.object(buffer)
        let envelope = try Self.decode(Envelope.self, object, prefix: "")
        guard AgencyCommand.types.contains(envelope.type) else {
            throw Problem(.badRequest, type: "urn:habar:problem:unknown-event-type", title: "Unknown event type",
                          detail: "unknown type '\(envelope.type)' (known: \(AgencyCommand.types.joined(separator: ", ")))",
                          errors: [FieldError(pointer: "/type", detail: "'\(envelope.type)' is not an event type")])
        }
        let data = object["data"] ?? [:]
        let command: AgencyCommand
        switch envelope.type {
        case "manifest.upsert": command = .manifest(try Self.decodeManifest(data))
        case "group.status": command = .groupStatus(try Self.decode(GroupStatusReport.self, data, prefix: "/data"))
        default: command = .touristCheckin(try Self.decode(TouristCheckin.self, data, prefix: "/data"))
        }
        let result: AgencyEventResult
        switch try await gateway.agencyEvents.submit(
            AgencyEvent(agencyId: agencyId, webhookId: id ?? "", type: envelope.type, body: body, command: command, at: now))
        {
        case .success(let applied): result = applied
        case .failure(let failure): throw Problem.validation(failure)
        }
        switch result {
        case .duplicate: return try JSONBody.response(Answer(status: "duplicate", type: envelope.type))
        case .applied(let summary): return try JSONBody.response(Answer(status: "applied", type: envelope.type, summary: summary))
        }
    }

    /// A manifest, checked completely: when it does not decode as a whole, each tourist is
    /// decoded alone so that every missing or mistyped field of every tourist is reported
    /// at once (unknown fields: 400; other problems: 422), with the checks of `validate()`
    /// for the tourists that did decode.
    static func decodeManifest(_ data: Any) throws -> Manifest {
        let manifest: Manifest
        do {
            manifest = try decode(Manifest.self, data, prefix: "/data")
        } catch let whole as Problem {
            guard let object = data as? [String: Any], let tourists = object["tourists"] as? [Any] else { throw whole }
            var unknown: [FieldError] = []
            var invalid: [FieldError] = []
            func collect(_ body: () throws -> Void) throws {
                do { try body() } catch let problem as Problem {
                    if problem.status == .badRequest { unknown += problem.errors ?? [] } else { invalid += problem.errors ?? [] }
                }
            }
            var group: Manifest.Group?
            try collect { group = try decode(Manifest.Group.self, object["group"] ?? NSNull(), prefix: "/data/group") }
            for key in object.keys.sorted() where key != "group" && key != "tourists" {
                unknown.append(FieldError(pointer: "/data/" + key, detail: "is not a field of this request"))
            }
            var decoded: [Manifest.Tourist] = []
            var decodedIndices: [Int] = []
            for (index, value) in tourists.enumerated() {
                try collect {
                    decoded.append(try decode(Manifest.Tourist.self, value, prefix: "/data/tourists/\(index)"))
                    decodedIndices.append(index)
                }
            }
            if !unknown.isEmpty {
                throw Problem(.badRequest, type: "urn:habar:problem:unknown-fields", title: "Unknown fields",
                              detail: "unknown field\(unknown.count == 1 ? "" : "s"): \(unknown.compactMap(\.pointer).joined(separator: ", "))", errors: unknown)
            }
            if let group, !decoded.isEmpty || tourists.isEmpty {
                // The checks across tourists, on those that decoded, under their own indices.
                do { try Manifest(group: group, tourists: decoded).validate() } catch {
                    invalid += error.errors.map { error in
                        guard let pointer = error.pointer, pointer.hasPrefix("/data/tourists/") else { return error }
                        let rest = pointer.dropFirst("/data/tourists/".count)
                        let position = Int(rest.prefix { $0.isNumber }) ?? 0
                        let original = decodedIndices.indices.contains(position) ? decodedIndices[position] : position
                        return FieldError(pointer: "/data/tourists/\(original)" + rest.drop { $0.isNumber }, detail: error.detail)
                    }
                }
            }
            guard !invalid.isEmpty else { throw whole }
            throw Problem.validation(ValidationFailure(invalid.sorted { ($0.pointer ?? "").compare($1.pointer ?? "", options: .numeric) == .orderedAscending }))
        }
        do { try manifest.validate() } catch { throw Problem.validation(error) }
        return manifest
    }

    /// Decodes strictly (unknown fields are 400), naming problems by pointer under `prefix`.
    static func decode<T: Codable>(_ type: T.Type, _ value: Any, prefix: String) throws -> T {
        do {
            guard let object = value as? [String: Any] else {
                throw Problem.validation(ValidationFailure([FieldError(pointer: prefix.isEmpty ? "/" : prefix, detail: "must be an object")]))
            }
            return try RequestJSON.decode(T.self, from: object)
        } catch var problem as Problem {
            problem.errors = problem.errors?.map { FieldError(pointer: prefix + ($0.pointer ?? ""), detail: $0.detail) }
            if !prefix.isEmpty { problem.detail = problem.errors?.count == 1 ? problem.errors![0].description : problem.detail }
            throw problem
        }
    }
}
