import Hummingbird

/// Counts every answered request by route and status, errors included. Paths that are no
/// route are counted as `unmatched`, so the label set stays bounded.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    let routes: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let route = routes.contains(request.uri.path) ? request.uri.path : "unmatched"
        do {
            let response = try await next(request, context)
            metrics.recordRequest(route: route, status: response.status.code)
            return response
        } catch let error as HTTPResponseError {
            metrics.recordRequest(route: route, status: error.status.code)
            throw error
        } catch {
            metrics.recordRequest(route: route, status: 500)
            throw error
        }
    }
}
