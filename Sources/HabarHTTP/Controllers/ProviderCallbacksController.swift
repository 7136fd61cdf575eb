import Foundation
import HabarCore
import Hummingbird
import Logging

/// What SMS gateways call (no token; each adapter checks its own signature or key):
/// `GET /callbacks/sms/{channelName}/dlr` for delivery reports and `GET`/`POST
/// /inbound/sms/{channelName}` for incoming SMS. Each is stored before it is answered with
/// 200, so a crash before the answer means a retry from the gateway, never a loss; a repeat
/// changes nothing.
struct ProviderCallbacksController {
    let gateway: Gateway

    func addRoutes(to router: Router<HabarRequestContext>) {
        router.get("callbacks/sms/{channelName}/dlr") { request, context in try await report(request, context) }
        router.get("inbound/sms/{channelName}") { request, context in try await incoming(request, context) }
        router.post("inbound/sms/{channelName}") { request, context in try await incoming(request, context) }
    }

    func report(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let adapter = try channel(context)
        let receipt: DeliveryReceipt
        do { receipt = try adapter.deliveryReport(try await providerRequest(request), now: gateway.now()) } catch let refusal as ProviderRequestRefusal {
            throw refused(refusal, adapter)
        }
        do { try await gateway.receipts.accept(receipt) } catch {
            // Not stored: 503 makes the gateway send the report again.
            throw Problem(.serviceUnavailable, detail: "the report could not be stored; send it again")
        }
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: .init(string: "ok\n")))
    }

    func incoming(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let adapter = try channel(context)
        let message: NewInboundSMS
        do { message = try adapter.incomingMessage(try await providerRequest(request), now: gateway.now()) } catch let refusal as ProviderRequestRefusal {
            throw refused(refusal, adapter)
        }
        let record = try await gateway.inbound.submit(message)
        // Neither the number nor the text is logged: they are personal data.
        gateway.logger.info("incoming SMS", metadata: [
            "channel": "\(adapter.name)", "inbound": "\(record.id)", "duplicate": "\(record.duplicate)",
            "citizen": "\(record.citizenId.map(String.init) ?? "unknown")",
        ])
        // An empty answer: Kannel sends no reply SMS for it (`omit-empty`); confirmations are
        // Habar's own messages.
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init())
    }

    /// The SMS channel named in the path, if it takes callbacks.
    func channel(_ context: HabarRequestContext) throws -> any SMSGatewayCallbacks {
        let name = context.parameters.get("channelName") ?? ""
        guard let adapter = gateway.adapters[name] as? any SMSGatewayCallbacks else {
            throw Problem(.notFound, detail: "no SMS channel '\(name)' that takes callbacks")
        }
        return adapter
    }

    func refused(_ refusal: ProviderRequestRefusal, _ adapter: any SMSGatewayCallbacks) -> Problem {
        gateway.logger.warning("refused a provider callback", metadata: ["channel": "\(adapter.name)", "reason": "\(refusal.reason)"])
        if refusal.status == 403 { return Problem(.forbidden, detail: "the request is not signed for this channel") }
        return Problem(HTTPResponse.Status(code: refusal.status), detail: refusal.reason)
    }

    /// The query (and a posted form) as fields; `+` is a space, as Kannel encodes it.
    func providerRequest(_ request: Request) async throws -> ProviderRequest {
        var fields = try Self.formFields(request.uri.query ?? "")
        var body: String?
        if request.method == .post {
            let buffer = try await RequestJSON.body(request, limit: gateway.configuration.http.maxBodyBytes)
            guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
                throw Problem(.badRequest, detail: "the body is not valid UTF-8")
            }
            if request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true {
                fields.merge(try Self.formFields(text)) { query, _ in query }
            } else {
                body = text
            }
        }
        var headers: [String: String] = [:]
        for field in request.headers where field.name.canonicalName.hasPrefix("x-kannel-") {
            headers[field.name.canonicalName] = field.value
        }
        return ProviderRequest(method: request.method.rawValue, fields: fields, headers: headers, body: body)
    }

    static func formFields(_ raw: String) throws -> [String: String] { try FormFields.parse(raw) }
}
