import CDispatch
import CoreFoundation
import Foundation
import Glibc

/// Files on this machine, confined to configured root directories: a path is accepted only
/// when its real location (after `..` and every symlink are resolved) lies inside a root.
/// Outputs are written to a temporary name beside the destination and renamed into place, so
/// a failed or cancelled write never leaves a partial file under the destination's name.
public struct LocalStore: Sendable {
    /// Real paths of the roots (symlinks resolved once, at construction).
    public let roots: [String]
    public let maxInputBytes: Int64

    public init(roots: [String], maxInputBytes: Int64 = 2 << 30) {
        self.roots = roots.map { Self.realPath(Self.absolute($0)) ?? Self.absolute($0) }
        self.maxInputBytes = maxInputBytes
    }

    /// The real path of an existing, readable regular file inside the roots.
    public func resolveInput(_ path: String) throws(StorageError) -> String {
        let absolute = Self.absolute(path)
        guard let real = Self.realPath(absolute) else {
            // A path whose real parent is outside the roots is refused as such, not as missing.
            if let parent = Self.realPath((absolute as NSString).deletingLastPathComponent), !contains(parent) {
                throw .outsideRoots(path)
            }
            throw .notFound(path)
        }
        guard contains(real) else { throw .outsideRoots(path) }
        var info = stat()
        guard stat(real, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw .invalidURI(path, reason: "it is not a regular file")
        }
        guard access(real, R_OK) == 0 else { throw .permissionDenied(path, reason: "the file is not readable") }
        guard Int64(info.st_size) <= maxInputBytes else { throw .tooLarge(path, limit: maxInputBytes) }
        return real
    }

    /// The real destination path for an output inside the roots (its folder must exist; an
    /// existing symlink at the destination is refused rather than followed).
    public func resolveOutput(_ path: String) throws(StorageError) -> String {
        let absolute = Self.absolute(path)
        let name = (absolute as NSString).lastPathComponent
        guard !name.isEmpty, name != ".", name != "..", !absolute.hasSuffix("/") else {
            throw .invalidURI(path, reason: "it names a folder, not a file")
        }
        guard let folder = Self.realPath((absolute as NSString).deletingLastPathComponent) else {
            throw .notFound((absolute as NSString).deletingLastPathComponent)
        }
        guard contains(folder) else { throw .outsideRoots(path) }
        let destination = folder + "/" + name
        var info = stat()
        if lstat(destination, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFREG else { throw .outsideRoots(path) }
        }
        guard access(folder, W_OK) == 0 else { throw .permissionDenied(path, reason: "the folder is not writable") }
        return destination
    }

    /// Copies `file` to `path` (inside the roots) through a temporary name and an atomic rename.
    public func write(_ file: String, to path: String) throws(StorageError) {
        let destination = try resolveOutput(path)
        let folder = (destination as NSString).deletingLastPathComponent
        // Independent of the name's length, so any name the filesystem takes can be written.
        let temporary = folder + "/.lipsync-partial-" + UUID().uuidString
        do {
            try FileManager.default.copyItem(atPath: file, toPath: temporary)
            guard rename(temporary, destination) == 0 else {
                throw StorageError.permissionDenied(path, reason: String(cString: strerror(errno)))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            if let storage = error as? StorageError { throw storage }
            if StorageError.isOutOfSpace(error) { throw .noSpace("the output folder \(folder)") }
            throw .permissionDenied(path, reason: "could not write: \(error.localizedDescription)")
        }
    }

    func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    public func exists(_ path: String) -> Bool {
        (try? resolveInput(path)) != nil
    }

    func contains(_ real: String) -> Bool {
        roots.contains { root in root == "/" || real == root || real.hasPrefix(root + "/") }
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// realpath(3): nil when the path does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
