import FaceTracking
import Foundation
import HTTPTypes
import Hummingbird
import LipSync
import Logging
import Media
import NIOCore
import NIOFoundationCompat
import Pipeline
import Resilience
import Speech
import Storage
import UserFacingErrors
import VoiceConversion

/// How failures become answers: every error is an `APIError` with a JSON body.
extension LipSyncServer {
    /// What each enumerated request field accepts, as the API document lists it.
    static let acceptedValues: [String: String] = {
        typealias Request = Components.Schemas.LipVideoRequest
        func listing<T: CaseIterable & RawRepresentable>(_: T.Type) -> String where T.RawValue == String {
            JobOverrides.listing(T.allCases.map(\.rawValue))
        }
        return [
            "tracking": listing(Request.TrackingPayload.self), "composite": listing(Request.CompositePayload.self),
            "preset": "one of " + Request.PresetPayload.allCases.map(\.rawValue).joined(separator: ", "),
            "tts_engine": listing(Components.Schemas.TTSEngine.self), "voice_mode": listing(Components.Schemas.VoiceMode.self),
        ]
    }()

    static func describe(_ error: DecodingError) -> APIError {
        switch error {
        case .keyNotFound(let key, _):
            return APIError(
                .badRequest, code: "missing_field", message: "the field '\(key.stringValue)' is required", field: key.stringValue)
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            return APIError(.badRequest, code: "invalid_field", message: "the field '\(field)' has the wrong type", field: field)
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            // A value the document's enums do not list.
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            let accepted = acceptedValues[field].map { " must be " + $0 } ?? " has a value that is not accepted"
            return APIError(.badRequest, code: "invalid_field", message: field + accepted, field: field)
        case .dataCorrupted:
            return APIError(.badRequest, code: "invalid_json", message: "the body is not valid JSON")
        @unknown default:
            return APIError(.badRequest, code: "invalid_json", message: "the body cannot be read")
        }
    }

    /// The HTTP answer for any error: a `UserFacingError` says its own status, code, field
    /// and message; the server's own faults (500, and errors that describe nothing) get a
    /// generic message — the details are in the log.
    static func apiError(for error: any Error) -> APIError {
        if error is CancellationError {
            return APIError(
                .init(code: 499, reasonPhrase: "Client Closed Request"), code: "cancelled", message: "the request was cancelled")
        }
        guard let failure = error as? any UserFacingError, !failure.isInternal else {
            return APIError(.internalServerError, code: "internal_error", message: "the job failed on the server; see its log")
        }
        return APIError(
            .init(code: failure.httpStatus, reasonPhrase: Self.reasonPhrase(failure.httpStatus)), code: failure.code,
            message: failure.message, field: failure.field)
    }

    /// The standard reason phrase of the statuses errors use.
    static func reasonPhrase(_ code: Int) -> String {
        let known: [HTTPResponse.Status] = [
            .badRequest, .forbidden, .notFound, .conflict, .contentTooLarge, .unprocessableContent, .tooManyRequests,
            .badGateway, .serviceUnavailable, .gatewayTimeout, .insufficientStorage,
        ]
        return known.first { $0.code == code }?.reasonPhrase ?? ""
    }
}
