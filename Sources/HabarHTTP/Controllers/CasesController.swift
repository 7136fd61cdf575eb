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
        return try Listing.response(try await gateway.roles.checkins.cases(filter, page: try Listing.page(request))) { $0 }
    }

    func show(_ context: HabarRequestContext) async throws -> Response {
        try context.require(.operator)
        let id = try context.id("case")
        guard let found = try await gateway.roles.checkins.hotlineCase(id: id) else { throw Problem(.notFound, detail: "no case \(id)") }
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
        let change = CaseUpdate(status: input.status, assignee: input.assignee, note: input.note)
        try HotlineQueue.validate(change)
        if let status = input.status { context.audit.detail("status", status.rawValue) }
        if let assignee = input.assignee { context.audit.detail("assignee", assignee) }
        // A conflict (reopening while another case is open) becomes 409 in ProblemMiddleware.
        let updated: HotlineCase
        do { updated = try await gateway.hotline.update(id: id, change, by: caller.name, at: gateway.now()) } catch OperationError.notFound {
            throw Problem(.notFound, detail: "no case \(id)")
        }
        return try JSONBody.response(updated)
    }
}
