/// The version of this build, for `--version` and `feedback_build_info`.
public enum FeedbackVersion {
    /// `git describe --tags --always --dirty` of the source tree the binary was built from (a commit, and
    /// `-dirty` with uncommitted changes); "unknown" when it was built outside a git checkout. Written
    /// before each build by the `BuildVersion` plugin.
    public static let current: String = buildVersion
}
