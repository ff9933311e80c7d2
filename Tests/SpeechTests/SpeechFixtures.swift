import Foundation
import Inference
import Logging
import TestFixtures

/// Stand-in Piper voices written by `make fixtures` (tools/modelkit piper-standin).
enum SpeechFixtures {
    static var piperDirectory: String {
        let root =
            TestFixtures.root
        return root + "/piper"
    }

    struct Expected: Decodable {
        struct Phrase: Decodable {
            let voice: String
            let text: String
            let phonemes: [String]
            let ids: [[Int64]]
        }
        let samples_per_id: Int
        let sample_rate: Int
        let phrases: [Phrase]
    }

    static func expected() throws -> Expected {
        let path = piperDirectory + "/expected_ids.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path + " (run `make fixtures`)"])
        }
        return try JSONDecoder().decode(Expected.self, from: data)
    }

    static var environment: InferenceEnvironment { TestFixtures.inference }
}
