import Foundation
import PackagePlugin

/// Writes `let buildVersion = "…"` for the target it is applied to: `git describe --tags --always --dirty`
/// of the package's checkout ("unknown" outside one), before every build. The file is rewritten only when
/// the version changed, so an unchanged tree rebuilds nothing.
@main
struct BuildVersionPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        let file = output.appending(path: "BuildVersion.swift")
        // Only characters a tag or a describe can hold reach the Swift string literal. safe.directory: a
        // checkout owned by another user (install.sh run as root over a user's clone) still answers.
        let script = """
            version=$(git -c safe.directory='*' -C "$1" describe --tags --always --dirty 2>/dev/null | tr -cd 'A-Za-z0-9._+-')
            text="let buildVersion = \\"${version:-unknown}\\""
            mkdir -p "$2"
            [ "$(cat "$3" 2>/dev/null)" = "$text" ] || printf '%s\\n' "$text" > "$3"
            """
        return [
            .prebuildCommand(
                displayName: "The version of this build (git describe)",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", script, "sh", context.package.directoryURL.path, output.path, file.path],
                outputFilesDirectory: output
            )
        ]
    }
}
