import Foundation
import HabarCore
import HabarMessages
import Hummingbird
import NIOCore

/// `GET /v1/feed/cap`: an Atom feed of the published public advisories still in force
/// (cancelled ones stay, as CAP Cancel messages, until they would have expired), each entry
/// carrying its CAP alert inline (`application/cap+xml` content), newest first.
struct FeedController {
    let gateway: Gateway

    func addRoutes(to router: Router<HabarRequestContext>) {
        router.get("v1/feed/cap") { request, context in try await feed(request, context) }
    }

    func feed(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        if gateway.configuration.cap.feedRequiresToken { try context.require(.viewer) }
        var advisories: [Advisory] = []
        var page = PageRequest(limit: PageRequest.maxLimit)
        repeat {
            let next = try await gateway.roles.publishing.advisories(AdvisoryFilter(publishedPublicOnly: true, inForceAt: gateway.now(), exercise: false), page: page)
            advisories += next.items
            page.after = next.nextAfter
        } while page.after != nil && advisories.count < 1000
        let base = gateway.configuration.publicBaseURL
        let installation = try await gateway.roles.installation.installationId()
        var entries: [(updated: Date, xml: String)] = []
        for advisory in advisories {
            let sent = try await gateway.roles.publishing.advisoryVersions(id: advisory.id).last?.sentAt ?? advisory.publishedAt ?? Date()
            let texts = try gateway.publisher.render(advisory, kinds: [.webhook], now: sent)
            let title = texts[.russian]?[.webhook]?.subject ?? texts[.kazakh]?[.webhook]?.subject ?? advisory.kind.rawValue
            let summary = texts[.russian]?[.webhook]?.text ?? ""
            var entry = "  <entry>\n"
            entry += "    <id>urn:habar:\(CAPDocument.escape(CAPDocument.identifier(installation, advisory.id, advisory.version)))</id>\n"
            entry += "    <title>\(CAPDocument.escape(title))</title>\n"
            entry += "    <updated>\(CAPDocument.time(sent))</updated>\n"
            entry += "    <link rel=\"related\" href=\"\(CAPDocument.escape(base))/v1/advisories/\(advisory.id)/cap\"/>\n"
            entry += "    <summary>\(CAPDocument.escape(summary))</summary>\n"
            entry += "    <content type=\"application/cap+xml\">\n"
            entry += try await CAPDocument.alert(advisory, gateway: gateway)
            entry += "\n    </content>\n  </entry>\n"
            entries.append((sent, entry))
        }
        entries.sort { $0.updated > $1.updated }
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n"
        xml += "  <id>\(CAPDocument.escape(base))/v1/feed/cap</id>\n"
        xml += "  <title>\(CAPDocument.escape(gateway.configuration.cap.senderName)): public advisories</title>\n"
        xml += "  <updated>\(CAPDocument.time(entries.first?.updated ?? Date(timeIntervalSince1970: 0)))</updated>\n"
        xml += "  <link rel=\"self\" href=\"\(CAPDocument.escape(base))/v1/feed/cap\"/>\n"
        xml += "  <author><name>\(CAPDocument.escape(gateway.configuration.cap.senderName))</name></author>\n"
        xml += entries.map(\.xml).joined()
        xml += "</feed>\n"
        return Response(status: .ok, headers: [.contentType: "application/atom+xml; charset=utf-8"], body: .init(byteBuffer: .init(string: xml)))
    }
}
