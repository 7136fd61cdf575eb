import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HTTPTypes
import Hummingbird
import NIOCore

/// The operator console under `/console/`: server-rendered pages (swift-mustache templates
/// in this target's resources), every text from the catalogs, every value escaped by the
/// templates, every form with its CSRF token. It calls the gateway's core services, never
/// the store directly, and its roles are the API's.
public struct ConsoleModule: GatewayModule {
    public let settings: ConsoleAccounts.Settings
    let throttle: SignInThrottle

    public init(settings: ConsoleAccounts.Settings = ConsoleAccounts.Settings(), throttle: SignInThrottle = SignInThrottle()) {
        self.settings = settings
        self.throttle = throttle
    }

    public func addRoutes(to router: Router<HabarRequestContext>, gateway: Gateway) {
        let console = ConsoleController(
            gateway: gateway, accounts: ConsoleAccounts(store: gateway.store, throttle: throttle, settings: settings), pages: ConsolePages(catalog: gateway.catalog),
            board: ProgressBoard(gateway: gateway))
        console.addRoutes(to: router)
    }
}

/// The cookie names and what they carry.
enum ConsoleCookie {
    /// The session: random, shown to the browser only; the store keeps its SHA-256.
    static let session = "habar_session"
    /// The sign-in form's CSRF token (double submit: the cookie and the form field agree).
    static let signIn = "habar_signin"
}

struct ConsoleController {
    let gateway: Gateway
    let accounts: ConsoleAccounts
    let pages: ConsolePages
    /// The dashboards' shared figures (read at most once a second).
    let board: ProgressBoard

    /// A signed-in request: the session, its account, the cookie it came with.
    struct Signed {
        var session: ConsoleSession
        var account: OperatorAccount
        var cookie: String
        var language: Language { account.language }
    }

    func addRoutes(to router: Router<HabarRequestContext>) {
        router.get("console/") { request, _ in try await dashboard(request) }
        router.get("console/login") { request, _ in try await signInPage(request) }
        router.post("console/login") { request, context in try await signIn(request, context) }
        router.post("console/logout") { request, _ in try await signOut(request) }
        router.post("console/language") { request, _ in try await setLanguage(request) }
        addAdvisoryRoutes(to: router)
        addComposeRoutes(to: router)
        addCitizenRoutes(to: router)
        addRegistryRoutes(to: router)
        addAdminRoutes(to: router)
        addHotlineRoutes(to: router)
        addLiveRoutes(to: router)
        router.get("console/static/console.css") { _, _ in Self.asset(pages.css, type: "text/css; charset=utf-8") }
    }

    // MARK: Sessions

    func signed(_ request: Request) async throws -> Signed? {
        guard let cookie = request.cookies[ConsoleCookie.session]?.value,
            let found = try await accounts.session(cookie: cookie, at: gateway.now())
        else { return nil }
        return Signed(session: found.session, account: found.account, cookie: cookie)
    }

    /// The form of a state-changing request, once its CSRF token is the session's (else 403).
    func checkedForm(_ request: Request, _ signed: Signed) async throws -> [String: String] {
        let fields = try await form(request)
        guard ConsoleAccounts.csrfMatches(fields["csrf"], signed.session) else { throw Refused.csrf(signed.language) }
        return fields
    }

    func form(_ request: Request) async throws -> [String: String] {
        var request = request
        let body = try await request.collectBody(upTo: 64 * 1024)
        return try FormFields.parse(String(buffer: body))
    }

    enum Refused: Error {
        case csrf(Language)
    }

    // MARK: Sign-in

    func signInPage(_ request: Request, failure: String? = nil, name: String = "", status: HTTPResponse.Status = .ok) async throws -> Response {
        if failure == nil, try await signed(request) != nil { return Self.redirect("/console/") }
        let language = Self.language(of: request)
        let token = ConsoleAccounts.randomToken()
        var values: [String: Any] = ["csrf": token, "name": name, "languages": pages.languageChoices(language, path: "/console/login")]
        if let failure { values["failure"] = failure }  // (an Optional in Any is truthy to Mustache and prints "nil")
        var response = html(status, pages.render("login", language: language, values))
        response.setCookie(Cookie(name: ConsoleCookie.signIn, value: token, path: "/console/login", secure: secure(request), httpOnly: true, sameSite: .strict))
        return response
    }

    func signIn(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let language = Self.language(of: request)
        let fields = try await form(request)
        guard let expected = request.cookies[ConsoleCookie.signIn]?.value, let given = fields["csrf"], ConstantTime.equal(expected, given)
        else { return forbidden(language) }
        let name = fields["name"] ?? ""
        do {
            let signedIn = try await accounts.signIn(
                name: name, password: fields["password"] ?? "", totp: fields["totp"], address: context.remoteAddress, at: gateway.now())
            var response = Self.redirect("/console/")
            response.setCookie(Cookie(
                name: ConsoleCookie.session, value: signedIn.cookie, path: "/console", secure: secure(request), httpOnly: true, sameSite: .strict))
            response.setCookie(Cookie(name: ConsoleCookie.signIn, value: "", maxAge: 0, path: "/console/login", secure: secure(request), httpOnly: true, sameSite: .strict))
            return response
        } catch .wrongCredentials {
            return try await signInPage(request, failure: pages.text("console.login.failed", language), name: name, status: .unauthorized)
        } catch .throttled(let seconds) {
            let minutes = max(1, (seconds + 59) / 60)
            var response = try await signInPage(
                request, failure: pages.text("console.login.throttled", language, ["minutes": .number(Double(minutes))]), name: name,
                status: .tooManyRequests)
            response.headers[.retryAfter] = String(seconds)
            return response
        }
    }

    func signOut(_ request: Request) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        do { _ = try await checkedForm(request, signed) } catch Refused.csrf(let language) { return forbidden(language) }
        try await accounts.signOut(cookie: signed.cookie, account: signed.account, at: gateway.now())
        var response = Self.redirect("/console/login")
        response.setCookie(Cookie(name: ConsoleCookie.session, value: "", maxAge: 0, path: "/console", secure: secure(request), httpOnly: true, sameSite: .strict))
        return response
    }

    func setLanguage(_ request: Request) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let fields: [String: String]
        do { fields = try await checkedForm(request, signed) } catch Refused.csrf(let language) { return forbidden(language) }
        guard let language = fields["language"].flatMap(Language.init(rawValue:)) else { return Self.redirect("/console/") }
        _ = try await gateway.roles.console.setOperatorLanguage(id: signed.account.id, language: language)
        return Self.redirect("/console/")
    }

    // MARK: Pages

    func dashboard(_ request: Request) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let values = try await Dashboard.read(gateway: gateway, board: board, language: signed.language, pages: pages)
        return html(.ok, pages.render("dashboard", language: signed.language, try await frame(signed, path: "/console/").merging(values) { a, _ in a }))
    }

    /// What every signed-in page shows around its content: who is signed in, the language,
    /// and while any exercise is in force a banner saying so.
    func frame(_ signed: Signed, path: String) async throws -> [String: Any] {
        let exercises = try await gateway.roles.publishing.advisories(
            AdvisoryFilter(status: .published, inForceAt: gateway.now(), exercise: true), page: PageRequest(limit: PageRequest.maxLimit)).items.count
        var frame: [String: Any] = [
            "csrf": signed.session.csrfToken,
            "signedInAs": pages.text("console.signed_in_as", signed.language, [
                "name": .text(signed.account.name), "role": .text(pages.text("console.role." + signed.account.role.rawValue, signed.language)),
            ]),
            "languages": pages.languageChoices(signed.language, path: path),
            "canCompose": signed.account.role.satisfies(.operator), "isAdmin": signed.account.role == .admin,
        ]
        // (An empty string is not false to Mustache: the key is left out instead.)
        if exercises > 0 { frame["exerciseBanner"] = pages.text("console.exercise.banner", signed.language, ["count": .number(Double(exercises))]) }
        return frame
    }

    func forbidden(_ language: Language) -> Response {
        html(.forbidden, pages.render("message", language: language, ["message": pages.text("console.forbidden", language)]))
    }

    // MARK: HTTP

    /// Secure cookies when the console is reached over TLS (the configured public address,
    /// or a proxy in front saying so).
    func secure(_ request: Request) -> Bool {
        gateway.configuration.publicBaseURL.lowercased().hasPrefix("https://")
            || request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// The language a browser asks for (`?lang=`, else `Accept-Language`), else Russian.
    static func language(of request: Request) -> Language {
        if let asked = request.uri.queryParameters.get("lang").flatMap(Language.init(rawValue:)) { return asked }
        let header = request.headers[.acceptLanguage] ?? ""
        for part in header.split(separator: ",") {
            let tag = part.split(separator: ";")[0].trimmingCharacters(in: .whitespaces).lowercased().prefix(2)
            if let language = Language(rawValue: String(tag)) { return language }
        }
        return .russian
    }

    func html(_ status: HTTPResponse.Status, _ page: String) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                HTTPField.Name("Content-Security-Policy")!: "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("Referrer-Policy")!: "same-origin",
            ],
            body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "max-age=3600", HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
