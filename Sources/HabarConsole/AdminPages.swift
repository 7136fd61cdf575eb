import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HTTPTypes
import Hummingbird

/// The admin page (`/console/admin`): the console's accounts, a new account (its one-time
/// password shown once, as `habar user create` prints it), and a second factor for an account
/// (its `otpauth://` address shown once). Admins only; every change audited.
extension ConsoleController {
    func addAdminRoutes(to router: Router<HabarRequestContext>) {
        router.get("console/admin") { request, _ in try await adminPage(request) }
        router.post("console/admin/accounts") { request, _ in try await createAccount(request) }
        router.post("console/admin/totp") { request, _ in try await enableSecondFactor(request) }
    }

    func adminPage(_ request: Request, extra: [String: Any] = [:], status: HTTPResponse.Status = .ok) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        guard signed.account.role == .admin else { return try await refusedPage(signed, "console.admin.role_needed") }
        let language = signed.language
        let accounts = try await gateway.roles.console.operatorAccounts()
        var values: [String: Any] = [
            "accounts": accounts.map { account -> [String: Any] in
                [
                    "name": account.name, "role": pages.text("console.role." + account.role.rawValue, language), "language": account.language.tag,
                    "totp": account.totpSecret != nil, "created": ConsoleController.moment(account.createdAt), "disabled": account.disabledAt != nil,
                ]
            },
            "roles": ConsoleAccounts.roles.map { ["value": $0.rawValue, "label": pages.text("console.role." + $0.rawValue, language)] },
            "languageOptions": [Language.kazakh, .russian, .english].map { ["value": $0.rawValue, "label": ConsolePages.languageNames[$0] ?? $0.rawValue] },
        ]
        values.merge(extra) { _, b in b }
        return html(status, pages.render("admin", language: language, try await frame(signed, path: "/console/admin").merging(values) { a, _ in a }))
    }

    /// An admin's form, its CSRF token checked; else the answer that refuses it (sign in, 403,
    /// or the role page, audited as `action`).
    private enum AdminForm {
        case accepted(Signed, [String: String])
        case refused(Response)
    }

    private func adminForm(_ request: Request, action: String) async throws -> AdminForm {
        guard let signed = try await signed(request) else { return .refused(Self.redirect("/console/login")) }
        let fields: [String: String]
        do { fields = try await checkedForm(request, signed) } catch Refused.csrf(let language) { return .refused(forbidden(language)) }
        guard signed.account.role == .admin else {
            await accounts.audit(signed.account.name, role: signed.account.role, action, target: "operators", status: 403, at: gateway.now())
            return .refused(try await refusedPage(signed, "console.admin.role_needed"))
        }
        return .accepted(signed, fields)
    }

    func createAccount(_ request: Request) async throws -> Response {
        let (signed, fields): (Signed, [String: String])
        switch try await adminForm(request, action: "console account create") {
        case .refused(let response): return response
        case .accepted(let who, let form): (signed, fields) = (who, form)
        }
        let name = (fields["name"] ?? "").trimmingCharacters(in: .whitespaces)
        guard let role = fields["role"].flatMap(Role.init(rawValue:)), let language = fields["language"].flatMap(Language.init(rawValue:)) else {
            return try await adminPage(request, extra: ["failure": pages.text("console.admin.invalid", signed.language)], status: .unprocessableContent)
        }
        do {
            let created = try await accounts.create(name: name, role: role, language: language, at: gateway.now())
            await accounts.audit(signed.account.name, role: signed.account.role, "console account create", target: "operator/\(created.account.id)", status: 201, at: gateway.now())
            return try await adminPage(request, extra: [
                "created": pages.text("console.admin.created", signed.language, ["name": .text(created.account.name)]), "password": created.password,
            ])
        } catch let failure as ValidationFailure {
            return try await adminPage(request, extra: ["failure": failure.errors.map(\.detail).joined(separator: "; ")], status: .unprocessableContent)
        } catch OperationError.conflict {
            return try await adminPage(request, extra: ["failure": pages.text("console.admin.taken", signed.language, ["name": .text(name)])], status: .conflict)
        }
    }

    func enableSecondFactor(_ request: Request) async throws -> Response {
        let (signed, fields): (Signed, [String: String])
        switch try await adminForm(request, action: "console second factor") {
        case .refused(let response): return response
        case .accepted(let who, let form): (signed, fields) = (who, form)
        }
        let name = fields["name"] ?? ""
        do {
            let factor = try await accounts.enableTOTP(name: name, at: gateway.now())
            await accounts.audit(signed.account.name, role: signed.account.role, "console second factor", target: "operator \(name)", status: 200, at: gateway.now())
            // Turning it on for oneself ends one's own session too: sign in again with a code.
            if name.lowercased() == signed.account.name.lowercased() {
                return html(.ok, pages.render("message", language: signed.language, [
                    "message": pages.text("console.admin.totp_self", signed.language), "otpauth": factor.url, "secret": factor.secret,
                ]))
            }
            return try await adminPage(request, extra: [
                "totpFor": pages.text("console.admin.totp_on", signed.language, ["name": .text(name)]), "otpauth": factor.url, "secret": factor.secret,
            ])
        } catch OperationError.notFound {
            return try await adminPage(request, extra: ["failure": pages.text("console.admin.no_account", signed.language, ["name": .text(name)])], status: .notFound)
        }
    }
}
