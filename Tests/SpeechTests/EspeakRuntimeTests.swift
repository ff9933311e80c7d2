import Foundation
import Media
import Speech
import Testing

@Suite struct EspeakRuntimeTests {
    @Test func startsAndReportsVersion() async throws {
        let info = try await EspeakRuntime.shared.start()
        #expect(info.version.first?.isNumber == true)
        #expect(info.sampleRate == 22050)
        #expect(!info.dataPath.isEmpty)
        // Starting again is a no-op returning the same facts.
        #expect(try await EspeakRuntime.shared.start() == info)
    }

    @Test func koreanAndEnglishVoicesAreInstalled() async throws {
        let korean = try await EspeakRuntime.shared.voices(forLanguage: "ko")
        #expect(korean.contains { $0.languages.contains("ko") })
        let english = try await EspeakRuntime.shared.voices(forLanguage: "en")
        #expect(english.contains { $0.languages.contains("en-us") })
    }

    /// A synthesis stopped mid-text (its job cancelled, or past its length limit) leaves
    /// espeak-ng's text reader holding the rest of a clause; the next phonemisation (Piper's
    /// input) must not start with it. (It did: "tˈiː həlˈoʊ" instead of "həlˈoʊ", which
    /// failed the Piper id test whenever a cancelled job ran just before it.)
    @Test func aStoppedSynthesisLeavesNothingForTheNextCall() async throws {
        let runtime = EspeakRuntime.shared
        let before = try await runtime.phonemes("Hello there, my friend.", voiceName: "en-us")
        let long = String(repeating: "This is a long sentence that goes on and on. ", count: 40)
        await #expect(throws: SpeechError.speechTooLong(limitSeconds: 1)) {
            try await runtime.synthesize(long, voiceName: "en-us", rate: 175, pitch: 50, maxSeconds: 1)
        }
        #expect(try await runtime.phonemes("Hello there, my friend.", voiceName: "en-us") == before)
    }

    @Test func unknownLanguageHasNoVoices() async throws {
        #expect(try await EspeakRuntime.shared.voices(forLanguage: "xx-nowhere").isEmpty)
    }
}

/// Voice names come from espeak-ng's own list; nothing else reaches the library (given an
/// unknown name it would open that name as a file), and synthesis stops with its task.
@Suite struct EspeakVoiceAllowlistTests {
    let engine = EspeakSynthesizer()

    @Test func installedNamesIdentifiersAndLanguagesAreAccepted() async throws {
        let korean = try #require(try await EspeakRuntime.shared.voices(forLanguage: "ko").first)
        for name in [korean.name, korean.identifier, "ko", "KO", "en-GB"] {
            let speech = try await engine.synthesize(text: "안녕", language: "ko", voice: name)
            #expect(speech.audio.duration > 0.1, "\(name)")
        }
    }

    /// A FIFO in the working directory, named as a request could name a voice: the old code
    /// made espeak-ng open it and block forever. Now the name is refused before any open.
    /// (A hang is caught by the time limit: the runtime is shared with suites that queue long
    /// syntheses on it, so how long this waits for its turn is not the measure.)
    @Test(.timeLimit(.minutes(5))) func pathsAndFilesAreRefusedWithoutBeingOpened() async throws {
        let fifo = "lipsync-test-voice-\(getpid())"
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        for name in [
            fifo, "./" + fifo, "../../../../../../dev/zero", "/dev/zero", "variants/../../\(fifo)", "en-us+" + fifo,
            String(repeating: "a", count: 5000),
        ] {
            await #expect(throws: SpeechError.voiceNotFound(engine: "espeak-ng", voice: name)) {
                try await engine.synthesize(text: "hello", language: "en", voice: name)
            }
        }
        // The Piper path (phonemes) selects voices through the same list.
        await #expect(throws: SpeechError.voiceNotFound(engine: "espeak-ng", voice: fifo)) {
            try await EspeakRuntime.shared.phonemes("hello", voiceName: fifo)
        }
    }

    @Test func errorMessageQuotesTheNameSafely() {
        let message = SpeechError.voiceNotFound(engine: "espeak-ng", voice: "a\u{1B}[31m" + String(repeating: "x", count: 200)).description
        #expect(!message.contains("\u{1B}") && message.count < 120)
    }

    @Test func synthesisStopsAtItsAudioLimit() async throws {
        let text = String(repeating: "this sentence is spoken again and again. ", count: 4)
        await #expect(throws: SpeechError.speechTooLong(limitSeconds: 0.5)) {
            try await EspeakRuntime.shared.synthesize(text, voiceName: "en-us", rate: 80, pitch: 50, maxSeconds: 0.5)
        }
        // The runtime is usable afterwards.
        let after = try await EspeakRuntime.shared.synthesize("hello", voiceName: "en-us", rate: 175, pitch: 50)
        #expect(after.duration > 0.2)
    }

    /// Cancellation reaches espeak-ng's audio callback, which stops the call.
    @Test func synthesisStopsWhenItsTaskIsCancelled() async throws {
        let text = String(repeating: "a long sentence that keeps the engine busy for quite a while. ", count: 3)
        let task = Task {
            // Cancelled before the actor runs it: the first audio block sees the cancellation.
            withUnsafeCurrentTask { $0?.cancel() }
            return try await EspeakRuntime.shared.synthesize(text, voiceName: "en-us", rate: 80, pitch: 50)
        }
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}
