public import Foundation

/// A real PostgreSQL server for the tests: Debian's binaries (`make setup` installs
/// postgresql-15), a throw-away data directory, loopback on a free port, started on first
/// use and stopped when the test process exits. PostgreSQL refuses to run as root, so as
/// root the server runs as `nobody`. Each test asks for a database of its own.
public final class PostgresServer: Sendable {
    public let port: Int
    public let folder: String
    let binaries: String

    /// The process's server (started once).
    public static let shared: Result<PostgresServer, any Error> = Result { try PostgresServer.start() }

    /// A new, empty database on the shared server: its `postgres://` URL. The server's start
    /// and psql run on a thread of their own, not on the tests' cooperative threads.
    public static func freshDatabase() async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result {
                        let server = try shared.get()
                        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
                        try server.psql("CREATE DATABASE \(name)")
                        return server.url(database: name)
                    })
            }
        }
    }

    public func url(database: String) -> String { "postgres://lipsync@127.0.0.1:\(port)/\(database)?sslmode=disable" }

    init(port: Int, folder: String, binaries: String) {
        self.port = port
        self.folder = folder
        self.binaries = binaries
    }

    static func start() throws -> PostgresServer {
        guard let binaries = findBinaries() else {
            throw Failure("PostgreSQL's server binaries were not found (/usr/lib/postgresql/*/bin; `make setup` installs postgresql-15)")
        }
        let folder = NSTemporaryDirectory() + "lipsync-pg-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let server = PostgresServer(port: try freePort(), folder: folder, binaries: binaries)
        if getuid() == 0 { _ = try TestFixtures.run("/bin/chown", ["-R", "nobody", folder]) }
        try server.tool("initdb", ["-D", folder + "/data", "-A", "trust", "-U", "lipsync", "-E", "UTF8", "--no-sync"])
        let options = "-p \(server.port) -h 127.0.0.1 -k \(folder) -F -c fsync=off -c max_connections=200"
        try server.tool("pg_ctl", ["-D", folder + "/data", "-o", options, "-l", folder + "/server.log", "-w", "-t", "60", "start"])
        Cleanup.register(server)
        return server
    }

    /// Stops the server at once and removes its folder.
    public func stop() {
        _ = try? tool("pg_ctl", ["-D", folder + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Runs `sql` in `database` with psql: its output, unaligned, without headers.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try tool(
            "psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "lipsync", "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
    }

    /// Runs one of PostgreSQL's programs (as `nobody` when this process is root).
    @discardableResult
    func tool(_ name: String, _ arguments: [String]) throws -> String {
        let path = binaries + "/" + name
        // Output goes to a file, not a pipe (the server pg_ctl starts would inherit a pipe and
        // keep it open), and the child is spawned and reaped here directly.
        let log = folder + "/\(name)-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let argv = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "nobody", "--", path] + arguments : [path] + arguments
        let status = try Self.spawn(argv, output: log)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard status == 0 else { throw Failure("\(name) \(arguments.joined(separator: " ")) failed (\(status)): \(output)") }
        return output
    }

    /// Runs `argv` to its end with standard output and error in the file `output`: its exit status.
    static func spawn(_ argv: [String], output: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw Failure("cannot start \(argv[0]): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    static func findBinaries() -> String? {
        if let given = ProcessInfo.processInfo.environment["LIPSYNC_PG_BIN"] { return given }
        let base = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        return versions.compactMap(Int.init).sorted().reversed().map { "\(base)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }
    }

    /// A port nothing listens on now (the kernel's pick for a socket bound to port 0).
    public static func freePort() throws -> Int {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw Failure("socket() failed") }
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socketFD, $0, length) == 0 && getsockname(socketFD, $0, &length) == 0
            }
        }
        guard bound else { throw Failure("bind() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

/// Stops the servers the tests started when the test process exits.
enum Cleanup {
    nonisolated(unsafe) static var servers: [PostgresServer] = []
    static let lock = NSLock()

    static func register(_ server: PostgresServer) {
        lock.lock()
        defer { lock.unlock() }
        if servers.isEmpty { atexit { Cleanup.stopAll() } }
        servers.append(server)
    }

    static func stopAll() {
        lock.lock()
        let all = servers
        servers = []
        lock.unlock()
        for server in all { server.stop() }
    }
}
