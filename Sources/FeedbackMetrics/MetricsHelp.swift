/// The `# HELP` text of every metric family feedbackd and the gateway export: swift-metrics has no place
/// for it, so the endpoint adds the lines to the registry's text (``annotate(_:)``). One table for both
/// processes; README.md's table says the same in more words.
enum MetricsHelp {
    static let texts: [String: String] = [
        "feedback_rpc_calls_total": "Calls answered, by method and status code.",
        "feedback_rpc_call_duration_seconds": "Time from a call's request read to its response built, by method.",
        "feedback_rpc_calls_in_flight": "Calls being handled now.",
        "feedback_rpc_connections": "RPC connections open now.",
        "feedback_rpc_connections_refused_total": "Connections refused, by reason.",
        "feedback_rpc_handlers_abandoned_total": "Calls whose handler ignored its cancellation past the grace: answered UNKNOWN, handler left running.",
        "feedback_store_batch_size": "Ratings per group commit, by store.",
        "feedback_store_commit_duration_seconds": "Time to write one batch, its commit included, by store.",
        "feedback_store_work_left_behind": "PostgreSQL work the store gave up on that still runs.",
        "feedback_store_serving": "1 when writes are expected to succeed (health SERVING), else 0.",
        "feedback_watch_delivery_seconds": "Time from a commit to its events handed to a live-feed reader's connection.",
        "feedback_token_cache_lookups_total": "Token verifications by cache result (a miss is a signature check).",
        "feedback_gateway_requests_total": "HTTP requests answered by the gateway, by route and status.",
        "feedback_gateway_request_duration_seconds": "Time to answer an HTTP request, by route.",
        "feedback_gateway_upstream_errors_total": "Calls from the gateway to feedbackd that failed, by status name.",
        "feedback_gateway_upstream_queue_timeouts_total": "Requests answered 503 because no call slot to feedbackd came free in time.",
        "feedback_gateway_cors_refusals_total": "CORS preflights refused (origin not allowed).",
    ]

    /// For a family missing from the table: still a HELP line, naming what it is.
    static func text(for family: String) -> String {
        Self.texts[family] ?? "feedback-rpc metric \(family)."
    }

    /// The exposition `text` with a `# HELP` line before each `# TYPE` line that has none.
    static func annotate(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 64 * Self.texts.count)
        var previous: Substring = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), !previous.hasPrefix("# HELP ") {
                let family = line.dropFirst("# TYPE ".count).prefix { $0 != " " }
                out += "# HELP \(family) \(Self.text(for: String(family)))\n"
            }
            out += line
            out += "\n"
            previous = line
        }
        if out.hasSuffix("\n\n") { out.removeLast() }
        return out
    }
}
