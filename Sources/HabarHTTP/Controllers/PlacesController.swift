import Foundation
import HabarCore
import HabarMessages
import Hummingbird

/// `/v1/places`: the registry of green corridors, border crossings and meeting points. Every
/// change is a new version; a change answers with the advisories in force that used an
/// earlier version, each now holding a pending correction.
struct PlacesController {
    let gateway: Gateway

    func addRoutes(to group: RouterGroup<HabarRequestContext>) {
        group.post { request, context in try await create(request, context) }
        group.get { request, context in try await list(request, context) }
        group.get("{id}") { request, context in try await show(request, context) }
        group.patch("{id}") { request, context in try await update(request, context) }
    }

    /// A place as the API takes it (and as a merge patch is applied to).
    struct Input: Codable {
        var kind: PlaceKind
        var name: LocalizedText
        var address: LocalizedText?
        var location: GeoPoint?
        var country: String?
        var contactPhone: String?
        var openingHours: LocalizedText?
        var status: PlaceStatus?

        init(_ place: Place) {
            kind = place.kind
            name = place.name
            address = place.address
            location = place.location
            country = place.country
            contactPhone = place.contactPhone
            openingHours = place.openingHours
            status = place.status
        }

        func place(by author: String, at now: Date) -> NewPlace {
            NewPlace(
                id: .unsaved, kind: kind, name: name, address: address, location: location, country: country, contactPhone: contactPhone,
                openingHours: openingHours, status: status ?? .open, createdAt: now, updatedAt: now, updatedBy: author)
        }
    }

    func create(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let identity = try context.require(.operator)
        let input = try await RequestJSON.decode(Input.self, from: request, limit: gateway.configuration.http.maxBodyBytes)
        let stored = try await gateway.places.create(input.place(by: identity.name, at: gateway.now()))
        context.audit.target("place/\(stored.id)")
        var response = try JSONBody.response(stored, status: .created)
        response.headers[.location] = "/v1/places/\(stored.id)"
        return response
    }

    func list(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        let country = try Listing.string(request, "country")
        if let country, !(country.count == 2 && country.allSatisfy { $0.isASCII && $0.isUppercase }) {
            throw Problem(.badRequest, detail: "country must be an ISO 3166-1 alpha-2 code, not '\(country)'")
        }
        let filter = PlaceFilter(
            kind: try Listing.value(request, "kind", as: PlaceKind.self), country: country,
            status: try Listing.value(request, "status", as: PlaceStatus.self))
        return try Listing.response(try await gateway.roles.places.places(filter, page: try Listing.page(request))) { $0 }
    }

    func show(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        let id = try context.id("place")
        var version: Int?
        if let raw = request.uri.queryParameters["version"].map(String.init) {
            guard let number = Int(raw), number >= 1 else { throw Problem(.badRequest, detail: "version must be a whole number from 1, not '\(raw)'") }
            version = number
        }
        guard let place = try await gateway.roles.places.place(id: id, version: version) else {
            throw Problem(.notFound, detail: version.map { "place \(id) has no version \($0)" } ?? "no place \(id)")
        }
        return try JSONBody.response(place)
    }

    /// What a change answers: the new version, and each advisory in force that used an
    /// earlier one, now holding a pending correction (or why it could not get one).
    struct Changed: Encodable {
        var place: Place
        var advisories: [PlaceRegistry.AffectedAdvisory]
    }

    /// JSON Merge Patch (RFC 7396); `kind` cannot change, `name` cannot be removed.
    func update(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.operator)
        let id = try context.id("place")
        context.audit.target("place/\(id)")
        let patch = try RequestJSON.object(try await RequestJSON.body(request, limit: gateway.configuration.http.maxBodyBytes))
        guard let current = try await gateway.roles.places.place(id: id, version: nil) else { throw Problem(.notFound, detail: "no place \(id)") }
        var fixed: [FieldError] = []
        if patch["name"] is NSNull { fixed.append(FieldError(pointer: "/name", detail: "cannot be removed")) }
        if patch["kind"] is NSNull { fixed.append(FieldError(pointer: "/kind", detail: "cannot be removed")) }
        if !fixed.isEmpty { throw Problem.validation(ValidationFailure(fixed)) }
        let input = try RequestJSON.merging(patch, into: Input(current))
        if input.kind != current.kind {
            throw Problem.validation(ValidationFailure([FieldError(pointer: "/kind", detail: "a place's kind cannot change (it is a \(current.kind.rawValue))")]))
        }
        context.audit.detail("fields", patch.keys.sorted().joined(separator: ","))
        let (place, advisories) = try await gateway.places.change(
            id: id, to: input.place(by: context.actor.name, at: gateway.now()), by: context.actor, now: gateway.now())
        context.audit.detail("version", "\(place.version)")
        if !advisories.isEmpty { context.audit.detail("corrections", advisories.map { "\($0.advisoryId)" }.joined(separator: ",")) }
        return try JSONBody.response(Changed(place: place, advisories: advisories))
    }
}
