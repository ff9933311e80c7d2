import Composition
import FaceTracking
import Foundation
import Inference
import LipSync
import Logging
import Media
import Speech
import Storage
import TestFixtures
import Testing
import VoiceConversion

@Suite struct ConfigurationTests {
    @Test func defaults() throws {
        let configuration = try Configuration.fromEnvironment([:])
        #expect(configuration.logLevel == .info)
        #expect(configuration.libraryLogLevel == .warning)
        #expect(configuration.executionProviders == [.cuda, .cpu])
        #expect(configuration.intraOpThreads == 0)
        #expect(
            configuration.mediaLimits
                == MediaLimits(maxFileBytes: 100_000_000, maxDurationSeconds: 60, maxDimension: 4096, maxFrameCount: 3600))
    }

    /// Jobs' memory budget (default half the machine's, or the cgroup limit's) and the
    /// server's thread budget (cores shared out among the concurrent jobs).
    @Test func memoryAndThreadBudgets() throws {
        let defaults = try Configuration.fromEnvironment([:])
        #expect(defaults.maxJobMemoryBytes == SystemMemory.limit / 2 && defaults.maxJobMemoryBytes > 0)
        #expect(SystemMemory.limit <= Int(clamping: ProcessInfo.processInfo.physicalMemory))
        #expect(try Configuration.fromEnvironment(["MAX_JOB_MEMORY_BYTES": "4000000000"]).maxJobMemoryBytes == 4_000_000_000)
        #expect(throws: ConfigurationError.self) { try Configuration.fromEnvironment(["MAX_JOB_MEMORY_BYTES": "1000"]) }
        #expect(throws: ConfigurationError.self) { try Configuration.fromEnvironment(["MAX_JOB_MEMORY_BYTES": "lots"]) }

        var two = try Configuration.fromEnvironment(["MAX_CONCURRENT_JOBS": "2"])
        #expect(two.withServerThreadBudget(cores: 8).intraOpThreads == 4)
        #expect(two.withServerThreadBudget(cores: 2).intraOpThreads == 1)
        #expect(two.withServerThreadBudget(cores: 1).intraOpThreads == 1)
        two.intraOpThreads = 3  // set explicitly: kept
        #expect(two.withServerThreadBudget(cores: 8).intraOpThreads == 3)
        #expect(try Configuration.fromEnvironment([:]).sessionOptions().intraOpThreads == 0)  // the CLI: ONNX Runtime's default
    }

    @Test func mediaLimitsFromEnvironment() throws {
        let configuration = try Configuration.fromEnvironment([
            "MAX_INPUT_BYTES": "5000000", "MAX_DURATION_SECONDS": "20", "MAX_DIMENSION": "1920", "MAX_FRAMES": "600",
        ])
        #expect(
            configuration.mediaLimits
                == MediaLimits(maxFileBytes: 5_000_000, maxDurationSeconds: 20, maxDimension: 1920, maxFrameCount: 600))
        #expect(throws: ConfigurationError.invalid(variable: "MAX_DIMENSION", value: "8", expected: "an integer from 16 to 16384")) {
            try Configuration.fromEnvironment(["MAX_DIMENSION": "8"])
        }
    }

    @Test func readsEnvironment() throws {
        let configuration = try Configuration.fromEnvironment([
            "LOG_LEVEL": "DEBUG", "LIBRARY_LOG_LEVEL": "error", "EXECUTION_PROVIDERS": " cpu ", "INTRA_OP_THREADS": "2",
        ])
        #expect(configuration.logLevel == .debug)
        #expect(configuration.libraryLogLevel == .error)
        #expect(configuration.executionProviders == [.cpu])
        #expect(configuration.intraOpThreads == 2)
        #expect(configuration.sessionOptions().providers == [.cpu])
    }

    /// `fast` keeps ONNX Runtime's arena only for fixed-shape models; `lean` turns arena and
    /// patterns off everywhere; the models whose input follows the speech never keep an arena.
    @Test func modelMemoryChoosesTheArenaPerModel() throws {
        let fast = try Configuration.fromEnvironment([:])
        #expect(fast.modelMemory == .fast)
        #expect(fast.sessionOptions().memoryArena && fast.sessionOptions().memoryPattern)
        #expect(!fast.sessionOptions(varyingShapes: true).memoryArena && fast.sessionOptions(varyingShapes: true).memoryPattern)
        let lean = try Configuration.fromEnvironment(["MODEL_MEMORY": " Lean "])
        for varying in [false, true] {
            #expect(!lean.sessionOptions(varyingShapes: varying).memoryArena)
            #expect(!lean.sessionOptions(varyingShapes: varying).memoryPattern)
        }
        #expect(throws: ConfigurationError.self) { try Configuration.fromEnvironment(["MODEL_MEMORY": "huge"]) }
    }

    /// ONNX Runtime's threads sleep between runs unless `INTRA_OP_SPINNING` says otherwise;
    /// huge pages are off unless `HUGE_PAGES` allows them.
    @Test func spinningAndHugePagesAreOffByDefault() throws {
        let defaults = try Configuration.fromEnvironment([:])
        #expect(!defaults.intraOpSpinning && !defaults.hugePages)
        #expect(!defaults.sessionOptions().spinning && !defaults.sessionOptions(varyingShapes: true).spinning)
        let on = try Configuration.fromEnvironment(["INTRA_OP_SPINNING": "true", "HUGE_PAGES": "1"])
        #expect(on.intraOpSpinning && on.hugePages)
        #expect(on.sessionOptions().spinning && on.sessionOptions(varyingShapes: true).spinning)
        #expect(on.summary.contains { $0.variable == "INTRA_OP_SPINNING" && $0.value == "true" })
        #expect(on.summary.contains { $0.variable == "HUGE_PAGES" && $0.value == "true" })
        #expect(throws: ConfigurationError.self) { try Configuration.fromEnvironment(["INTRA_OP_SPINNING": "fast"]) }
        #expect(throws: ConfigurationError.self) { try Configuration.fromEnvironment(["HUGE_PAGES": "2M"]) }
    }

    /// The process turns transparent huge pages off for itself, and the kernel reports it so.
    @Test func processSetupTurnsHugePagesOff() {
        #expect(ProcessSetup.disableHugePages())
        #expect(ProcessSetup.hugePagesDisabled)
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

@Suite struct SpeechSettingsTests {
    /// gTTS (the original's engine) is opt-in: it sends the text to Google's public endpoint.
    @Test func gttsIsOptIn() throws {
        let off = try Configuration.fromEnvironment([:]).speech
        #expect(!off.gttsEnabled && off.gttsEndpoint == "https://translate.google.com" && off.gttsTimeoutSeconds == 10)
        let on = try Configuration.fromEnvironment([
            "GTTS_ENABLED": "true", "GTTS_ENDPOINT": "http://127.0.0.1:9", "GTTS_TIMEOUT_SECONDS": "3", "TTS_ENGINE": "gtts",
        ]).speech
        #expect(on.gttsEnabled && on.gttsEndpoint == "http://127.0.0.1:9" && on.gttsTimeoutSeconds == 3 && on.defaultEngine == .gtts)
        #expect(throws: ConfigurationError.self) { try Configuration.fromEnvironment(["TTS_ENGINE": "gtts"]) }
        #expect(throws: ConfigurationError.self) { try Configuration.fromEnvironment(["GTTS_ENDPOINT": "ftp://x"]) }
        #expect(throws: ConfigurationError.self) { try Configuration.fromEnvironment(["GTTS_TIMEOUT_SECONDS": "0"]) }
    }

    @Test func defaults() throws {
        let speech = try Configuration.fromEnvironment([:]).speech
        #expect(speech.defaultEngine == .espeak)
        #expect(speech.fallbackToEspeak)
        #expect(speech.maxCharacters == 200)
        #expect(speech.piperVoicesDirectory == nil && speech.googleAPIKey == nil)
    }

    @Test func readsEnvironment() throws {
        let speech = try Configuration.fromEnvironment([
            "TTS_ENGINE": "Piper", "PIPER_VOICES_DIR": "/voices", "TTS_FALLBACK": "no", "TTS_MAX_CHARACTERS": "80",
            "ESPEAK_RATE": "200", "ESPEAK_PITCH": "40", "GOOGLE_TTS_API_KEY": "k", "GOOGLE_TTS_TIMEOUT_SECONDS": "5",
        ]).speech
        #expect(speech.defaultEngine == .piper)
        #expect(speech.piperVoicesDirectory == "/voices")
        #expect(!speech.fallbackToEspeak)
        #expect(speech.maxCharacters == 80)
        #expect(speech.espeakRate == 200 && speech.espeakPitch == 40)
        #expect(speech.googleAPIKey == "k" && speech.googleTimeoutSeconds == 5)
    }

    @Test(arguments: [
        (["TTS_ENGINE": "festival"], "TTS_ENGINE=festival is invalid: expected one of espeak, piper, google, gtts"),
        (["TTS_ENGINE": "piper"], "TTS_ENGINE=piper is invalid: expected PIPER_VOICES_DIR to be set for the piper engine"),
        (["TTS_ENGINE": "google"], "TTS_ENGINE=google is invalid: expected GOOGLE_TTS_API_KEY to be set for the google engine"),
        (["TTS_FALLBACK": "maybe"], "TTS_FALLBACK=maybe is invalid: expected true or false"),
        (["ESPEAK_RATE": "1000"], "ESPEAK_RATE=1000 is invalid: expected an integer from 80 to 450"),
        (["GOOGLE_TTS_ENDPOINT": "ftp://x"], "GOOGLE_TTS_ENDPOINT=ftp://x is invalid: expected an http(s) URL"),
    ])
    func invalid(environment: [String: String], message: String) {
        let error = #expect(throws: ConfigurationError.self) { try Configuration.fromEnvironment(environment) }
        #expect(error?.description == message)
    }
}

@Suite struct StorageSettingsTests {
    /// With no credentials configured (the metadata-server fallback), readiness does not ask
    /// Cloud Storage: a host without a metadata server that uses local paths is ready.
    @Test func metadataFallbackDoesNotBlockReadiness() async throws {
        var configuration = try Configuration.fromEnvironment(["GCE_METADATA_HOST": "127.0.0.1:1"])
        configuration.storage.roots = [NSTemporaryDirectory()]
        let service = await StorageSetup.makeService(configuration)
        #expect(service.gcs != nil && !service.checksGCSReadiness)
        #expect(await service.readinessProblems(workspaceBase: NSTemporaryDirectory()).isEmpty)
        var emulator = try Configuration.fromEnvironment(["STORAGE_EMULATOR_HOST": "127.0.0.1:1"])
        emulator.storage.roots = [NSTemporaryDirectory()]
        let unreachable = await StorageSetup.makeService(emulator)
        #expect(unreachable.checksGCSReadiness)
        #expect(await unreachable.readinessProblems(workspaceBase: NSTemporaryDirectory()).count == 1)
        // A key file that cannot be used: gs:// is off, and the server says so until fixed.
        var broken = try Configuration.fromEnvironment(["GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"])
        broken.storage.roots = [NSTemporaryDirectory()]
        let misconfigured = await StorageSetup.makeService(broken)
        #expect(misconfigured.gcs == nil)
        let problems = await misconfigured.readinessProblems(workspaceBase: NSTemporaryDirectory())
        #expect(problems.count == 1 && problems[0].contains("/nonexistent/key.json"), "\(problems)")
    }

    @Test func defaults() throws {
        let settings = try Configuration.fromEnvironment([:]).storage
        #expect(settings.roots == [FileManager.default.currentDirectoryPath])
        #expect(!settings.httpsInput && settings.httpsAllowedHosts.isEmpty)
        #expect(settings.credentials == .metadataServer(host: "metadata.google.internal"))
    }

    @Test func readsEnvironment() throws {
        let settings = try Configuration.fromEnvironment([
            "STORAGE_ROOTS": "/srv/in:/srv/out", "TEMP_DIR": "/scratch", "HTTPS_INPUT": "yes",
            "HTTPS_INPUT_ALLOWED_HOSTS": "media.example.com, *.CDN.example.org", "HTTPS_INPUT_MAX_REDIRECTS": "1",
            "STORAGE_EMULATOR_HOST": "localhost:9023", "GOOGLE_APPLICATION_CREDENTIALS": "/keys/sa.json",
        ]).storage
        #expect(settings.roots == ["/srv/in", "/srv/out"])
        #expect(settings.temporaryDirectory == "/scratch")
        #expect(settings.httpsInput && settings.httpsMaxRedirects == 1)
        #expect(settings.httpsAllowedHosts == ["media.example.com", "*.cdn.example.org"])
        #expect(settings.credentials == .emulator(endpoint: "http://localhost:9023"))  // the emulator wins, as in Google's clients
    }

    @Test(arguments: [
        ("STORAGE_ROOTS", "relative/dir", "STORAGE_ROOTS=relative/dir is invalid: expected absolute folders separated by ':'"),
        ("TEMP_DIR", "tmp", "TEMP_DIR=tmp is invalid: expected an absolute folder"),
        ("HTTPS_INPUT", "maybe", "HTTPS_INPUT=maybe is invalid: expected true or false"),
        (
            "HTTPS_INPUT_ALLOWED_HOSTS", "http://x.com/",
            "HTTPS_INPUT_ALLOWED_HOSTS=http://x.com/ is invalid: expected host names such as media.example.com or *.example.com"
        ),
        ("GCS_TIMEOUT_SECONDS", "0", "GCS_TIMEOUT_SECONDS=0 is invalid: expected an integer from 1 to 3600"),
    ])
    func invalidValuesNameTheVariable(variable: String, value: String, message: String) {
        let error = #expect(throws: ConfigurationError.self) { try Configuration.fromEnvironment([variable: value]) }
        #expect(error?.description == message)
    }
}

@Suite struct JobDefaultsTests {
    @Test func defaultsAndEnvironment() throws {
        let plain = try Configuration.fromEnvironment([:]).lipSyncDefaults
        #expect(plain.tracking.mode == .keyframes(interval: 5) && plain.composite == .blend && plain.encoder.crf == 18)
        let configuration = try Configuration.fromEnvironment([
            "DEFAULT_TRACKING": "every", "DEFAULT_COMPOSITE": "replace", "DEFAULT_PADS": "1, 2, 3, 4", "DEFAULT_CRF": "23",
            "DEFAULT_PRESET": "Medium", "MAX_FRAMES": "100", "DEFAULT_VOICE_MODE": "none",
        ])
        #expect(configuration.jobDefaults.voiceMode == VoiceMode.none)
        let options = configuration.lipSyncDefaults
        #expect(options.tracking.mode == .every && options.composite == .replace)
        #expect(options.tracking.pads == Pads(top: 1, bottom: 2, left: 3, right: 4))
        #expect(options.encoder.crf == 23 && options.encoder.preset == "medium" && options.limits.maxFrameCount == 100)
        #expect(configuration.summary.contains { $0.variable == "DEFAULT_PADS" && $0.value == "1,2,3,4" })
    }

    @Test func precisionFromEnvironment() throws {
        #expect(try Configuration.fromEnvironment([:]).precision == .float32)
        let configuration = try Configuration.fromEnvironment(["DEFAULT_PRECISION": " INT8 "])
        #expect(configuration.precision == .int8 && configuration.precision.generatorKind == "wav2lip_int8")
        #expect(configuration.summary.contains { $0.variable == "DEFAULT_PRECISION" && $0.value == "int8" })
    }

    @Test(arguments: [
        ("DEFAULT_TRACKING", "sometimes", "DEFAULT_TRACKING=sometimes is invalid: expected every, keyframes or static"),
        ("DEFAULT_PADS", "1,2,3", "DEFAULT_PADS=1,2,3 is invalid: expected four numbers 0–500: top, bottom, left, right"),
        ("DEFAULT_VOICE_MODE", "clone", "DEFAULT_VOICE_MODE=clone is invalid: expected freevc or none"),
        ("DEFAULT_CRF", "52", "DEFAULT_CRF=52 is invalid: expected an integer from 0 to 51"),
        ("DEFAULT_PRECISION", "int4", "DEFAULT_PRECISION=int4 is invalid: expected float32, float16 or int8"),
        (
            "DEFAULT_PRESET", "warp",
            "DEFAULT_PRESET=warp is invalid: expected one of ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow"
        ),
    ])
    func invalidValuesNameTheVariable(variable: String, value: String, message: String) {
        let error = #expect(throws: ConfigurationError.self) { try Configuration.fromEnvironment([variable: value]) }
        #expect(error?.description == message)
    }

    @Test func summaryMasksSecrets() throws {
        let summary = try Configuration.fromEnvironment(["GOOGLE_TTS_API_KEY": "AIza-very-secret"]).summary
        #expect(summary.contains { $0.variable == "GOOGLE_TTS_API_KEY" && $0.value == "****** (set)" })
        #expect(!summary.contains { $0.value.contains("very-secret") })
    }
}

@Suite struct VoiceSetupTests {
    static var models: String { TestFixtures.models }

    /// float16 takes the float16 FreeVC models when the folder has them, and converts speech with them.
    @Test func float16UsesTheFloat16WavLMAndSynthesizer() throws {
        let manifest = try ModelManifest(directory: Self.models)
        #expect(VoiceSetup.kinds(manifest, precision: .float32) == ["wavlm", "freevc", "speaker_encoder", "speaker_mel"])
        #expect(VoiceSetup.kinds(manifest, precision: .float16) == ["wavlm_fp16", "freevc_fp16", "speaker_encoder_fp16", "speaker_mel"])
        // No int8 voice models in the folder: int8 keeps float32 for each of them.
        #expect(VoiceSetup.kinds(manifest, precision: .int8) == ["wavlm", "freevc", "speaker_encoder", "speaker_mel"])
        #expect(try manifest.entry("wavlm_fp16").precision == "float16")
        var configuration = Configuration(modelsDirectory: Self.models)
        configuration.executionProviders = [.cpu]
        let environment = try InferenceEnvironment(logger: Logger(label: "test.voice-setup"), runtimeLogLevel: .critical)
        let converter = try #require(
            try VoiceSetup.makeConverter(configuration, environment: environment, precision: .float16, logger: Logger(label: "test")))
        let reference = TestPattern.tone(frequency: 180, seconds: 2, sampleRate: 16_000)
        let embedding = try converter.speakerEmbedding(of: reference)
        let converted = try converter.convert(
            TestPattern.tone(frequency: 220, seconds: 1, sampleRate: 16_000), embedding: embedding, seed: 1, referenceRMS: 0.1)
        #expect(abs(converted.audio.duration - 1) < 0.05 && converted.audio.samples.allSatisfy(\.isFinite))
    }
}

@Suite struct PrecisionSetupTests {
    /// int8 needs the quantized generator: a folder without it is refused with what to run.
    @Test func int8WithoutTheQuantizedGeneratorSaysHowToMakeIt() throws {
        let models = NSTemporaryDirectory() + "precision-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: TestFixtures.models, toPath: models)
        defer { try? FileManager.default.removeItem(atPath: models) }
        let manifest = try ModelManifest(directory: models)
        if manifest.entries["wav2lip_int8"] != nil {
            // The fixtures may carry one; remove it from the copy's manifest.
            let path = models + "/manifest.json"
            var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            var entries = try #require(json["models"] as? [String: Any])
            entries["wav2lip_int8"] = nil
            json["models"] = entries
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        }
        var configuration = Configuration(modelsDirectory: models)
        configuration.executionProviders = [.cpu]
        let environment = try InferenceEnvironment(logger: Logger(label: "test.precision"), runtimeLogLevel: .critical)
        let error = #expect(throws: ModelManifestError.self) {
            try LipSyncSetup.makeRenderer(configuration, environment: environment, detector: .blazeface, precision: .int8)
        }
        #expect(error?.description.contains("has no 'wav2lip_int8' model") == true, "\(String(describing: error))")
        #expect(error?.description.contains("modelkit quantize") == true)
    }
}

@Suite struct Int8GeneratorTests {
    /// `--precision int8` loads `wav2lip_int8` (the fixtures' tiny generator quantized by
    /// `modelkit quantize`): the same inputs give faces close to float32's, not identical.
    @Test func int8GeneratorIsCloseToFloat32() throws {
        var configuration = Configuration(modelsDirectory: TestFixtures.models)
        configuration.executionProviders = [.cpu]
        let manifest = try ModelManifest(directory: TestFixtures.models)
        #expect(try manifest.entry("wav2lip_int8").precision == "int8")
        let environment = try InferenceEnvironment(logger: Logger(label: "test.int8"), runtimeLogLevel: .critical)
        let float32 = try LipSyncSetup.makeRenderer(configuration, environment: environment, detector: .blazeface)
        let int8 = try LipSyncSetup.makeRenderer(configuration, environment: environment, detector: .blazeface, precision: .int8)

        let photo = try StillImage.decode(TestFixtures.root + "/faces/astronaut.png", options: DecodeOptions(pixelFormat: .bgr24)).frame
        let boxes = [FaceBox(x1: 177, y1: 82, x2: 272, y2: 198), FaceBox(x1: 170, y1: 76, x2: 280, y2: 206)]
        let faces = try boxes.map { try float32.generator.faceCrop(photo, box: $0) }
        let mel = try float32.melFrontEnd.spectrogram(of: TestPattern.tone(frequency: 180, seconds: 1, sampleRate: 16_000))
        let mels = [mel.chunk(at: 0), mel.chunk(at: 40)]
        let expected = try float32.generator.generate(faces: faces, mels: mels)
        let actual = try int8.generator.generate(faces: faces, mels: mels)
        #expect(actual.count == 2)
        var total = 0
        var count = 0
        for (a, b) in zip(expected, actual) {
            for (x, y) in zip(a.pixels, b.pixels) { total += abs(Int(x) - Int(y)) }
            count += a.pixels.count
        }
        let mean = Double(total) / Double(count)
        // modelkit's own test measured 3.6 grey levels on this tiny model (docs/modelkit.md, "Int8 variants").
        #expect(mean > 0 && mean < 8, "mean |Δ| \(mean) grey levels")
    }
}
