import Foundation
import TestFixtures
import Testing

/// A full disk is reported as such, naming the side that is full, and leaves nothing
/// partial behind. A real full filesystem: a small tmpfs mounted in a private mount
/// namespace (`unshare -rm`, no root needed where user namespaces are allowed).
@Suite(.enabled(if: PrivateMount.canMountTmpfs, "unshare -rm cannot mount a tmpfs here"))
struct DiskFullTests {

    static var fixtures: String {
        TestFixtures.root
    }

    /// Runs `lipsync generate` with `full` mounted as a 256 KiB tmpfs that is filled up first;
    /// prints the tmpfs's listing after the command (to check for leftovers).
    func generateWithFullFolder(_ full: String, output: String, temporary: String) throws -> (
        status: Int32, standardError: String, listing: String
    ) {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lipsync").path
        let script = """
            mount -t tmpfs -o size=256k tmpfs "$FULL" || exit 99
            head -c 1048576 /dev/zero > "$FULL/filler" 2>/dev/null
            TEMP_DIR="$TEMPDIR_FOR_JOB" "$LIPSYNC" generate --video "$PHOTO" --text "hello there" --lang en \\
                --models "$MODELS" --out "$OUT" --log-level error
            status=$?
            echo "--listing--"; ls -A "$FULL"
            exit $status
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["-rm", "sh", "-c", script]
        process.environment = ProcessInfo.processInfo.environment.merging([
            "FULL": full, "TEMPDIR_FOR_JOB": temporary, "LIPSYNC": binary, "PHOTO": Self.fixtures + "/faces/astronaut.png",
            "MODELS": Self.fixtures + "/models", "OUT": output,
        ]) { _, new in new }
        let out = Pipe()
        let error = Pipe()
        process.standardOutput = out
        process.standardError = error
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let listing = String(decoding: outData, as: UTF8.self).components(separatedBy: "--listing--").last ?? ""
        return (process.terminationStatus, String(decoding: errData, as: UTF8.self), listing)
    }

    func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("diskfull-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path + "/full", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path + "/roomy", withIntermediateDirectories: true)
        return path
    }

    @Test func fullTemporaryFolderIsNamed() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = try generateWithFullFolder(root + "/full", output: root + "/roomy/out.mp4", temporary: root + "/full")
        #expect(result.status == 1, "\(result.standardError)")
        #expect(
            result.standardError.contains("no space left on the device holding the server's temporary folder (TEMP_DIR)"),
            "\(result.standardError)")
        // Only the filler (and this process's lock file): the workspace went with the failure.
        #expect(result.listing.split(separator: "\n").allSatisfy { $0 == "filler" || $0.hasSuffix(".lock") }, "\(result.listing)")
        #expect(!FileManager.default.fileExists(atPath: root + "/roomy/out.mp4"))
    }

    @Test func fullOutputFolderIsNamedAndLeftClean() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = try generateWithFullFolder(root + "/full", output: root + "/full/out.mp4", temporary: root + "/roomy")
        #expect(result.status == 1, "\(result.standardError)")
        #expect(
            result.standardError.contains("no space left on the device holding the output folder \(root)/full"), "\(result.standardError)")
        #expect(result.listing.split(separator: "\n") == ["filler"], "\(result.listing)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/roomy").filter { !$0.hasSuffix(".lock") } == [])
    }
}

/// Whether this machine lets an unprivileged process mount a tmpfs in its own namespace.
enum PrivateMount {
    static let canMountTmpfs: Bool = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        probe.arguments = ["-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && test -w /mnt"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }()
}
