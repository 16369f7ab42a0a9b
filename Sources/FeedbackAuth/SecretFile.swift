import Foundation

/// The HS256 secret held in a file (`feedbackd --jwt-secret-file`, `feedbackctl --secret-file`).
///
/// The secret is the file's bytes less every CR and LF at their end, so that `echo "$SECRET" > file`,
/// `printf %s "$SECRET" > file`, `head -c 48 /dev/urandom | base64 > file` and an editor that ends the
/// line with CRLF all hold the secret the issuer signs with. Nothing else is removed: spaces, tabs and
/// line breaks before or inside the secret are part of it, and any bytes are allowed, not only UTF-8.
public enum SecretFile {
    /// The secret in a file's `contents`.
    public static func secret(fromContents contents: some BidirectionalCollection<UInt8>) -> [UInt8] {
        let end = contents.lastIndex { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        return end.map { Array(contents[...$0]) } ?? []
    }

    /// Reads the secret in the file at `path`.
    /// - Throws: the error reading the file (missing, unreadable).
    public static func read(_ path: String) throws -> [UInt8] {
        try Self.secret(fromContents: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Whether users other than the file's owner and group may read the file at `path` (its mode has
    /// the "others may read" bit): a secret there is no secret. False when the file cannot be examined.
    public static func isReadableByOthers(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return info.st_mode & S_IROTH != 0
    }
}
