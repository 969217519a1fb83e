/// A capture file could not be opened, or reading stopped early. `frame` is the last good frame number, `offset` the
/// byte offset in the file where the problem starts (when known).
public struct CaptureError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case cannotOpen = "cannot_open"
        case notACapture = "not_a_capture"
        case unsupportedVersion = "unsupported_version"
        case truncated = "truncated"
        case corrupt = "corrupt"
        case filter = "filter"
        case libpcap = "libpcap"
    }
    public var kind: Kind
    public var path: String
    public var offset: Int?
    public var frame: Int?
    public var message: String

    public init(_ kind: Kind, path: String, offset: Int? = nil, frame: Int? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.offset = offset
        self.frame = frame
        self.message = message
    }

    /// One line: "FILE: message (at byte N, after frame M)".
    public var description: String {
        var where_: [String] = []
        if let offset { where_.append("at byte \(offset)") }
        if let frame { where_.append("after frame \(frame)") }
        return "\(path): \(message)" + (where_.isEmpty ? "" : " (" + where_.joined(separator: ", ") + ")")
    }
}

/// How reading a capture ended.
public enum CaptureEnd: Sendable, Equatable {
    case complete
    /// Reading stopped early; everything delivered before is valid.
    case failed(CaptureError)
}
