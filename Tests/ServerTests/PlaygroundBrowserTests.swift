import AsyncHTTPClient
import Foundation
import JobQueue
import NIOCore
import NIOFoundationCompat
import StorageTestSupport
import Synchronization
import TestFixtures
import Testing

@testable import Server

/// The playground in a real browser: Debian's Chromium, headless, driven through
/// chromedriver's W3C WebDriver protocol (JSON over HTTP, spoken here directly), against a
/// live server with the tiny models. Screenshots of each state go to
/// `.build/test-artifacts/playground/`.
@Suite(.serialized) struct PlaygroundBrowserTests {
    static let artifacts = URL(fileURLWithPath: TestFixtures.root).deletingLastPathComponent()
        .appendingPathComponent(".build/test-artifacts/playground").path

    /// A chromedriver process and one browser session.
    final class Browser: @unchecked Sendable {
        let driver = Process()
        let base: String
        var session = ""

        init() async throws {
            let port = try PostgresServer.freePort()
            base = "http://127.0.0.1:\(port)"
            let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first {
                FileManager.default.isExecutableFile(atPath: $0)
            }
            driver.executableURL = URL(
                fileURLWithPath: try #require(binary, "chromedriver is not installed (make setup installs chromium-driver)"))
            driver.arguments = ["--port=\(port)"]
            driver.standardOutput = FileHandle.nullDevice
            driver.standardError = FileHandle.nullDevice
            try driver.run()
            for _ in 0..<200 {
                if (try? await call("GET", "/status")) != nil { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let capabilities: [String: Any] = [
                "capabilities": [
                    "alwaysMatch": [
                        "browserName": "chrome",
                        "goog:chromeOptions": [
                            "binary": "/usr/bin/chromium",
                            "args": [
                                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1100",
                            ],
                        ],
                    ]
                ]
            ]
            let created = try await call("POST", "/session", capabilities)
            session = try #require((created as? [String: Any])?["sessionId"] as? String, "\(String(describing: created))")
        }

        /// One WebDriver command: its `value`.
        @discardableResult
        func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
            var request = HTTPClientRequest(url: base + path)
            request.method = .RAW(value: method)
            request.headers.add(name: "Content-Type", value: "application/json")
            if let body { request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body))) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            let data = Data(buffer: try await response.body.collect(upTo: 32 << 20))
            let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            guard response.status.code == 200 else {
                throw Failure("WebDriver \(method) \(path): \(response.status.code) \(String(decoding: data.prefix(500), as: UTF8.self))")
            }
            return json?["value"]
        }

        func command(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
            try await call(method, "/session/\(session)" + path, body)
        }

        func open(_ url: String) async throws { try await command("POST", "/url", ["url": url]) }

        func element(_ css: String) async throws -> String {
            let found = try await command("POST", "/element", ["using": "css selector", "value": css]) as? [String: Any]
            return try #require(found?.values.first as? String, "no element \(css)")
        }

        func type(_ css: String, _ text: String) async throws {
            let id = try await element(css)
            try await command("POST", "/element/\(id)/value", ["text": text])
        }

        func click(_ css: String) async throws {
            try await command("POST", "/element/\(try await element(css))/click", [:])
        }

        func script(_ source: String) async throws -> Any? {
            try await command("POST", "/execute/sync", ["script": source, "args": [Any]()])
        }

        /// Polls `source` (a script returning a value) until `condition` holds, within `seconds`.
        func waitFor(_ what: String, seconds: Int = 60, _ source: String, _ condition: (Any?) -> Bool) async throws -> Any? {
            let deadline = ContinuousClock.now + .seconds(seconds)
            var last: Any?
            while ContinuousClock.now < deadline {
                last = try await script(source)
                if condition(last) { return last }
                try await Task.sleep(for: .milliseconds(100))
            }
            Issue.record("\(what): not within \(seconds) s (last: \(String(describing: last)))")
            return last
        }

        func screenshot(_ name: String) async throws {
            let base64 = try #require(try await command("GET", "/screenshot") as? String)
            try FileManager.default.createDirectory(atPath: PlaygroundBrowserTests.artifacts, withIntermediateDirectories: true)
            try Data(base64Encoded: base64)?.write(to: URL(fileURLWithPath: "\(PlaygroundBrowserTests.artifacts)/\(name).png"))
        }

        func resize(width: Int, height: Int) async throws {
            try await command("POST", "/window/rect", ["width": width, "height": height])
        }

        func close() async {
            guard !closed.withLock({ $0 }) else { return }
            closed.withLock { $0 = true }
            _ = try? await open("about:blank")
            _ = try? await command("DELETE", "")
            TestFixtures.stop(pid: driver.processIdentifier, grace: .milliseconds(500))  // chromedriver was seen to ignore SIGTERM
        }

        private let closed = Mutex(false)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static func text(_ css: String) -> String { "return document.querySelector('\(css)').textContent" }

    @Test func aPersonMakesAVideoAndSeesErrorsWhereTheyBelong() async throws {
        let store = JobStore(database: try SQLiteDatabase(path: NSTemporaryDirectory() + "playground-\(UUID().uuidString)/jobs.sqlite"))
        try await store.migrate()
        let browser = try await Browser()
        do {
            try await AsyncJobsTests().withJobServer(store: store, playground: true) { context in
                let page = "http://127.0.0.1:\(context.port)/"
                try await browser.open(page)
                // The form is built from the server's capabilities, and the stand-in warning shows.
                _ = try await browser.waitFor("languages listed", "return document.getElementById('tts_lang').options.length") {
                    ($0 as? Int ?? 0) > 10
                }
                #expect(try await browser.script("return document.getElementById('standin-warning').hidden") as? Bool == false)
                try await browser.screenshot("desktop-form")

                // Upload the test photo, type a phrase, submit, watch progress, get a playable video.
                try await browser.type("#file", TestFixtures.root + "/faces/astronaut.png")
                try await browser.type("#word", "hello there, this is my own face speaking")
                _ = try await browser.script("document.getElementById('tts_lang').value = 'en'")
                try await browser.click("#submit")
                var fractions: [Double] = []
                _ = try await browser.waitFor("the job to finish", seconds: 120, "return document.getElementById('progress').value") {
                    fractions.append($0 as? Double ?? 0)
                    return fractions.last == 1
                }
                #expect(fractions == fractions.sorted() && Set(fractions).count >= 2, "progress \(fractions)")
                try await browser.screenshot("desktop-progress")
                let video = try await browser.waitFor(
                    "a playable video", "const v = document.getElementById('result'); return [v.readyState, v.duration || 0]"
                ) { (($0 as? [Any])?.first as? Int ?? 0) >= 1 && (($0 as? [Any])?.last as? Double ?? 0) > 0 }
                #expect(((video as? [Any])?.last as? Double ?? 0) > 0.2)
                let steps = try await browser.script("return document.querySelectorAll('#steps li.done').length") as? Int ?? 0
                #expect(steps >= 3)
                let bars = try await browser.script("return document.querySelectorAll('#timings .row').length") as? Int ?? 0
                #expect(bars >= 5)
                _ = try await browser.script("document.getElementById('progress-panel').scrollIntoView()")
                try await browser.screenshot("desktop-result")
                try await browser.resize(width: 360, height: 1400)
                _ = try await browser.script("document.getElementById('result-panel').scrollIntoView()")
                try await browser.screenshot("phone-result")
                let overflow = try await browser.script("return document.documentElement.scrollWidth <= window.innerWidth")
                #expect(overflow as? Bool == true, "the page scrolls sideways at 360 px")
                try await browser.resize(width: 1280, height: 1100)

                // An empty phrase: the API's message, next to the phrase.
                try await browser.open(page)
                _ = try await browser.waitFor("languages listed", "return document.getElementById('tts_lang').options.length") {
                    ($0 as? Int ?? 0) > 10
                }
                try await browser.type("#file", TestFixtures.root + "/faces/astronaut.png")
                try await browser.click("#submit")
                let wordError = try await browser.waitFor("the phrase's error", Self.text("#word-error")) { !($0 as? String ?? "").isEmpty }
                let (_, refused, _) = try await AsyncJobsTests.call(
                    context.port, .POST, "/api/v2/jobs", body: AsyncJobsTests.job(output: context.directory + "/x.mp4", word: ""))
                let apiMessage = (refused["error"] as? [String: Any])?["message"] as? String
                #expect(wordError as? String == apiMessage)
                try await browser.screenshot("desktop-empty-phrase")

                // A file that is no video: the API's message, next to the file field.
                let text = context.directory + "/notes.txt"
                try Data("not a video".utf8).write(to: URL(fileURLWithPath: text))
                try await browser.open(page)
                try await browser.type("#file", text)
                try await browser.type("#word", "hello")
                try await browser.click("#submit")
                let fileError = try await browser.waitFor("the file's error", Self.text("#file-error")) { !($0 as? String ?? "").isEmpty }
                #expect((fileError as? String ?? "").contains("not a video or photo"))
                try await browser.screenshot("desktop-unsupported-file")
                // No file at all: the upload's message, next to the file field.
                try await browser.open(page)
                try await browser.type("#word", "hello")
                try await browser.click("#submit")
                let noFile = try await browser.waitFor("the missing file's error", Self.text("#file-error")) {
                    !($0 as? String ?? "").isEmpty
                }
                #expect((noFile as? String ?? "").contains("no part named 'file'"), "\(String(describing: noFile))")

                // The browser goes before the server stops (its keep-alive connections would hold the server).
                await browser.close()
            }
        } catch {
            await browser.close()
            throw error
        }
        await browser.close()
        await store.database.close()
    }
}
