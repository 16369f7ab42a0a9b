import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What went wrong with a socket, for a person: the system's words for the error (no NIO internals),
/// with what usually causes it on a Unix socket.
enum SocketErrorText {
    /// Why connecting to a Unix socket failed.
    static func connect(_ error: any Error) -> String {
        if case ChannelError.connectTimeout(let timeout) = error {
            return "no connection within \(timeout.nanoseconds / 1_000_000) ms (the server's backlog is full)"
        }
        guard let code = Self.errno(of: error) else { return "\(error)" }
        let words = Self.words(code)
        switch code {
        case ENOENT: return "\(words) (is feedbackd running, and is this its --socket or FEEDBACK_SOCKET?)"
        case ECONNREFUSED: return "\(words) (a socket file with no server behind it: feedbackd stopped)"
        case EACCES, EPERM: return "\(words) (the socket's mode or its directory keeps this user out: join its group)"
        case EAGAIN: return "\(words) (the server's backlog is full)"
        default: return words
        }
    }

    /// Why binding or listening on a Unix socket failed.
    static func bind(_ error: any Error) -> String {
        guard let code = Self.errno(of: error) else { return "\(error)" }
        return Self.bind(errno: code)
    }

    /// Why binding or listening on a Unix socket failed with `code`.
    static func bind(errno code: Int32) -> String {
        let words = Self.words(code)
        switch code {
        case ENOENT: return "\(words) (its directory does not exist: create it, or give another --socket)"
        case EACCES, EPERM: return "\(words) (this user may not create files in its directory)"
        default: return words
        }
    }

    /// The errno a NIO or system error carries.
    static func errno(of error: any Error) -> Int32? {
        (error as? IOError)?.errnoCode
    }

    /// The C library's text for `code`, lower-cased as a clause: "no such file or directory".
    static func words(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        guard let first = text.first else { return "error \(code)" }
        return first.lowercased() + text.dropFirst()
    }
}
