/// Runs `body`, cancelling it when `limit` passes first; then `timeout` is thrown. What
/// `body` throws first is rethrown. Used for whole storage operations (retries included) and
/// by the server for request bodies.
public func withTimeLimit<T: Sendable>(
    _ limit: Duration, timeout: any Error,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard case let value?? = try await group.next() else { throw timeout }
        return value
    }
}
