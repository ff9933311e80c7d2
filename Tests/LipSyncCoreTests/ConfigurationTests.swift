import Inference
import LipSyncCore
import Testing

@Suite struct ConfigurationTests {
    @Test func defaults() throws {
        let configuration = try Configuration.fromEnvironment([:])
        #expect(configuration.logLevel == .info)
        #expect(configuration.libraryLogLevel == .warning)
        #expect(configuration.executionProviders == [.cuda, .cpu])
        #expect(configuration.intraOpThreads == 0)
    }

    @Test func readsEnvironment() throws {
        let configuration = try Configuration.fromEnvironment([
            "LOG_LEVEL": "DEBUG", "LIBRARY_LOG_LEVEL": "error", "EXECUTION_PROVIDERS": " cpu ", "INTRA_OP_THREADS": "2",
        ])
        #expect(configuration.logLevel == .debug)
        #expect(configuration.libraryLogLevel == .error)
        #expect(configuration.executionProviders == [.cpu])
        #expect(configuration.intraOpThreads == 2)
        #expect(configuration.sessionOptions.providers == [.cpu])
    }

    @Test(arguments: [
        ("LOG_LEVEL", "loud", "LOG_LEVEL=loud is invalid: expected one of trace, debug, info, notice, warning, error, critical"),
        ("EXECUTION_PROVIDERS", "tpu,cpu", "EXECUTION_PROVIDERS=tpu,cpu is invalid: expected providers from cuda, cpu"),
        ("EXECUTION_PROVIDERS", " , ", "EXECUTION_PROVIDERS= ,  is invalid: expected a list such as cuda,cpu"),
        ("INTRA_OP_THREADS", "-1", "INTRA_OP_THREADS=-1 is invalid: expected an integer from 0 to 1024"),
        ("INTRA_OP_THREADS", "four", "INTRA_OP_THREADS=four is invalid: expected an integer from 0 to 1024"),
    ])
    func invalidValuesNameTheVariable(variable: String, value: String, message: String) {
        let error = #expect(throws: ConfigurationError.self) { try Configuration.fromEnvironment([variable: value]) }
        #expect(error?.description == message)
    }
}
