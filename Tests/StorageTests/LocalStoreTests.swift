import Foundation
import Testing

@testable import Storage

@Suite struct StorageURITests {
    @Test func parsesTheSchemes() throws {
        #expect(try StorageURI(parsing: "gs://my-bucket/a/b c/한.mp4") == .gcs(bucket: "my-bucket", object: "a/b c/한.mp4"))
        #expect(try StorageURI(parsing: "GS://my.bucket.example/x") == .gcs(bucket: "my.bucket.example", object: "x"))
        #expect(try StorageURI(parsing: "file:///srv/in%20put.mp4") == .local(path: "/srv/in put.mp4"))
        #expect(try StorageURI(parsing: "file://localhost/srv/a.mp4") == .local(path: "/srv/a.mp4"))
        #expect(try StorageURI(parsing: "/srv/a.mp4") == .local(path: "/srv/a.mp4"))
        #expect(try StorageURI(parsing: "clips/a.mp4") == .local(path: "clips/a.mp4"))
        #expect(
            try StorageURI(parsing: "https://cdn.example.com/v.mp4?sig=1") == .https(URL(string: "https://cdn.example.com/v.mp4?sig=1")!))
    }

    @Test(arguments: [
        ("", "it is empty"),
        ("gs://bucket", "no object name after the bucket"),
        ("gs://bucket/", "the object name is empty"),
        ("gs://Bucket/x", "'Bucket' is not a valid bucket name (3–63 lowercase letters, digits, '-', '_', '.')"),
        ("gs://ab/x", "'ab' is not a valid bucket name (3–63 lowercase letters, digits, '-', '_', '.')"),
        ("gs://-bucket/x", "'-bucket' is not a valid bucket name (3–63 lowercase letters, digits, '-', '_', '.')"),
        ("gs://bucket/..", "'..' is not a valid object name"),
        ("gs://bucket/a\nb", "it contains control characters"),
        ("file://evil.example.com/etc/passwd", "file:// URIs name no host other than localhost"),
        ("https://user:pw@example.com/v.mp4", "credentials in URLs are not accepted"),
    ])
    func malformedURIsAreRefused(_ text: String, _ reason: String) {
        #expect(throws: StorageError.invalidURI(text, reason: reason)) { try StorageURI(parsing: text) }
    }

    @Test func unknownSchemesAreNamed() {
        #expect(
            throws: StorageError.unsupportedURI("s3://bucket/x.mp4", reason: "scheme 's3' is not supported (use gs://, file:// or a path)")
        ) {
            try StorageURI(parsing: "s3://bucket/x.mp4")
        }
        #expect(throws: StorageError.invalidURI(String(repeating: "a", count: 5000), reason: "longer than 4096 bytes")) {
            try StorageURI(parsing: String(repeating: "a", count: 5000))
        }
        #expect(
            throws: StorageError.invalidURI(
                "gs://bucket/" + String(repeating: "é", count: 600), reason: "the object name is longer than 1024 bytes")
        ) {
            try StorageURI(parsing: "gs://bucket/" + String(repeating: "é", count: 600))
        }
    }
}

@Suite struct LocalStoreTests {
    /// <tmp>/ls-X/root (allowed) with in.mp4, and <tmp>/ls-X/secret.txt outside it.
    struct Layout {
        let base: String
        var root: String { base + "/root" }
        var secret: String { base + "/secret.txt" }

        init() throws {
            base = LocalStore.realPath(NSTemporaryDirectory())! + "/ls-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: base + "/root/sub", withIntermediateDirectories: true)
            try Data("video".utf8).write(to: URL(fileURLWithPath: base + "/root/in.mp4"))
            try Data("secret".utf8).write(to: URL(fileURLWithPath: base + "/secret.txt"))
        }

        func remove() { try? FileManager.default.removeItem(atPath: base) }
    }

    @Test func filesInsideTheRootsAreRead() throws {
        let layout = try Layout()
        defer { layout.remove() }
        let store = LocalStore(roots: [layout.root])
        #expect(try store.resolveInput(layout.root + "/in.mp4") == layout.root + "/in.mp4")
        #expect(try store.resolveInput(layout.root + "/sub/../in.mp4") == layout.root + "/in.mp4")
        #expect(try StorageURI(parsing: "file://" + layout.root + "/in.mp4") == .local(path: layout.root + "/in.mp4"))
    }

    @Test func traversalAndSymlinkEscapesAreRefused() throws {
        let layout = try Layout()
        defer { layout.remove() }
        let store = LocalStore(roots: [layout.root])
        #expect(throws: StorageError.outsideRoots(layout.root + "/../secret.txt")) {
            try store.resolveInput(layout.root + "/../secret.txt")
        }
        #expect(throws: StorageError.outsideRoots(layout.root + "/sub/../../secret.txt")) {
            try store.resolveInput(layout.root + "/sub/../../secret.txt")
        }
        // file:// with percent-encoded dots decodes to the same escape.
        guard case .local(let decoded) = try StorageURI(parsing: "file://" + layout.root + "/%2e%2e/secret.txt") else {
            Issue.record("not local")
            return
        }
        #expect(throws: StorageError.outsideRoots(decoded)) { try store.resolveInput(decoded) }
        // A symlink inside the root that points outside it.
        try FileManager.default.createSymbolicLink(atPath: layout.root + "/link.mp4", withDestinationPath: layout.secret)
        #expect(throws: StorageError.outsideRoots(layout.root + "/link.mp4")) { try store.resolveInput(layout.root + "/link.mp4") }
        try FileManager.default.createSymbolicLink(atPath: layout.root + "/out", withDestinationPath: layout.base)
        #expect(throws: StorageError.outsideRoots(layout.root + "/out/secret.txt")) {
            try store.resolveInput(layout.root + "/out/secret.txt")
        }
        #expect(throws: StorageError.outsideRoots(layout.root + "/out/new.mp4")) { try store.resolveOutput(layout.root + "/out/new.mp4") }
        #expect(throws: StorageError.outsideRoots(layout.root + "/link.mp4")) { try store.resolveOutput(layout.root + "/link.mp4") }
        #expect(throws: StorageError.outsideRoots("/etc/passwd")) { try store.resolveInput("/etc/passwd") }
    }

    @Test func missingFoldersAndNonFilesAreSpecific() throws {
        let layout = try Layout()
        defer { layout.remove() }
        let store = LocalStore(roots: [layout.root], maxInputBytes: 3)
        #expect(throws: StorageError.notFound(layout.root + "/nope.mp4")) { try store.resolveInput(layout.root + "/nope.mp4") }
        #expect(throws: StorageError.invalidURI(layout.root + "/sub", reason: "it is not a regular file")) {
            try store.resolveInput(layout.root + "/sub")
        }
        #expect(throws: StorageError.tooLarge(layout.root + "/in.mp4", limit: 3)) { try store.resolveInput(layout.root + "/in.mp4") }
        #expect(throws: StorageError.notFound(layout.root + "/no/such")) { try store.resolveOutput(layout.root + "/no/such/out.mp4") }
        #expect(throws: StorageError.invalidURI(layout.root + "/sub/", reason: "it names a folder, not a file")) {
            try store.resolveOutput(layout.root + "/sub/")
        }
    }

    @Test func writesAreAtomicAndLeaveNoTemporaryFiles() throws {
        let layout = try Layout()
        defer { layout.remove() }
        let store = LocalStore(roots: [layout.root])
        try store.write(layout.root + "/in.mp4", to: layout.root + "/sub/out.mp4")
        #expect(FileManager.default.contents(atPath: layout.root + "/sub/out.mp4") == Data("video".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: layout.root + "/sub") == ["out.mp4"])
        // A source that vanished: nothing appears under the destination's name.
        #expect(throws: StorageError.self) { try store.write(layout.base + "/gone.mp4", to: layout.root + "/sub/other.mp4") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: layout.root + "/sub") == ["out.mp4"])
    }
}

@Suite struct RequestWorkspaceTests {
    @Test func workspaceIsRemovedOnSuccessFailureAndCancellation() async throws {
        let base = NSTemporaryDirectory() + "ws-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let kept = try await RequestWorkspace.with(in: base, label: "ok") { workspace in
            try Data("x".utf8).write(to: URL(fileURLWithPath: workspace.path("a.mp4")))
            return workspace.directory
        }
        #expect(!FileManager.default.fileExists(atPath: kept))

        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await RequestWorkspace.with(in: base, label: "fail") { workspace in
                try Data("x".utf8).write(to: URL(fileURLWithPath: workspace.path("a.mp4")))
                throw Boom()
            }
        }
        let (written, wrote) = AsyncStream<Void>.makeStream()
        let task = Task {
            try await RequestWorkspace.with(in: base, label: "cancel") { workspace in
                try Data("x".utf8).write(to: URL(fileURLWithPath: workspace.path("../escape.mp4")))
                wrote.yield()
                try await Task.sleep(for: .seconds(30))
            }
        }
        for await _ in written { break }  // the file is written: now cancel
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(try FileManager.default.contentsOfDirectory(atPath: base).filter { !$0.hasSuffix(".lock") } == [])
    }
}
