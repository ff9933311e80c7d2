import Hummingbird
import Media

/// Counts every answered request by route and status, errors included, and times it (until
/// the response is handed over; the body of a job's answer is small). Paths that are no
/// route are counted as `unmatched`, so the label set stays bounded.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    let routes: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let route = Self.route(of: request.uri.path, in: routes)
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

    /// The route label of `path`: itself when it is a route, the pattern for a job's paths
    /// (`/api/v2/jobs/{id}`, `…/events`), else `unmatched`.
    static func route(of path: String, in routes: Set<String>) -> String {
        if routes.contains(path) { return path }
        if path.hasPrefix("/playground/") { return routes.contains("/playground/{file}") ? "/playground/{file}" : "unmatched" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[0].isEmpty, parts[1] == "api", parts[2] == "v2", parts[3] == "jobs", !parts[4].isEmpty
        else { return "unmatched" }
        let pattern = (["", "api", "v2", "jobs", "{id}"] + parts.dropFirst(5).map(String.init)).joined(separator: "/")
        return routes.contains(pattern) ? pattern : "unmatched"
    }
}
