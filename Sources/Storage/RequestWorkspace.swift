import Foundation
import Synchronization

/// One request's temporary folder: inputs are downloaded and outputs rendered here, and the
/// whole folder is removed when the request ends — on success, on failure and on cancellation.
public struct RequestWorkspace: Sendable {
    public let directory: String

    /// Creates `<base>/lipsync-<pid>-<label>-<random>` (mode 0700). The process holds the
    /// base's lock file `lipsync-<pid>.lock` first, for as long as it runs, so that
    /// `sweepStale` can tell its workspaces from those of a process that died.
    public static func create(in base: String, label: String) throws -> RequestWorkspace {
        try holdLock(in: base)
        let safe = String(label.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "-" }.prefix(40))
        let name = "lipsync-\(getpid())-\(safe.isEmpty ? "job" : safe)-\(UUID().uuidString.prefix(8))"
        let directory = (base as NSString).appendingPathComponent(name)
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StorageError.permissionDenied(base, reason: "cannot create a temporary folder: \(error.localizedDescription)")
        }
        return RequestWorkspace(directory: directory)
    }

    /// Runs `body` with a fresh workspace and removes it however `body` ends.
    public static func with<T: Sendable>(in base: String, label: String, _ body: (RequestWorkspace) async throws -> T) async throws -> T {
        let workspace = try create(in: base, label: label)
        defer { workspace.remove() }
        return try await body(workspace)
    }

    /// A path inside the workspace for `name` (its last path component only).
    public func path(_ name: String) -> String {
        let last = (name as NSString).lastPathComponent
        return (directory as NSString).appendingPathComponent(last.isEmpty || last == ".." ? "file" : last)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

// MARK: - Workspaces left behind

extension RequestWorkspace {
    /// The lock file descriptors this process holds, by base folder. Process-wide state
    /// because the lock it stands for is the process's own (flock locks die with it).
    private static let heldLocks = Mutex<[String: Int32]>([:])

    static func lockPath(in base: String, pid: Int32) -> String {
        (base as NSString).appendingPathComponent("lipsync-\(pid).lock")
    }

    /// Takes (once per base) an exclusive lock on `lipsync-<pid>.lock`, kept until exit.
    static func holdLock(in base: String) throws {
        try heldLocks.withLock { held in
            guard held[base] == nil else { return }
            try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
            let descriptor = open(lockPath(in: base, pid: getpid()), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0, flock(descriptor, LOCK_EX) == 0 else {
                if descriptor >= 0 { close(descriptor) }
                let reason = String(cString: strerror(errno))
                throw StorageError.permissionDenied(base, reason: "cannot create the workspace lock file: \(reason)")
            }
            held[base] = descriptor
        }
    }

    /// Removes the workspaces in `base` whose process is gone (killed with SIGKILL, out of
    /// memory, a crash): those whose `lipsync-<pid>.lock` is missing or no longer locked,
    /// and this process's own from before it started (a restarted container reuses pids).
    /// Workspaces of live processes sharing the folder are left alone. Returns the removed paths.
    @discardableResult
    public static func sweepStale(in base: String) throws -> [String] {
        try holdLock(in: base)
        let ownStart = processStartTime()
        var removed: [String] = []
        var verdicts: [Int32: Bool] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
            let parts = name.split(separator: "-", maxSplits: 2)
            guard parts.count == 3, parts[0] == "lipsync", let pid = Int32(parts[1]), pid > 0 else { continue }
            let path = (base as NSString).appendingPathComponent(name)
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid() else { continue }
            let stale: Bool
            if pid == getpid() {
                // Last changed over a second before this process began: a predecessor's.
                stale = ownStart.map { Double(info.st_mtim.tv_sec) + 1 < $0 } ?? false
            } else {
                if verdicts[pid] == nil { verdicts[pid] = isUnlocked(lockPath(in: base, pid: pid)) }
                stale = verdicts[pid] ?? false
            }
            if stale, (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        }
        return removed
    }

    /// Whether nobody holds the lock file (or it does not exist).
    private static func isUnlocked(_ path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return errno == ENOENT }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return false }
        flock(descriptor, LOCK_UN)
        return true
    }

    /// This process's start as seconds since 1970 (Linux /proc), nil where unknown.
    static func processStartTime() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")"),
            let boot = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?
                .split(separator: "\n").first(where: { $0.hasPrefix("btime ") })?.split(separator: " ").last.flatMap({ Double($0) })
        else { return nil }
        // Fields after the command name; starttime is field 22 of the whole line, the 20th here.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]) else { return nil }
        let hertz = Double(sysconf(Int32(_SC_CLK_TCK)))
        return boot + ticks / max(hertz, 1)
    }
}
