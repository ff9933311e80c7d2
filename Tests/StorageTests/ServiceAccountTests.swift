import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import NIOCore
import Synchronization
import Testing
import _CryptoExtras

@testable import Storage

/// A local OAuth2 token endpoint that verifies the JWT-bearer assertion with the public half
/// of a key pair the test generated, and a GCS metadata route that checks the bearer token.
final class TokenEndpoint: Sendable {
    let publicKeyPEM: String
    let lifetime: Int
    let tokenRequests = Mutex(0)
    let claims = Mutex<[GoogleAssertion]>([])
    let authorizations = Mutex<[String]>([])

    init(publicKeyPEM: String, lifetime: Int = 3600) {
        self.publicKeyPEM = publicKeyPEM
        self.lifetime = lifetime
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/token") { request, _ -> Response in
            let form = String(buffer: try await request.body.collect(upTo: 1 << 20))
            let fields = Dictionary(
                form.split(separator: "&").map { pair -> (String, String) in
                    let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                    return (parts[0], parts.count > 1 ? parts[1] : "")
                }, uniquingKeysWith: { $1 })
            let number = self.tokenRequests.withLock {
                $0 += 1
                return $0
            }
            guard fields["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer", let assertion = fields["assertion"] else {
                return Self.json(.badRequest, #"{"error":"unsupported_grant_type"}"#)
            }
            let keys = JWTKeyCollection()
            await keys.add(rsa: try Insecure.RSA.PublicKey(pem: self.publicKeyPEM), digestAlgorithm: .sha256)
            do {
                let verified = try await keys.verify(assertion, as: GoogleAssertion.self)
                self.claims.withLock { $0.append(verified) }
            } catch {
                return Self.json(.badRequest, #"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#)
            }
            return Self.json(.ok, #"{"access_token":"token-\#(number)","expires_in":\#(self.lifetime),"token_type":"Bearer"}"#)
        }
        router.get("/storage/v1/b/:bucket/o/:object") { request, context -> Response in
            let authorization = request.headers[.authorization] ?? ""
            self.authorizations.withLock { $0.append(authorization) }
            guard authorization.hasPrefix("Bearer token-") else {
                return Self.json(.unauthorized, #"{"error":{"message":"Login Required"}}"#)
            }
            let object = context.parameters.get("object") ?? ""
            return Self.json(.ok, #"{"name":"\#(object)","bucket":"b","generation":"42","size":"1"}"#)
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    func run(_ body: @Sendable (String) async throws -> Void) async throws {
        try await application().test(.live) { client in
            try await body("http://127.0.0.1:\(try #require(client.port))")
        }
    }
}

@Suite struct ServiceAccountTests {
    static func keyFile(privateKeyPEM: String, tokenURI: String, type: String = "service_account") throws -> String {
        let json: [String: String] = [
            "type": type, "project_id": "p", "private_key_id": "kid-1", "private_key": privateKeyPEM,
            "client_email": "lipsync@p.iam.gserviceaccount.com", "token_uri": tokenURI,
        ]
        let path = NSTemporaryDirectory() + "sa-\(UUID()).json"
        try JSONEncoder().encode(json).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func signedAssertionIsVerifiedAndTheTokenCached() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let endpoint = TokenEndpoint(publicKeyPEM: key.publicKey.pemRepresentation)
        try await endpoint.run { base in
            let file = try Self.keyFile(privateKeyPEM: key.pemRepresentation, tokenURI: base + "/token")
            defer { try? FileManager.default.removeItem(atPath: file) }
            let store = try await GoogleCloudStore.make(
                source: .serviceAccount(keyFile: file), settings: .init(endpoint: base), client: .shared)
            #expect(try await store.metadata(bucket: "b", object: "o1")?.generation == "42")
            #expect(try await store.metadata(bucket: "b", object: "o2")?.generation == "42")
        }
        #expect(endpoint.tokenRequests.withLock { $0 } == 1)
        #expect(endpoint.authorizations.withLock { $0 } == ["Bearer token-1", "Bearer token-1"])
        let claims = try #require(endpoint.claims.withLock { $0.first })
        #expect(claims.iss.value == "lipsync@p.iam.gserviceaccount.com")
        #expect(claims.scope == "https://www.googleapis.com/auth/devstorage.read_write")
        #expect(claims.aud.value.first?.hasSuffix("/token") == true)
        #expect(abs(claims.exp.value.timeIntervalSince(claims.iat.value) - 3600) < 1)
    }

    @Test func tokenCloseToExpiryIsRefreshed() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let endpoint = TokenEndpoint(publicKeyPEM: key.publicKey.pemRepresentation, lifetime: 60)
        try await endpoint.run { base in
            let file = try Self.keyFile(privateKeyPEM: key.pemRepresentation, tokenURI: base + "/token")
            defer { try? FileManager.default.removeItem(atPath: file) }
            let provider = try await ServiceAccountTokenProvider(
                key: try ServiceAccountKey.load(file), client: .shared, refreshMargin: .seconds(300))
            #expect(try await provider.accessToken() == "token-1")
            #expect(try await provider.accessToken() == "token-2")
        }
    }

    @Test func assertionSignedWithAnotherKeyIsRefusedClearly() async throws {
        let trusted = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let endpoint = TokenEndpoint(publicKeyPEM: trusted.publicKey.pemRepresentation)
        try await endpoint.run { base in
            let file = try Self.keyFile(privateKeyPEM: other.pemRepresentation, tokenURI: base + "/token")
            defer { try? FileManager.default.removeItem(atPath: file) }
            let store = try await GoogleCloudStore.make(
                source: .serviceAccount(keyFile: file), settings: .init(endpoint: base), client: .shared)
            await #expect(
                throws: StorageError.credentials(
                    reason: "token endpoint \(base)/token answered HTTP 400 (invalid_grant: Invalid JWT Signature.)")
            ) {
                try await store.metadata(bucket: "b", object: "o")
            }
        }
    }

    @Test func brokenKeyFilesGetSpecificErrors() throws {
        let missing = NSTemporaryDirectory() + "none-\(UUID()).json"
        #expect(throws: StorageError.credentials(reason: "GOOGLE_APPLICATION_CREDENTIALS names \(missing), which cannot be read")) {
            try ServiceAccountKey.load(missing)
        }
        let garbage = NSTemporaryDirectory() + "garbage-\(UUID()).json"
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: garbage))
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        #expect(throws: StorageError.credentials(reason: "\(garbage) is not a service-account key file (not valid JSON)")) {
            try ServiceAccountKey.load(garbage)
        }

        let partial = NSTemporaryDirectory() + "partial-\(UUID()).json"
        try Data(#"{"type":"service_account","client_email":"a@b"}"#.utf8).write(to: URL(fileURLWithPath: partial))
        defer { try? FileManager.default.removeItem(atPath: partial) }
        #expect(throws: StorageError.credentials(reason: "\(partial) is not a service-account key file (missing field 'private_key')")) {
            try ServiceAccountKey.load(partial)
        }

        let user = try Self.keyFile(privateKeyPEM: "x", tokenURI: "https://oauth2.googleapis.com/token", type: "authorized_user")
        defer { try? FileManager.default.removeItem(atPath: user) }
        #expect(throws: StorageError.credentials(reason: "\(user) has type 'authorized_user'; only 'service_account' keys are supported")) {
            try ServiceAccountKey.load(user)
        }

        let badPEM = try Self.keyFile(
            privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", tokenURI: "https://oauth2.googleapis.com/token"
        )
        defer { try? FileManager.default.removeItem(atPath: badPEM) }
        #expect(throws: StorageError.credentials(reason: "the private_key in \(badPEM) is not an RSA private key in PEM form")) {
            try ServiceAccountKey.load(badPEM)
        }
    }

    @Test func credentialSourceFollowsGooglesOrder() {
        #expect(
            GoogleCredentialSource(environment: ["STORAGE_EMULATOR_HOST": "localhost:9023", "GOOGLE_APPLICATION_CREDENTIALS": "/k.json"])
                == .emulator(endpoint: "http://localhost:9023"))
        #expect(GoogleCredentialSource(environment: ["GOOGLE_APPLICATION_CREDENTIALS": "/k.json"]) == .serviceAccount(keyFile: "/k.json"))
        #expect(GoogleCredentialSource(environment: [:]) == .metadataServer(host: "metadata.google.internal"))
        #expect(GoogleCredentialSource(environment: ["GCE_METADATA_HOST": "127.0.0.1:8080"]) == .metadataServer(host: "127.0.0.1:8080"))
    }

    @Test func noMetadataServerMeansAClearNoCredentialsError() async throws {
        // Port 9 (discard) on loopback: nothing answers there.
        let provider = MetadataServerTokenProvider(host: "127.0.0.1:9", client: .shared)
        await #expect(
            throws: StorageError.noCredentials(
                reason:
                    "GOOGLE_APPLICATION_CREDENTIALS is not set, STORAGE_EMULATOR_HOST is not set, "
                    + "and no metadata server answered at 127.0.0.1:9"
            )
        ) {
            try await provider.accessToken()
        }
    }
}
