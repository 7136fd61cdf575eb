import Foundation
import Hummingbird
import NIOCore

/// `GET /openapi.json`: the contract this server implements (OpenAPI 3.1), public like `/health`.
struct OpenAPIController {
    static let data: Data? = Bundle.module.url(forResource: "openapi", withExtension: "json").flatMap { try? Data(contentsOf: $0) }
    static let document: ByteBuffer? = data.map { ByteBuffer(bytes: $0) }

    func addRoutes(to router: Router<HabarRequestContext>) {
        router.get("openapi.json") { _, _ in
            guard let document = Self.document else { throw Problem(.notFound, detail: "the OpenAPI document is not installed") }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: document))
        }
    }
}
