import Foundation

/// Exponential backoff with full jitter (delay drawn uniformly from 0…min(cap, base·2^attempt)),
/// as Google recommends for Cloud Storage. Only operations the caller marks retryable are
/// repeated; cancellation stops the waiting at once.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(16)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The jittered delay before retry number `attempt` (0-based), at least `floor` (a server's Retry-After).
    public func delay(attempt: Int, floor: Duration = .zero) -> Duration {
        let ceiling = min(maxDelay, baseDelay * (1 << min(attempt, 30)))
        let seconds = Double(ceiling.components.seconds) + Double(ceiling.components.attoseconds) / 1e18
        return max(floor, .seconds(Double.random(in: 0...max(seconds, 0))))
    }

    /// Runs `operation` until it succeeds, throws an error `retryable` refuses, or attempts run
    /// out (then the last error is thrown). `retryable` may return a minimum wait (Retry-After).
    public func run<T: Sendable>(
        retryable: @Sendable (any Error) -> Duration?,
        onRetry: @Sendable (any Error, Int, Duration) -> Void = { _, _, _ in },
        _ operation: @Sendable (_ attempt: Int) async throws -> T
    ) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await operation(attempt)
            } catch {
                if error is CancellationError { throw error }
                guard attempt + 1 < maxAttempts, let floor = retryable(error) else { throw error }
                let wait = delay(attempt: attempt, floor: floor)
                onRetry(error, attempt + 1, wait)
                try await Task.sleep(for: wait)
                attempt += 1
            }
        }
    }
}
