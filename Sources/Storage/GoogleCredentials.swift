public import AsyncHTTPClient
import Foundation
public import JWTKit
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Gives an OAuth2 access token for Cloud Storage requests.
public protocol AccessTokenProvider: Sendable {
    func accessToken() async throws -> String
}

/// Where Cloud Storage credentials come from, in Google's usual order:
/// `STORAGE_EMULATOR_HOST` (an emulator, no auth), `GOOGLE_APPLICATION_CREDENTIALS` (a
/// service-account key file), else the GCE/GKE metadata server (`GCE_METADATA_HOST` overrides
/// its address).
public enum GoogleCredentialSource: Sendable, Equatable, CustomStringConvertible {
    case emulator(endpoint: String)
    case serviceAccount(keyFile: String)
    case metadataServer(host: String)

    public static let scope = "https://www.googleapis.com/auth/devstorage.read_write"

    public init(environment: [String: String]) {
        if let host = environment["STORAGE_EMULATOR_HOST"], !host.isEmpty {
            let endpoint = host.contains("://") ? host : "http://" + host
            self = .emulator(endpoint: endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint)
        } else if let file = environment["GOOGLE_APPLICATION_CREDENTIALS"], !file.isEmpty {
            self = .serviceAccount(keyFile: file)
        } else {
            self = .metadataServer(host: environment["GCE_METADATA_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "metadata.google.internal")
        }
    }

    public var description: String {
        switch self {
        case .emulator(let endpoint): "emulator at \(endpoint) (STORAGE_EMULATOR_HOST, no auth)"
        case .serviceAccount(let file): "service account key \(file) (GOOGLE_APPLICATION_CREDENTIALS)"
        case .metadataServer(let host): "metadata server \(host)"
        }
    }
}

/// Fields of a service-account key file that the token exchange needs.
public struct ServiceAccountKey: Sendable, Decodable {
    public let type: String
    public let clientEmail: String
    public let privateKey: String
    public let privateKeyID: String?
    public let tokenURI: String

    enum CodingKeys: String, CodingKey {
        case type
        case clientEmail = "client_email"
        case privateKey = "private_key"
        case privateKeyID = "private_key_id"
        case tokenURI = "token_uri"
    }

    public static func load(_ path: String) throws(StorageError) -> ServiceAccountKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .credentials(reason: "GOOGLE_APPLICATION_CREDENTIALS names \(path), which cannot be read")
        }
        let key: ServiceAccountKey
        do {
            key = try JSONDecoder().decode(ServiceAccountKey.self, from: data)
        } catch {
            throw .credentials(reason: "\(path) is not a service-account key file (\(Self.describe(error)))")
        }
        guard key.type == "service_account" else {
            throw .credentials(reason: "\(path) has type '\(key.type)'; only 'service_account' keys are supported")
        }
        guard (try? Insecure.RSA.PrivateKey(pem: key.privateKey)) != nil else {
            throw .credentials(reason: "the private_key in \(path) is not an RSA private key in PEM form")
        }
        return key
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        default: "not valid JSON"
        }
    }
}

/// The signed assertion of the OAuth2 JWT-bearer grant (RFC 7523) Google's token endpoint takes.
public struct GoogleAssertion: JWTPayload {
    public var iss: IssuerClaim
    public var scope: String
    public var aud: AudienceClaim
    public var iat: IssuedAtClaim
    public var exp: ExpirationClaim

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// A cached access token shared by concurrent callers: one fetch at a time, reused until
/// `refreshMargin` before it expires.
actor TokenCache {
    private var current: (token: String, expires: ContinuousClock.Instant)?
    private var pending: Task<(String, ContinuousClock.Instant), any Error>?
    let refreshMargin: Duration

    init(refreshMargin: Duration) { self.refreshMargin = refreshMargin }

    func token(fetch: @escaping @Sendable () async throws -> (token: String, lifetime: Duration)) async throws -> String {
        if let current, ContinuousClock.now + refreshMargin < current.expires { return current.token }
        if let pending { return try await pending.value.0 }
        let task = Task { () throws -> (String, ContinuousClock.Instant) in
            let started = ContinuousClock.now
            let (token, lifetime) = try await fetch()
            return (token, started + lifetime)
        }
        pending = task
        defer { pending = nil }
        let fresh = try await task.value
        current = fresh
        return fresh.0
    }
}

/// Decodes a token endpoint's answer (`access_token`, `expires_in`) or its OAuth2 error.
struct TokenResponse: Decodable {
    let accessToken: String
    let expiresIn: Int
    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case expiresIn = "expires_in"
    }

    static func read(_ response: HTTPClientResponse, from endpoint: String) async throws -> (token: String, lifetime: Duration) {
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            struct OAuthError: Decodable {
                let error: String?
                let error_description: String?
            }
            let detail =
                (try? JSONDecoder().decode(OAuthError.self, from: Data(buffer: body)))
                .map { [$0.error, $0.error_description].compactMap { $0 }.joined(separator: ": ") } ?? ""
            throw StorageError.credentials(
                reason: "token endpoint \(endpoint) answered HTTP \(response.status.code)" + (detail.isEmpty ? "" : " (\(detail))"))
        }
        guard let parsed = try? JSONDecoder().decode(TokenResponse.self, from: Data(buffer: body)), !parsed.accessToken.isEmpty else {
            throw StorageError.credentials(reason: "token endpoint \(endpoint) gave no access_token")
        }
        return (parsed.accessToken, .seconds(max(parsed.expiresIn, 0)))
    }
}

/// Service-account flow: an RS256-signed JWT exchanged at the key's `token_uri` for an access
/// token, cached until shortly before it expires.
public struct ServiceAccountTokenProvider: AccessTokenProvider {
    public let key: ServiceAccountKey
    let client: HTTPClient
    let cache: TokenCache
    let keys: JWTKeyCollection

    public init(key: ServiceAccountKey, client: HTTPClient, refreshMargin: Duration = .seconds(300)) async throws {
        self.key = key
        self.client = client
        self.cache = TokenCache(refreshMargin: refreshMargin)
        self.keys = JWTKeyCollection()
        await keys.add(
            rsa: try Insecure.RSA.PrivateKey(pem: key.privateKey), digestAlgorithm: .sha256,
            kid: key.privateKeyID.map { JWKIdentifier(string: $0) })
    }

    public func accessToken() async throws -> String {
        try await cache.token { [key, client, keys] in
            let now = Date()
            let assertion = GoogleAssertion(
                iss: .init(value: key.clientEmail), scope: GoogleCredentialSource.scope, aud: .init(value: key.tokenURI),
                iat: .init(value: now), exp: .init(value: now.addingTimeInterval(3600)))
            let jwt = try await keys.sign(assertion, kid: key.privateKeyID.map { JWKIdentifier(string: $0) })
            var request = HTTPClientRequest(url: key.tokenURI)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            let form = "grant_type=" + GCSName.queryEncoded("urn:ietf:params:oauth:grant-type:jwt-bearer") + "&assertion=" + jwt
            request.body = .bytes(ByteBuffer(string: form))
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .seconds(30))
            } catch {
                throw StorageError.credentials(reason: "token endpoint \(key.tokenURI) unreachable: \(error)")
            }
            return try await TokenResponse.read(response, from: key.tokenURI)
        }
    }
}

/// GCE/GKE metadata server: the default service account's token.
public struct MetadataServerTokenProvider: AccessTokenProvider {
    public let host: String
    let client: HTTPClient
    let cache: TokenCache

    public init(host: String, client: HTTPClient, refreshMargin: Duration = .seconds(300)) {
        self.host = host
        self.client = client
        self.cache = TokenCache(refreshMargin: refreshMargin)
    }

    public func accessToken() async throws -> String {
        try await cache.token { [host, client] in
            let url = "http://\(host)/computeMetadata/v1/instance/service-accounts/default/token"
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Metadata-Flavor", value: "Google")
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .seconds(3))
            } catch {
                throw StorageError.noCredentials(
                    reason:
                        "GOOGLE_APPLICATION_CREDENTIALS is not set, STORAGE_EMULATOR_HOST is not set, "
                        + "and no metadata server answered at \(host)"
                )
            }
            return try await TokenResponse.read(response, from: url)
        }
    }
}
