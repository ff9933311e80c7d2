public import AsyncHTTPClient
public import Inference
import Logging
public import Speech

/// Builds the speech engines the configuration asks for.
public enum SpeechSetup {
    /// espeak-ng always; Piper when `PIPER_VOICES_DIR` is set (every voice there is loaded
    /// and checked now); Google when `GOOGLE_TTS_API_KEY` is set; gTTS (Google Translate's
    /// public endpoint) only when `GTTS_ENABLED` is true.
    public static func makeService(_ configuration: Configuration, environment: InferenceEnvironment, httpClient: HTTPClient) throws
        -> SpeechService
    {
        let settings = configuration.speech
        var engines: [any SpeechSynthesizer] = [EspeakSynthesizer(rate: settings.espeakRate, pitch: settings.espeakPitch)]
        if let directory = settings.piperVoicesDirectory {
            engines.append(
                try PiperSynthesizer(
                    directory: directory, environment: environment, options: configuration.sessionOptions(varyingShapes: true)))
        }
        if let key = settings.googleAPIKey {
            engines.append(
                GoogleSpeechSynthesizer(
                    client: httpClient, credentials: .apiKey(key), endpoint: settings.googleEndpoint,
                    timeout: .seconds(settings.googleTimeoutSeconds)))
        }
        if settings.gttsEnabled {
            engines.append(
                GTTSSynthesizer(
                    client: httpClient, endpoint: settings.gttsEndpoint, timeout: .seconds(settings.gttsTimeoutSeconds),
                    temporaryDirectory: configuration.storage.temporaryDirectory))
        }
        return try SpeechService(
            engines: engines, defaultEngine: settings.defaultEngine, fallbackToEspeak: settings.fallbackToEspeak,
            textLimit: settings.maxCharacters)
    }
}
