import Foundation
import HabarCore
import HabarTesting
import Testing

/// The console in a real headless Chromium (Selenium, Debian's chromium and chromium-driver)
/// against a live `habar serve`: signed out → the sign-in form; a wrong password; signing in;
/// the dashboard with an advisory delivered through the stub; the language; signing out. With
/// JavaScript on and off. Screenshots go to `.build/console-screenshots/` (and the README).
@Suite("Console in a browser", .serialized)
struct ConsoleBrowserTests {
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
    }

    @Test("sign in, see the dashboard, change the language, sign out — JavaScript on and off", arguments: [true, false])
    func flow(javascript: Bool) async throws {
        guard Self.available else {
            if ExternalProcess.underCI { Issue.record("chromium and chromium-driver are missing (Tests/run-all.sh installs them)") }
            else { print("⚠️  SKIPPED: the console browser test needs /usr/bin/chromium and /usr/bin/chromedriver (Tests/run-all.sh installs them)") }
            return
        }
        let data = try Fixtures.temporaryDirectory("console-browser")
        let created = try await HabarProcess.run(["user", "create", "--name", "Айгерим", "--role", "operator", "--data-dir", data.path])
        #expect(created.status == 0, "\(created.stderr)")
        let password = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(password.count == 16)
        // Three citizens in Iran and a notice to them, sent by the stub once the server runs.
        let csv = data.appendingPathComponent("citizens.csv")
        try Data("fullName,phone,country,language\nАйгүл,+77010000001,IR,kk\nМарат,+77010000002,IR,ru\nDana,+77010000003,IR,en\n".utf8).write(to: csv)
        #expect(try await HabarProcess.run(["citizens", "import", csv.path, "--data-dir", data.path]).status == 0)
        let sent = try await HabarProcess.run([
            "advisory", "send", "--data-dir", data.path, "--template", "general.notice", "--country", "IR",
            "--param", "text=Проверка связи", "--param", "contactPhone=+77172000000",
        ])
        #expect(sent.status == 0, "\(sent.stderr)")
        let port = HabarProcess.freePort()
        let server = try HabarProcess.start(["serve", "--data-dir", data.path, "--port", "\(port)"], log: data.appendingPathComponent("serve.log"))
        defer { server.terminate() }
        let base = "http://127.0.0.1:\(port)"
        try await HabarProcess.waitForHealth(URL(string: base + "/health")!)
        let shots = Fixtures.repositoryRoot.appendingPathComponent(".build/console-screenshots")
        try FileManager.default.createDirectory(at: shots, withIntermediateDirectories: true)
        let script = Fixtures.repositoryRoot.appendingPathComponent("Tests/HabarCLITests/Browser/console_flow.py").path
        let run = try await ExternalProcess.run(
            "/usr/bin/env", ["python3", script, base, "Айгерим", password, shots.path] + (javascript ? [] : ["--no-js"]), in: Fixtures.repositoryRoot,
            timeout: 120)
        try #require(run.status == 0, "the browser run failed: \(run.stdout)\n\(run.stderr)")
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect((seen["failure"] as? String) == "Неверное имя пользователя, пароль или код.")
        #expect((seen["heading"] as? String) == "Обстановка")
        #expect((seen["who"] as? String) == "Айгерим (оператор)")
        #expect((seen["kazakhHeading"] as? String) == "Ахуал")
        #expect((seen["advisories"] as? [String]) == ["advisory-1"])
        #expect((seen["delivered"] as? [String]) == ["3"], "the dashboard reached every delivery: \(seen)")
        #expect((seen["percent"] as? [String]) == ["100%"])
        #expect((seen["advisoryState"] as? [String]) == ["отправлено"])
        #expect(Set(seen["encodings"] as? [String] ?? []) == ["UCS-2"], "Cyrillic in every language's text (the parameter is Russian): \(seen)")
        #expect((seen["afterSignOutDashboard"] as? String)?.hasSuffix("/console/login") == true)
        let cookies = seen["cookies"] as? [[String: Any]] ?? []
        let session = cookies.first { $0["name"] as? String == "habar_session" }
        #expect(session?["httpOnly"] as? Bool == true && session?["sameSite"] as? String == "Strict", "\(cookies)")
        if javascript { #expect((seen["tabletScrollWidth"] as? Int ?? 9999) <= 768, "the sign-in page fits a 768 px tablet") }
        for name in ["console-login", "console-dashboard", "console-advisory", "console-login-tablet"] {
            let file = shots.appendingPathComponent(name + (javascript ? "" : "-nojs") + ".png")
            let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
            #expect(size > 5_000, "\(file.lastPathComponent) was saved")
        }
    }
}
