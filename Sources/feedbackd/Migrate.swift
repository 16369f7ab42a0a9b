import ArgumentParser
import FeedbackPostgres
import FeedbackVersion
import Foundation
import Logging

/// `feedbackd migrate`: the schema step of a PostgreSQL deployment, run by its owner.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedbackd migrate",
        abstract: "Create or upgrade feedbackd's tables in PostgreSQL (feedback_events), then exit.",
        discussion: """
            Run it once per deployment and after each upgrade, as a role that may create tables (the \
            schema's owner); feedbackd itself never changes the schema, so it can run as a role with \
            only these grants (--grant-to runs them):

            \(PostgresMigrator.grants(to: "feedback").map { "  \($0);" }.joined(separator: "\n"))

            Idempotent and versioned: the migrations applied are recorded in feedback_schema_migrations, \
            and two runs at once apply each migration once. interactions(id, feedback) is the chat \
            backend's table: it is never created.

            Example:
              feedbackd migrate --postgres-url 'postgres://chat_owner@db.internal/chat?sslmode=verify-full' \\
                --grant-to feedback
            """,
        version: FeedbackVersion.current
    )

    @Option(help: ArgumentHelp("The database, as for feedbackd --postgres-url, reached as a role that may create tables.", valueName: "url"))
    var postgresUrl: String

    @Option(help: ArgumentHelp("File holding the PostgreSQL password (a trailing newline is ignored). Or set PGPASSWORD.", valueName: "path"))
    var postgresPasswordFile: String?

    @Option(help: ArgumentHelp("Also grant this role what feedbackd needs (the statements above).", valueName: "role"))
    var grantTo: String?

    func validate() throws {
        try StorageOptions.validate(postgresURL: self.postgresUrl)
        if let role = self.grantTo, role.lowercased() == "public" {
            throw ValidationError("--grant-to public would grant every role what feedbackd needs: name feedbackd's own role")
        }
    }

    func run() async throws {
        var logger = Logger(label: "feedbackd.migrate")
        logger.logLevel = .warning
        let warn = { (message: String) in FileHandle.standardError.write(Data("feedbackd migrate: warning: \(message)\n".utf8)) }
        do {
            let configuration = try StorageOptions.postgresConfiguration(url: self.postgresUrl, passwordFile: self.postgresPasswordFile, warn: warn)
            let outcome = try await PostgresMigrator.run(configuration: configuration, grantTo: self.grantTo, logger: logger)
            if outcome.applied.isEmpty {
                print("schema up to date (\(configuration.description))")
            } else {
                for migration in outcome.applied { print("applied migration \(migration) (\(configuration.description))") }
            }
            for grant in outcome.granted { print("\(grant);") }
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("feedbackd migrate: \(error)\n".utf8))
            throw ExitCode(2)
        } catch {
            FileHandle.standardError.write(Data("feedbackd migrate: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
