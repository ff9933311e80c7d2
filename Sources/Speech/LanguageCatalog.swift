import Foundation

/// Maps the language codes clients send (gTTS style: `ko`, `en`, `en-us`, `ja`, `zh-CN`…)
/// to espeak-ng voice names.
public enum LanguageCatalog {
    /// Codes whose espeak-ng voice is not simply the code itself. gTTS's `en` speaks
    /// American English and its `pt` Brazilian Portuguese; espeak-ng names Mandarin `cmn`
    /// and Cantonese `yue`.
    static let aliases: [String: String] = [
        "en": "en-us", "en-uk": "en-gb", "en-au": "en-us", "en-ca": "en-us", "en-in": "en-gb",
        "zh": "cmn", "zh-cn": "cmn", "zh-hans": "cmn", "zh-tw": "cmn", "zh-hant": "cmn",
        "zh-hk": "yue", "pt": "pt-br", "pt-pt": "pt", "fr": "fr-fr", "fr-ca": "fr-fr",
        "es-es": "es", "es-us": "es-419", "es-mx": "es-419", "iw": "he", "jw": "jv", "tl": "fil",
    ]

    /// Normalises a client code: lower case, `_` → `-`, surrounding space removed.
    public static func normalise(_ code: String) -> String {
        code.trimmingWhitespace().lowercased().replacingOccurrences(of: "_", with: "-")
    }

    /// The espeak-ng language for `code` among `available` (the installed voices'
    /// languages), trying the alias, the code itself, then its primary subtag.
    static func espeakLanguage(for code: String, available: Set<String>) -> String? {
        let normalised = normalise(code)
        var candidates: [String] = []
        if let alias = aliases[normalised] { candidates.append(alias) }
        candidates.append(normalised)
        if let primary = normalised.split(separator: "-").first.map(String.init), primary != normalised {
            if let alias = aliases[primary] { candidates.append(alias) }
            candidates.append(primary)
        }
        return candidates.first { available.contains($0) }
    }

    /// Client codes accepted, given the installed espeak-ng languages: every installed
    /// language plus the aliases that resolve to one.
    static func supportedCodes(available: Set<String>) -> [String] {
        var codes = available
        for (alias, target) in aliases where available.contains(target) { codes.insert(alias) }
        return codes.sorted()
    }
}
