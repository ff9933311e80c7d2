import Testing

@testable import Speech

@Suite struct LanguageCatalogTests {
    let installed: Set<String> = ["en-us", "en-gb", "en", "ko", "ja", "cmn", "yue", "de", "fr-fr", "es", "pt", "pt-br"]

    @Test(arguments: [
        ("ko", "ko"), ("en", "en-us"), ("en-US", "en-us"), ("en_GB", "en-gb"), ("ja", "ja"), ("zh-CN", "cmn"),
        ("zh-TW", "cmn"), ("zh-HK", "yue"), ("de", "de"), ("de-AT", "de"), ("fr", "fr-fr"), ("pt", "pt-br"), (" KO ", "ko"),
    ])
    func mapsClientCodes(code: String, espeak: String) {
        #expect(LanguageCatalog.espeakLanguage(for: code, available: installed) == espeak)
    }

    @Test func unknownCodes() {
        #expect(LanguageCatalog.espeakLanguage(for: "xx", available: installed) == nil)
        #expect(LanguageCatalog.espeakLanguage(for: "", available: installed) == nil)
    }

    @Test func supportedCodesIncludeAliases() {
        let codes = LanguageCatalog.supportedCodes(available: installed)
        #expect(codes.contains("ko") && codes.contains("zh-cn") && codes.contains("en"))
        #expect(codes == codes.sorted())
    }
}
