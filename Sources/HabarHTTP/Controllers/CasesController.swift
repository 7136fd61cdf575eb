import Foundation
import HabarCore
import Hummingbird

/// `/v1/cases` (operator): the hotline queue — open cases first, `needs_help` before free
/// text before silence, oldest first; assign, add notes, resolve.
struct CasesController {
    let gateway: Gateway

    func addRoutes(to group: RouterGroup<HabarRequestContext>) {
        group.get { request, context in try await list(request, context) }
        group.get("{id}") { _, context in try await show(context) }
        group.patch("{id}") { request, context in try await update(request, context) }
    }

    func list(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.operator)
        let filter = CaseFilter(
            status: try Listing.value(request, "status", as: CaseStatus.self), reason: try Listing.value(request, "reason", as: CaseReason.self),
            assignee: try Listing.string(request, "assignee"), advisoryId: try Listing.int(request, "advisoryId"),
            citizenId: try Listing.int(request, "citizenId"))
        return try Listing.response(try await gateway.store.cases(filter, page: try Listing.page(request))) { $0 }
    }

    func show(_ context: HabarRequestContext) async throws -> Response {
        try context.require(.operator)
        let id = try context.id("case")
        guard let found = try await gateway.store.hotlineCase(id: id) else { throw Problem(.notFound, detail: "no case \(id)") }
        return try JSONBody.response(found)
    }

    /// `{"status"?, "assignee"?, "note"?}`; an assignee on an open case makes it `assigned`.
    struct Input: Codable {
        var status: CaseStatus?
        var assignee: String?
        var note: String?
    }

    func update(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let caller = try context.require(.operator)
        let id = try context.id("case")
        context.audit.target("case/\(id)")
        let input = try await RequestJSON.decode(Input.self, from: request, limit: gateway.configuration.http.maxBodyBytes)
        var v = Validator()
        v.check(input.status != nil || input.assignee != nil || input.note != nil, "", "give status, assignee or note")
        v.check((input.assignee ?? "").count <= 100, "/assignee", "at most 100 characters")
        v.check((input.note ?? "").count <= 4000, "/note", "at most 4000 characters")
        v.check(input.note.map { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty } ?? true, "/note", "must not be empty")
        try v.throwIfAny()
        if let status = input.status { context.audit.detail("status", status.rawValue) }
        if let assignee = input.assignee { context.audit.detail("assignee", assignee) }
        // A conflict (reopening while another case is open) becomes 409 in ProblemMiddleware.
        guard let updated = try await gateway.store.updateCase(
            id: id, CaseUpdate(status: input.status, assignee: input.assignee, note: input.note), author: caller.name, at: gateway.now())
        else { throw Problem(.notFound, detail: "no case \(id)") }
        return try JSONBody.response(updated)
    }
}
