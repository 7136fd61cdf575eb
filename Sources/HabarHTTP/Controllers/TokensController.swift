import Foundation
import HabarCore
import Hummingbird

/// `/v1/tokens` (admin): issue (the token is in the answer once, only its hash is kept),
/// list, revoke.
struct TokensController {
    let gateway: Gateway

    func addRoutes(to group: RouterGroup<HabarRequestContext>) {
        group.post { request, context in try await create(request, context) }
        group.get { request, context in try await list(request, context) }
        group.delete("{id}") { _, context in try await revoke(context) }
    }

    struct Input: Codable {
        var role: Role
        var name: String
        /// Required for `agency` tokens, refused for the others.
        var agencyId: String?
    }

    struct Body: Encodable {
        var id: Int64
        var name: String
        var role: Role
        var agencyId: String?
        var createdAt: Date
        var revokedAt: Date?
        /// Only in the answer to `POST`: the bearer token itself, shown once.
        var token: String?

        init(_ token: AccessToken, secret: String? = nil) {
            id = token.id
            name = token.name
            role = token.role
            agencyId = token.agencyId
            createdAt = token.createdAt
            revokedAt = token.revokedAt
            self.token = secret
        }
    }

    func create(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.admin)
        let input = try await RequestJSON.decode(Input.self, from: request, limit: gateway.configuration.http.maxBodyBytes)
        var v = Validator()
        let name = input.name.trimmingCharacters(in: .whitespaces)
        v.check(!name.isEmpty && name.count <= 100, "/name", "must be 1 to 100 characters")
        if input.role == .agency {
            v.check(!(input.agencyId ?? "").isEmpty, "/agencyId", "is required for an agency token")
        } else {
            v.check(input.agencyId == nil, "/agencyId", "only agency tokens are bound to an agency")
        }
        try v.throwIfAny()
        let (secret, hash) = AccessToken.generate()
        let stored = try await gateway.roles.operators.insertToken(NewAccessToken(
            id: .unsaved, name: name, role: input.role, agencyId: input.agencyId, tokenHash: hash, createdAt: gateway.now()))
        context.audit.target("token/\(stored.id)")
        context.audit.detail("role", stored.role.rawValue)
        context.audit.detail("name", stored.name)
        var response = try JSONBody.response(Body(stored, secret: secret), status: .created)
        response.headers[.location] = "/v1/tokens/\(stored.id)"
        response.headers[.cacheControl] = "no-store"
        return response
    }

    func list(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.admin)
        return try Listing.response(try await gateway.roles.operators.tokens(page: try Listing.page(request))) { Body($0) }
    }

    func revoke(_ context: HabarRequestContext) async throws -> Response {
        try context.require(.admin)
        let id = try context.id("token")
        context.audit.target("token/\(id)")
        switch try await gateway.roles.operators.revokeToken(id: id, at: gateway.now()) {
        case .revoked: return Response(status: .noContent)
        case .notFound: throw Problem(.notFound, detail: "no unrevoked token \(id)")
        case .lastAdmin:
            throw Problem(.conflict, detail: "token \(id) is the last admin token: issue another admin token first (POST /v1/tokens), then revoke this one")
        }
    }
}
