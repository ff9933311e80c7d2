import Foundation
import Resilience
import StorageTestSupport
import Synchronization
import Testing

@testable import Storage

/// Cloud Storage client against a real emulator (and a fault-injecting proxy in front of it).
@Suite(.serialized) struct GoogleCloudStoreTests {
    let bucket = GCSEmulator.bucket

    @Test func uploadsAndDownloadsUnicodeObjectNames() async throws {
        let emulator = try await GCSEmulator()
        let store = emulator.store()
        let file = try temporaryFile(bytes: 123_457)
        let object = "clips/한국어 영상 ✓ #1?.mp4"
        try await store.upload(file, bucket: bucket, object: object, contentType: "video/mp4")

        let metadata = try #require(try await store.metadata(bucket: bucket, object: object))
        #expect(metadata.name == object)
        #expect(metadata.contentType == "video/mp4")
        #expect(metadata.size == "123457")

        let copy = file + ".down"
        defer {
            try? FileManager.default.removeItem(atPath: copy)
            try? FileManager.default.removeItem(atPath: file)
        }
        try await store.download(bucket: bucket, object: object, to: copy)
        #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: file))
        // The slash is part of the name: "clips" alone is no object.
        #expect(try await store.metadata(bucket: bucket, object: "clips") == nil)
    }

    @Test func overwritingAnExistingObjectUsesItsGeneration() async throws {
        let emulator = try await GCSEmulator()
        let store = emulator.store()
        let first = try temporaryFile(bytes: 1000, seed: 1)
        let second = try temporaryFile(bytes: 2000, seed: 2)
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        try await store.upload(first, bucket: bucket, object: "out.mp4", contentType: "video/mp4")
        try await store.upload(second, bucket: bucket, object: "out.mp4", contentType: "video/mp4")
        #expect(try await store.metadata(bucket: bucket, object: "out.mp4")?.size == "2000")
    }

    @Test func missingObjectIsAClearNotFound() async throws {
        let emulator = try await GCSEmulator()
        let store = emulator.store()
        await #expect(throws: StorageError.notFound("gs://\(bucket)/no/such.mp4")) {
            try await store.download(bucket: bucket, object: "no/such.mp4", to: NSTemporaryDirectory() + "/never-\(UUID())")
        }
        let error = StorageError.notFound("gs://\(bucket)/no/such.mp4")
        #expect(error.description == "object not found: gs://\(bucket)/no/such.mp4")
        #expect(error.kind == .notFound)
    }

    @Test func resumableUploadSurvivesLostAnswersAndFailedChunks() async throws {
        let emulator = try await GCSEmulator()
        let file = try temporaryFile(bytes: 700_000, seed: 7)
        defer { try? FileManager.default.removeItem(atPath: file) }
        // PUT 1: chunk 0 fine. PUT 2: chunk 1 stored but its answer lost. PUT 3: status query.
        // PUT 4: chunk 2 refused before it arrives. PUT 5: status query. PUT 6: chunk 2 again.
        let proxy = FaultyProxy(upstream: emulator.endpoint, faults: ["PUT": [2: .failAfterForwarding, 4: .failBeforeForwarding]])
        try await proxy.run { endpoint in
            let settings = GoogleCloudStore.Settings(resumableThreshold: 256 << 10, chunkSize: 256 << 10, retry: .fast)
            let store = emulator.store(settings: settings, endpoint: endpoint)
            try await store.upload(file, bucket: bucket, object: "big/résumé.mp4", contentType: "video/mp4")
        }
        let puts = proxy.seen.withLock { $0.filter { $0.method == "PUT" }.map { $0.contentRange ?? "" } }
        #expect(
            puts == [
                "bytes 0-262143/700000", "bytes 262144-524287/700000", "bytes */700000",
                "bytes 524288-699999/700000", "bytes */700000", "bytes 524288-699999/700000",
            ])
        let copy = file + ".down"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try await emulator.store().download(bucket: bucket, object: "big/résumé.mp4", to: copy)
        #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: file))
        #expect(try await emulator.store().metadata(bucket: bucket, object: "big/résumé.mp4")?.contentType == "video/mp4")
    }

    @Test func downloadRetriesAnInjected503() async throws {
        let emulator = try await GCSEmulator()
        let file = try temporaryFile(bytes: 5000)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await emulator.store().upload(file, bucket: bucket, object: "in.mp4", contentType: "video/mp4")
        let proxy = FaultyProxy(upstream: emulator.endpoint, faults: ["GET": [1: .failBeforeForwarding, 2: .failAfterForwarding]])
        let copy = file + ".down"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try await proxy.run { endpoint in
            try await emulator.store(settings: .init(retry: .fast), endpoint: endpoint).download(bucket: bucket, object: "in.mp4", to: copy)
        }
        #expect(proxy.count("GET") == 3)
        #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: file))
    }

    @Test func downloadRetriesAConnectionLostMidBody() async throws {
        let emulator = try await GCSEmulator()
        let file = try temporaryFile(bytes: 200_000, seed: 3)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await emulator.store().upload(file, bucket: bucket, object: "cut.mp4", contentType: "video/mp4")
        let proxy = FaultyProxy(upstream: emulator.endpoint, faults: ["GET": [1: .cutBodyHalfway]])
        let copy = file + ".down"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try await proxy.run { endpoint in
            try await emulator.store(settings: .init(retry: .fast), endpoint: endpoint).download(
                bucket: bucket, object: "cut.mp4", to: copy)
        }
        #expect(proxy.count("GET") == 2)  // the cut answer, then a whole one
        #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: file))
    }

    @Test func persistentFailureEndsWithTheLastStatus() async throws {
        let emulator = try await GCSEmulator()
        let proxy = FaultyProxy(
            upstream: emulator.endpoint,
            faults: ["GET": [1: .failBeforeForwarding, 2: .failBeforeForwarding, 3: .failBeforeForwarding, 4: .failBeforeForwarding]])
        try await proxy.run { endpoint in
            await #expect(throws: StorageError.upstream("gs://\(bucket)/in.mp4", status: 503, message: "injected failure")) {
                try await emulator.store(settings: .init(retry: .fast), endpoint: endpoint).download(
                    bucket: bucket, object: "in.mp4", to: NSTemporaryDirectory() + "/x-\(UUID())")
            }
        }
        #expect(proxy.count("GET") == RetryPolicy.fast.maxAttempts)
    }

    @Test func downloadOverTheSizeLimitIsRefused() async throws {
        let emulator = try await GCSEmulator()
        let file = try temporaryFile(bytes: 10_000)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await emulator.store().upload(file, bucket: bucket, object: "large.mp4", contentType: "video/mp4")
        await #expect(throws: StorageError.tooLarge("gs://\(bucket)/large.mp4", limit: 4096)) {
            try await emulator.store(settings: .init(maxInputBytes: 4096)).download(bucket: bucket, object: "large.mp4", to: file + ".down")
        }
        try? FileManager.default.removeItem(atPath: file + ".down")
    }

    @Test func serviceReadsAndWritesGCSThroughAWorkspace() async throws {
        let emulator = try await GCSEmulator()
        let root = NSTemporaryDirectory() + "storage-root-\(UUID())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let service = StorageService(local: LocalStore(roots: [root]), gcs: emulator.store(), https: nil)
        let file = try temporaryFile(bytes: 3000)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let target = try StorageURI(parsing: "gs://\(bucket)/users/7/out put.mp4")
        try await service.write(file, to: target, contentType: "video/mp4")
        #expect(try await service.exists(target))
        var workspaceFolder = ""
        let size = try await RequestWorkspace.with(in: root, label: "req-1") { workspace in
            workspaceFolder = workspace.directory
            let local = try await service.read(target, into: workspace)
            #expect(local.hasPrefix(workspace.directory + "/"))
            #expect(local.hasSuffix(".mp4"))
            return FileManager.default.contents(atPath: local)?.count
        }
        #expect(size == 3000)
        #expect(!FileManager.default.fileExists(atPath: workspaceFolder))

        let unconfigured = StorageService(local: LocalStore(roots: [root]), gcs: nil, gcsUnavailable: "no credentials found", https: nil)
        #expect(throws: StorageError.noCredentials(reason: "no credentials found")) { try unconfigured.checkOutput(target) }
    }
}
