import Storage

// Storage URI parsing (`StorageURI(parsing:)`), for `user_video_gs` / `output_video_gs`
// (docs/fuzzing.md, `fuzz-storage-uri`). The input is the URI's UTF-8 (invalid sequences
// become U+FFFD, as a JSON string cannot carry them). What is accepted must name what it
// says: bucket and object within Cloud Storage's rules, and parsing the URI's description
// again gives the same URI.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStorageURI(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let uri = try? StorageURI(parsing: text) else { return 0 }
    switch uri {
    case .gcs(let bucket, let object):
        check(bucket.utf8.count >= 3 && bucket.utf8.count <= 222, "bucket '\(bucket)' of \(bucket.utf8.count) bytes", text)
        check(
            bucket.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) },
            "bucket '\(bucket)' has characters Cloud Storage refuses", text)
        check(!object.isEmpty && object.utf8.count <= 1024 && object != "." && object != "..", "object name '\(object)'", text)
        check(!object.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "object name with control characters", text)
    case .local(let path):
        check(!path.isEmpty && !path.contains("\0"), "local path '\(path)'", text)
        check(
            !path.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F },
            "local path \(path.debugDescription) has control characters", text)
    case .https(let url):
        check(url.host.map { !$0.isEmpty } ?? false, "https URL without a host", text)
        check(url.user == nil && url.password == nil, "https URL with credentials", text)
    }
    // The description is what logs and answers show, and what a client may send back. (Foundation
    // percent-encodes what URL(string:) accepts unencoded — U+FFFD becomes 9 bytes — so an
    // https URL near the limit may describe itself in more than maxLength bytes.)
    guard uri.description.utf8.count <= StorageURI.maxLength else { return 0 }
    switch (uri, try? StorageURI(parsing: uri.description)) {
    case (.https(let url), .https(let again)?):
        check(url.absoluteString == again.absoluteString, "'\(url.absoluteString)' re-parses as '\(again.absoluteString)'", text)
    case (_, let again?):
        check(again == uri, "'\(uri.description)' re-parses as \(again)", text)
    case (_, nil):
        check(false, "the description '\(uri.description.debugDescription)' of \(uri) does not parse again", text)
    }
    return 0
}

func check(_ condition: Bool, _ message: @autoclosure () -> String, _ input: String) {
    if !condition { fatalError("fuzz invariant violated for input \(input.debugDescription): \(message())") }
}
