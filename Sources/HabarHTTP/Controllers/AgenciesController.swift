import Foundation
import HabarCore
import HabarMessages
import HTTPTypes
import Hummingbird
import NIOCore

/// `/v1/agencies`: register travel agencies (admin), read them, change them, rotate their secrets.
struct AgenciesController {
    let gateway: Gateway

    func addRoutes(to group: RouterGroup<HabarRequestContext>) {
        group.post { request, context in try await create(request, context) }
        group.get { _, context in try await list(context) }
        group.get("{id}") { _, context in try await show(context) }
        group.patch("{id}") { request, context in try await update(request, context) }
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
        /// With a URL: `active`, or `disabled` (a 410, or disabled by an operator) with the reason.
        var webhookStatus: String?
        var webhookDisabledReason: String?
        var language: Language
        var createdAt: Date
        /// Only in the answer that creates it or rotates it.
        var webhookSecret: String?
        var token: String?

        init(_ agency: Agency, secret: String? = nil, token: String? = nil) {
            id = agency.id
            name = agency.name
            webhookUrl = agency.webhookURL
            webhookStatus = agency.webhookURL == nil ? nil : agency.webhookDisabledReason == nil ? "active" : "disabled"
            webhookDisabledReason = agency.webhookDisabledReason
            language = agency.language
            createdAt = agency.createdAt
            webhookSecret = secret
            self.token = token
        }
    }

    /// The name trimmed, after checking every field of `input` (422 with their pointers).
    func validated(_ input: Input) throws -> String {
        var v = Validator()
        let name = input.name.trimmingCharacters(in: .whitespaces)
        v.check(!name.isEmpty && name.count <= 200, "/name", "must be 1 to 200 characters")
        if let id = input.id { v.check(Agency.isValidId(id), "/id", "1 to 64 of a-z, 0-9, '-' and '_'") }
        if let url = input.webhookUrl {
            let parsed = URL(string: url)
            v.check(["http", "https"].contains(parsed?.scheme?.lowercased() ?? "") && parsed?.host != nil && url.count <= 2000,
                    "/webhookUrl", "must be an http(s) URL of at most 2000 characters")
        }
        try v.throwIfAny()
        return name
    }

    func create(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.admin)
        let input = try await RequestJSON.decode(Input.self, from: request, limit: gateway.configuration.http.maxBodyBytes)
        let name = try validated(input)
        let created = try await gateway.agencyRegistry.create(
            id: input.id, name: name, webhookURL: input.webhookUrl, language: input.language ?? .russian, at: gateway.now())
        let id = created.agency.id
        context.audit.target("agency/\(id)")
        context.audit.detail("name", name)
        var response = try JSONBody.response(Body(created.agency, secret: created.secret, token: created.token), status: .created)
        response.headers[.location] = "/v1/agencies/\(id)"
        response.headers[.cacheControl] = "no-store"
        return response
    }

    func list(_ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        return try JSONBody.response(["items": try await gateway.roles.agencies.agencies().map { Body($0) }])
    }

    func show(_ context: HabarRequestContext) async throws -> Response {
        let identity = try context.require(.viewer, .agency)
        let id = context.parameters.get("id") ?? ""
        if identity.role == .agency, identity.agencyId != id { throw Problem(.forbidden, detail: "an agency token reads only its own agency") }
        guard let agency = try await gateway.roles.agencies.agency(id: id) else { throw Problem(.notFound, detail: "no agency '\(id)'") }
        return try JSONBody.response(Body(agency))
    }

    /// JSON Merge Patch (RFC 7396) of `name`, `webhookUrl` and `language`: `"webhookUrl": null`
    /// stops the agency's group advisories; setting it (also to the same address) sends them
    /// again after a 410. The id cannot change.
    func update(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.admin)
        let id = context.parameters.get("id") ?? ""
        context.audit.target("agency/\(id)")
        let patch = try RequestJSON.object(try await RequestJSON.body(request, limit: gateway.configuration.http.maxBodyBytes))
        guard let existing = try await gateway.roles.agencies.agency(id: id) else { throw Problem(.notFound, detail: "no agency '\(id)'") }
        let input = try RequestJSON.merging(
            patch, into: Input(id: existing.id, name: existing.name, webhookUrl: existing.webhookURL, language: existing.language))
        let name = try validated(input)
        var fixed: [FieldError] = []
        if input.id != existing.id { fixed.append(FieldError(pointer: "/id", detail: "an agency's id cannot change")) }
        if patch["language"] is NSNull { fixed.append(FieldError(pointer: "/language", detail: "cannot be removed; one of kk, ru, en")) }
        if !fixed.isEmpty { throw Problem.validation(ValidationFailure(fixed)) }
        context.audit.detail("fields", patch.keys.sorted().joined(separator: ","))
        let updated = try await gateway.agencyRegistry.update(
            Agency(id: id, name: name, webhookURL: input.webhookUrl, language: input.language ?? existing.language, createdAt: existing.createdAt),
            enableWebhook: patch["webhookUrl"].map { !($0 is NSNull) } ?? false, at: gateway.now())
        return try JSONBody.response(Body(updated))
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
        let rotated: AgencyRegistry.Credentials
        do { rotated = try await gateway.agencyRegistry.rotateSecret(id: id, overlap: TimeInterval(overlap * 60), at: gateway.now()) } catch OperationError.notFound {
            throw Problem(.notFound, detail: "no agency '\(id)'")
        }
        context.audit.detail("overlapMinutes", String(overlap))
        var response = try JSONBody.response(Body(rotated.agency, secret: rotated.secret))
        response.headers[.cacheControl] = "no-store"
        return response
    }
}

/// An event's `data` whose fields are one level deep: its field names are its coding keys.
protocol FlatFields {
    static var fieldNames: Set<String> { get }
}

extension TouristCheckin: FlatFields {
    static let fieldNames = Set(CodingKeys.allCases.map(\.stringValue))
}

extension GroupStatusReport: FlatFields {
    static let fieldNames = Set(CodingKeys.allCases.map(\.stringValue))
}
