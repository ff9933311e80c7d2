import Synchronization

/// Runs `body`, cancelling it when `limit` passes first; then `timeout` is thrown. What
/// `body` throws first is rethrown. Used for whole storage operations (retries included), TTS
/// requests and by the server for request bodies.
///
/// The answer comes at the limit even when `body` is slow to notice its cancellation (an
/// HTTP request waiting on a silent peer was seen to run on to its 30 s read timeout): `body`
/// runs in a task of its own, is cancelled, and is not waited for. Cancelling the caller
/// cancels `body` too and throws `CancellationError` at once.
public func withTimeLimit<T: Sendable>(
    _ limit: Duration, timeout: any Error,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = TimeLimitRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.start(continuation, limit: limit, timeout: timeout, body: body)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The first of `body`'s result, the limit and the caller's cancellation resumes the caller;
/// the others find the race decided and only cancel what still runs.
private final class TimeLimitRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var decided: Result<T, any Error>?
        var tasks: [Task<Void, Never>] = []
    }
    private let state = Mutex(State())

    func start(
        _ continuation: CheckedContinuation<T, any Error>, limit: Duration, timeout: any Error,
        body: @escaping @Sendable () async throws -> T
    ) {
        let early = state.withLock { state -> Result<T, any Error>? in
            if state.decided == nil { state.continuation = continuation }
            return state.decided  // cancelled before it started
        }
        if let early {
            continuation.resume(with: early)
            return
        }
        let work = Task {
            do {
                self.finish(.success(try await body()))
            } catch {
                self.finish(.failure(error))
            }
        }
        let timer = Task {
            guard (try? await Task.sleep(for: limit)) != nil else { return }  // cancelled: the race is over
            self.finish(.failure(timeout))
        }
        let over = state.withLock { state -> Bool in
            state.tasks = [work, timer]
            return state.decided != nil
        }
        if over { cancelAll() }
    }

    /// Decides the race (the first call wins) and cancels what still runs.
    func finish(_ result: Result<T, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard state.decided == nil else { return nil }
            state.decided = result
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
        cancelAll()
    }

    private func cancelAll() {
        for task in state.withLock({ $0.tasks }) { task.cancel() }
    }
}
