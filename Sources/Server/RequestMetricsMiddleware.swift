import Hummingbird
import Media

/// Counts every answered request by route and status, errors included, and times it (until
/// the response is handed over; the body of a job's answer is small). Paths that are no
/// route are counted as `unmatched`, so the label set stays bounded.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    let routes: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let route = routes.contains(request.uri.path) ? request.uri.path : "unmatched"
        let started = ContinuousClock.now
        func record(_ status: Int) { metrics.recordRequest(route: route, status: status, seconds: (ContinuousClock.now - started).seconds) }
        do {
            let response = try await next(request, context)
            record(response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            record(error.status.code)
            throw error
        } catch {
            record(500)
            throw error
        }
    }
}
