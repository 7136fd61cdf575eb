import Foundation
import HabarCore
import Hummingbird

/// `GET /v1/audit` (admin): the audit log, oldest first, with each entry's hashes.
struct AuditController {
    let gateway: Gateway

    func addRoutes(to group: RouterGroup<HabarRequestContext>) {
        group.get { request, context in
            try context.require(.admin)
            return try Listing.response(try await gateway.roles.operators.auditEntries(page: try Listing.page(request))) { $0 }
        }
    }
}
