import Foundation
public import HTTPTypes
public import Hummingbird
import NIOCore
import NIOFoundationCompat

/// The JSON error body every failure gets: `{"error": {"code", "message", "field"?}, "request_id"}`.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public let field: String?
    public var requestID: String?
    public var retryAfterSeconds: Int?
    /// Adds `Connection: close` (the job routes close their connection after answering).
    public var closesConnection = false

    public init(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retryAfterSeconds = retryAfterSeconds
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(ErrorBody(error: .init(code: code, message: message, field: field), requestId: requestID))
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfterSeconds { headers[.retryAfter] = "\(retryAfterSeconds)" }
        if let requestID { headers[HTTPField.Name("X-Request-Id")!] = requestID }
        if closesConnection { headers[.connection] = "close" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}

extension HTTPResponse.Status {
    /// 507 (RFC 4918): the server cannot store what the request needs. HTTPTypes has no constant for it.
    static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
}
