import Foundation
import HabarCore
import Hummingbird

/// `/v1/checkins` (viewer): each citizen's current answer to each check-in request.
struct CheckinsController {
    let gateway: Gateway

    func addRoutes(to group: RouterGroup<HabarRequestContext>) {
        group.get { request, context in try await list(request, context) }
    }

    func list(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        // `need_help` as the citizens' form spells it, or the welfare spelling `needs_help`.
        let status: WelfareStatus?
        switch try Listing.present(request, "status") {
        case nil: status = nil
        case "safe": status = .safe
        case "needs_help", "need_help": status = .needsHelp
        case let other?: throw Problem(.badRequest, detail: "status must be one of safe, needs_help, not '\(other)'")
        }
        let filter = CheckinFilter(advisoryId: try Listing.int(request, "advisoryId"), status: status, citizenId: try Listing.int(request, "citizenId"))
        return try Listing.response(try await gateway.roles.checkins.checkins(filter, page: try Listing.page(request))) { $0 }
    }
}
