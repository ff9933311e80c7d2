internal import CONNXRuntime
import Logging
import Synchronization

/// The ONNX Runtime C API table, fetched once per process at the API version our headers
/// declare. Every `OrtStatus` is turned into an `InferenceError` and released here.
struct ORTRuntime: @unchecked Sendable {
    let api: OrtApi

    /// `nil` message when the library cannot serve our header version (library older
    /// than the headers): reported as `InferenceError.runtimeUnavailable`.
    static let shared: Result<ORTRuntime, InferenceError> = {
        guard let base = OrtGetApiBase() else {
            return .failure(.runtimeUnavailable("OrtGetApiBase returned nothing"))
        }
        guard let api = base.pointee.GetApi(UInt32(ORT_API_VERSION)) else {
            let version = base.pointee.GetVersionString().map { String(cString: $0) } ?? "unknown"
            return .failure(
                .runtimeUnavailable(
                    "library version \(version) does not serve C API version \(ORT_API_VERSION)"))
        }
        return .success(ORTRuntime(api: api.pointee))
    }()

    static func get() throws -> ORTRuntime { try shared.get() }

    /// The library's own version string, e.g. "1.31.1".
    var version: String {
        guard let base = OrtGetApiBase(), let cString = base.pointee.GetVersionString() else { return "unknown" }
        return String(cString: cString)
    }

    /// Converts an ORT status to a Swift error, releasing the status.
    func check(_ status: OpaquePointer?) throws {
        guard let status else { return }
        defer { api.ReleaseStatus(status) }
        let code = Int(api.GetErrorCode(status).rawValue)
        let message = api.GetErrorMessage(status).map { String(cString: $0) } ?? "unknown error"
        throw InferenceError.runtime(code: code, message: message)
    }

    /// Names of the execution providers compiled into the loaded library.
    func availableProviders() throws -> [String] {
        var list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        var count: Int32 = 0
        try check(api.GetAvailableProviders(&list, &count))
        guard let list else { return [] }
        defer { _ = api.ReleaseAvailableProviders(list, count) }
        return (0..<Int(count)).compactMap { list[$0].map { String(cString: $0) } }
    }
}

/// Routes ONNX Runtime's log messages into swift-log.
///
/// ORT keeps one process-wide environment whose logger is fixed when it is first created,
/// so the sink is process-wide too: a lock-protected logger that the latest
/// `InferenceEnvironment` installs. It is the one global in this module and exists only
/// because the C callback has nowhere else to deliver to.
enum ORTLogSink {
    static let logger = Mutex<Logger?>(nil)

    static let callback: OrtLoggingFunction = { _, severity, category, _, location, message in
        guard let message else { return }
        let level: Logger.Level
        switch severity {
        case ORT_LOGGING_LEVEL_VERBOSE: level = .trace
        case ORT_LOGGING_LEVEL_INFO: level = .debug
        case ORT_LOGGING_LEVEL_WARNING: level = .warning
        case ORT_LOGGING_LEVEL_ERROR: level = .error
        default: level = .critical
        }
        let text = String(cString: message)
        let categoryText = category.map { String(cString: $0) } ?? ""
        let locationText = location.map { String(cString: $0) } ?? ""
        ORTLogSink.logger.withLock { logger in
            logger?.log(
                level: level, "\(text)",
                metadata: ["onnxruntime": "\(categoryText)", "at": "\(locationText)"])
        }
    }
}
